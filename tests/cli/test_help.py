"""Every command's help names its options: the CLI a person reads matches the one that runs."""

from __future__ import annotations

import re

import pytest

from tests.helpers import cli

# The options each command must offer (beyond --help).
OPTIONS = {
    "run": [
        "--storage",
        "--n-trials",
        "--timeout",
        "--artifacts",
        "--workers",
        "--gpus",
        "--trials-per-gpu",
        "--recycle-after",
        "--quiet",
        "--log-format",
        "--enqueue",
    ],
    "worker": [
        "--storage",
        "--n-trials",
        "--timeout",
        "--artifacts",
        "--index",
        "--max-trials",
        "--max-rss-mb",
        "--quiet",
        "--log-format",
    ],
    "studies": ["--storage", "--format", "--json"],
    "trials": ["--storage", "--format", "--json"],
    "best": ["--storage", "--format", "--json"],
    "export": ["--out", "--storage", "--artifacts", "--force", "--format"],
    "report": ["--out", "--storage", "--top", "--force"],
    "dashboard": ["--storage", "--host", "--port", "--artifacts"],
    "presets": ["--format", "--json"],
    "build": ["--input-shape", "--outputs", "--format", "--json"],
    "predict": ["--out", "--proba"],
    "ablate": ["--seeds", "--epochs", "--trial", "--storage", "--artifacts", "--out"],
}


def offered(help_text: str) -> set[str]:
    return set(re.findall(r"(--[a-z][a-z-]*)", help_text))


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_help_lists_the_commands_options(command):
    result = cli(command, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: ressearch {command}") or f"ressearch {command}" in result.stdout
    assert offered(result.stdout) - {"--help", "--no-force"} == set(OPTIONS[command])


def test_top_level_help_lists_every_command():
    result = cli("--help")
    assert result.exit_code == 0
    listed = set(re.findall(r"^│ (\w+)\s", result.stdout, flags=re.MULTILINE))
    assert listed == set(OPTIONS)
