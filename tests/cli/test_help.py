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
    "studies": ["--storage", "--format", "--json", "--wide"],
    "trials": ["--storage", "--format", "--json", "--sort", "--top", "--wide"],
    "best": ["--storage", "--format", "--json"],
    "export": [
        "--out",
        "--storage",
        "--artifacts",
        "--force",
        "--format",
        "--refit",
        "--ensemble",
        "--trial",
    ],
    "report": ["--out", "--storage", "--top", "--force"],
    "dashboard": ["--storage", "--host", "--port", "--artifacts"],
    "presets": ["--format", "--json"],
    "build": ["--input-shape", "--outputs", "--format", "--json"],
    "predict": ["--out", "--proba"],
    "ablate": ["--seeds", "--epochs", "--trial", "--storage", "--artifacts", "--out", "--wide"],
}

# What each command's help says it writes (every one says, "Writes ..."), by file or place.
WRITES = {
    "run": ["ressearch.db", "ressearch.db.artifacts/", "ressearch-artifacts/", "ARTIFACTS/workers/STUDY/"],
    "worker": ["storage", "artifact folder"],
    "studies": ["nothing"],
    "trials": ["nothing"],
    "best": ["nothing"],
    "export": [
        "config.json",
        "model.keras",
        "savedmodel/",
        "metrics.json",
        "preprocessing.json",
        "trials.csv",
        "members/trial-N/config.json",
    ],
    "report": ["index.html", "optimization_history.png", "learning_curves.png"],
    "dashboard": ["storage"],
    "presets": ["nothing"],
    "build": ["nothing"],
    "predict": ["--out", "stdout"],
    "ablate": ["ablation.json", "ablation.csv", "ablation-curves.png", "ressearch_ablation"],
}


# Python's types and Typer's argument braces, which tell a person nothing: `<bool>`, `<int range>`,
# `<str>`, `<path>`, `{name}`.
TYPE_NOISE = re.compile(r"<(?:bool|int|float|str|path|text|file|dir)[^>]*>|\{\w+\}", re.IGNORECASE)


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


@pytest.mark.parametrize("command", [*sorted(OPTIONS), "storage-proxy"])
def test_help_shows_no_type_noise_and_says_what_the_command_writes(command):
    text = cli(command, "-h").stdout  # -h is --help
    assert text.startswith(f"Usage: ressearch {command}") or f"ressearch {command}" in text
    assert not TYPE_NOISE.findall(text), text
    flat = " ".join(text.replace("│", " ").split())
    assert "Writes" in flat, text
    for written in WRITES.get(command, []):
        assert written in flat, (written, text)


def test_help_shows_what_to_type():
    flat = " ".join(cli("run", "--help").stdout.replace("│", " ").split())
    assert "Usage: ressearch run [OPTIONS] STUDY_FILE" in flat
    assert "--storage URL" in flat and "--workers N" in flat and "--artifacts DIR" in flat
    assert "--log-format text|json" in flat and "--quiet -q Show" in flat  # a flag: no type


def test_version_and_short_help():
    from ressearch import __version__

    result = cli("--version")
    assert result.exit_code == 0 and result.stdout == f"ressearch {__version__}\n"
    short = cli("-h")
    assert short.exit_code == 0 and short.stdout == cli("--help").stdout
    assert not TYPE_NOISE.findall(short.stdout)
