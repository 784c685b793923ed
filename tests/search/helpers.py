"""Helpers of the tests that run real ressearch processes."""

from __future__ import annotations

import sys

import optuna

RESSEARCH = [sys.executable, "-m", "ressearch"]


def running_trials(name: str, storage: str) -> list[optuna.trial.FrozenTrial]:
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return []
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
