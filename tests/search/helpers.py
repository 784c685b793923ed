"""Helpers of the tests that run real ressearch processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna

RESSEARCH = [sys.executable, "-m", "ressearch"]


def running_trials(name: str, storage: str) -> list[optuna.trial.FrozenTrial]:
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return []
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))


def checkpointed_epochs(folder: Path) -> int:
    """The epochs a trial's checkpoint folder holds (0 before its first, or while one is written)."""
    try:
        return int(json.loads((folder / "state.json").read_text())["epochs"])
    except (OSError, ValueError, KeyError):
        return 0


def start_run(study_file: Path, storage: str, **popen: Any) -> subprocess.Popen[str]:
    """``ressearch run STUDY_FILE --storage STORAGE`` in the background, its output unbuffered
    and piped (``popen``: more of Popen's arguments)."""
    return subprocess.Popen(
        [*RESSEARCH, "run", str(study_file), "--storage", storage],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **popen,
    )
