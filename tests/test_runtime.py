"""Importing ressearch changes no global state; entry points configure the runtime themselves."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Runs in a fresh interpreter: records what the process had, imports, and reports every change.
PROBE = """
import json, logging, os, socket, sys, warnings
def state():
    return {
        "env": dict(os.environ),
        "filters": [repr(f) for f in warnings.filters],
        "levels": {name: logging.getLogger(name).level for name in ("", "optuna", "tensorflow", "absl")},
        "socket_timeout": socket.getdefaulttimeout(),
        "streams": [id(sys.stdout), id(sys.stderr), id(sys.stdin)],
    }
before = state()
for module in sys.argv[1:]:
    __import__(module)
after = state()
changed = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
if "env" in changed:
    old, new = changed["env"]
    changed["env"] = {k: [old.get(k), new.get(k)] for k in set(old) | set(new) if old.get(k) != new.get(k)}
print(json.dumps(changed))
"""


def changes_on_import(*modules: str, env: dict[str, str] | None = None) -> dict[str, object]:
    clean = {key: value for key, value in (env or {}).items()}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, check=True, env=clean
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "modules",
    [
        ["ressearch"],
        ["ressearch", "ressearch.cli"],
        ["ressearch.config", "ressearch.runtime", "ressearch.errors", "ressearch.redact"],
    ],
    ids=["package", "cli", "config"],
)
def test_importing_changes_no_environment_filters_levels_timeout_or_streams(modules):
    import os

    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")}
    assert changes_on_import(*modules, env=env) == {}


def test_configure_runtime_sets_what_an_entry_point_needs_and_keeps_what_is_set():
    code = (
        "import os, warnings, json; from ressearch.runtime import configure_runtime; configure_runtime(); "
        "print(json.dumps([os.environ['KERAS_BACKEND'], os.environ['TF_CPP_MIN_LOG_LEVEL'], "
        "os.environ['MPLBACKEND'], any('experimental' in repr(f) for f in warnings.filters)]))"
    )
    import os

    base = {"PATH": os.environ.get("PATH", "")}
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=base)
    assert json.loads(ran.stdout) == ["tensorflow", "2", "Agg", True]
    kept = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**base, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "0", "MPLBACKEND": "svg"},
    )
    assert json.loads(kept.stdout) == ["jax", "0", "svg", True]


def test_parsing_a_study_file_loads_no_heavy_library():
    code = (
        "import sys; from ressearch.config import load_study_file; "
        "load_study_file('studies/quickstart.yaml'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'tensorflow', 'keras', 'optuna', 'pandas', 'sklearn', 'numpy'}))"
    )
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert result.stdout.strip() == "[]"
