"""Read results back: the studies in a storage, a study's trials as a table, its best trials.

Reads trials through :class:`~ressearch.search.record.TrialRecord`; writes nothing.
"""

from __future__ import annotations

from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from ressearch.errors import ConfigError
from ressearch.search.record import StudyMeta, TrialRecord
from ressearch.storage.urls import open_storage

__all__ = ["best_trials", "describe_trial", "list_studies", "metric_names", "trials_frame"]


def list_studies(storage: str | optuna.storages.BaseStorage) -> list[dict[str, Any]]:
    """One row per study: name, directions, trial counts by state, best value(s)."""
    if not isinstance(storage, optuna.storages.BaseStorage):
        storage = open_storage(storage, heartbeat=False)
    rows = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=True):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        counts = {state.name.lower(): 0 for state in TrialState}
        for trial in trials:
            counts[trial.state.name.lower()] += 1
        best = summary.best_trial
        rows.append(
            {
                "name": summary.study_name,
                "directions": [direction.name.lower() for direction in summary.directions],
                "metrics": study.metric_names,
                "trials": len(trials),
                "complete": counts["complete"],
                "pruned": counts["pruned"],
                "failed": counts["fail"],
                "running": counts["running"],
                "best_value": best.value if best is not None and len(summary.directions) == 1 else None,
                "started": summary.datetime_start.isoformat(timespec="seconds")
                if summary.datetime_start
                else None,
                "ressearch": StudyMeta.from_study(study) is not None,
            }
        )
    return rows


def metric_names(study: optuna.Study) -> list[str]:
    """The study's metric names, or ``value``/``value_i`` for a study without them."""
    names = study.metric_names
    if names:
        return list(names)
    return ["value"] if len(study.directions) == 1 else [f"value_{i}" for i in range(len(study.directions))]


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, objective values by metric, size, time, sampled params."""
    metrics = metric_names(study)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        record = TrialRecord.from_trial(trial)
        row: dict[str, Any] = {"number": trial.number, "state": trial.state.name}
        for name, value in zip(metrics, trial.values or [None] * len(metrics), strict=False):
            row[name] = value
        row["model_params"] = record.model_params
        row["epochs"] = record.epochs
        row["train_seconds"] = record.train_seconds
        row["duration_s"] = trial.duration.total_seconds() if trial.duration else None
        row["fail_reason"] = record.fail_reason
        for name, value in trial.params.items():
            row[f"param_{name}"] = value
        rows.append(row)
    return pd.DataFrame(rows)


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best complete trial, or the Pareto set of a multi-objective study."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ConfigError(f"study {study.study_name!r} has no complete trial yet: run it first")
    if len(study.directions) > 1:
        return sorted(study.best_trials, key=lambda trial: trial.number)
    return [study.best_trial]


def describe_trial(study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
    """A JSON-safe description: number, value(s), sampled params, architecture, training, metrics."""
    metrics = metric_names(study)
    record = TrialRecord.from_trial(trial)
    described: dict[str, Any] = {"study": study.study_name, "number": trial.number}
    if len(study.directions) == 1:
        described["metric"] = metrics[0]
        described["value"] = trial.value
    else:
        described["metrics"] = metrics
        described["values"] = trial.values
    described.update(
        {
            "params": trial.params,
            "architecture": record.architecture,
            "train": record.train,
            "model_params": record.model_params,
            "measured": record.metrics,
            "epochs": record.epochs,
            "train_seconds": record.train_seconds,
            "seed": record.seed,
        }
    )
    return described
