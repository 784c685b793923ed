"""Read results back: the studies in a storage, a study's trials as a table, its best trials.

Reads trials through :class:`~ressearch.search.record.TrialRecord`; writes nothing.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.study.study import _SYSTEM_ATTR_METRIC_NAMES  # where set_metric_names keeps them
from optuna.trial import FrozenTrial

from ressearch.errors import ConfigError
from ressearch.search.counting import TrialCounts, count_stored, study_target
from ressearch.search.record import StudyMeta, TrialConfig, TrialRecord
from ressearch.storage.tables import first_start, trial_rows
from ressearch.storage.urls import open_storage

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SORT_KEYS",
    "best_trials",
    "complete_trial",
    "describe_trial",
    "list_studies",
    "metric_names",
    "rank_trials",
    "study_counts",
    "trial_table",
    "trials_frame",
]


def list_studies(storage: str | optuna.storages.BaseStorage) -> list[dict[str, Any]]:
    """One row per study: name, directions, trial counts, best value(s).

    The counts are :func:`~ressearch.search.counting.count_stored`'s, as ``run`` and ``best``
    tell them: ``trials`` the counted ones of the ``target`` (``n_trials``; None for a study
    ressearch did not create), split into ``complete``, ``pruned`` and ``failed``;
    ``not_counted`` the finished trials that hold no slot (interrupted, retried, surplus). They,
    the first start and the best value are read by grouped queries and the few marked trials, not
    by loading every trial, so a study of 100,000 trials lists as fast as one of ten.
    """
    if not isinstance(storage, optuna.storages.BaseStorage):
        storage = open_storage(storage, heartbeat=False, read_only=True)
    rows = []
    for frozen in storage.get_all_studies():
        study_id = frozen._study_id
        counts = count_stored(storage, study_id, study_target(frozen.user_attrs, frozen.study_name))
        best_value = None
        if len(frozen.directions) == 1:
            with suppress(ValueError):  # no complete trial yet
                best_value = storage.get_best_trial(study_id).value
        started = first_start(storage, study_id)
        names = frozen.system_attrs.get(_SYSTEM_ATTR_METRIC_NAMES)
        rows.append(
            {
                "name": frozen.study_name,
                "directions": [direction.name.lower() for direction in frozen.directions],
                "metrics": list(names) if isinstance(names, list) else None,
                "trials": counts.counted,
                "target": counts.target,
                "complete": counts.complete,
                "pruned": counts.pruned,
                "failed": counts.failed,
                "not_counted": counts.not_counted,
                "running": counts.running,
                "waiting": counts.waiting,
                "best_value": best_value,
                "started": started.isoformat(timespec="seconds") if started else None,
                "ressearch": StudyMeta.marks(frozen.user_attrs),
            }
        )
    return rows


def study_counts(study: optuna.Study) -> TrialCounts:
    """The study's trial counts, as ``run``'s summary and ``studies`` tell them."""
    target = study_target(study.user_attrs, study.study_name)
    return count_stored(study._storage, study._study_id, target)


def metric_names(study: optuna.Study) -> list[str]:
    """The study's metric names, or ``value``/``value_i`` for a study without them."""
    names = study.metric_names
    if names:
        return list(names)
    return ["value"] if len(study.directions) == 1 else [f"value_{i}" for i in range(len(study.directions))]


# The trial attributes the table shows; the rest (configs, curves) are left in the database.
_TABLE_ATTRS = TrialRecord.keys("model_params", "epochs", "train_seconds", "fail_reason", "warm_start")


def trial_table(study: optuna.Study) -> list[dict[str, Any]]:
    """One plain dict per trial, by number: number, state, objective values by metric, size,
    epochs, times, fail reason, warm start, and the sampled params as ``param_NAME``.

    Counts are ints (None where a trial has none: a failed trial that never built), so a CSV or
    JSON of these rows writes ``48935``, not ``48935.0``.
    """
    metrics = metric_names(study)
    rows = []
    for trial in trial_rows(study._storage, study._study_id, user_attrs=_TABLE_ATTRS):
        record = TrialRecord.from_attrs(trial.user_attrs)
        row: dict[str, Any] = {"number": trial.number, "state": trial.state.name}
        values: list[float | None] = list(trial.values) if trial.values else [None] * len(metrics)
        for name, value in zip(metrics, values, strict=False):
            row[name] = value
        row["model_params"] = record.model_params
        row["epochs"] = record.epochs
        row["train_seconds"] = record.train_seconds
        row["duration_s"] = trial.duration_s
        row["fail_reason"] = record.fail_reason
        row["warm_start"] = record.warm_start
        for name, value in trial.params.items():
            row[f"param_{name}"] = value
        rows.append(row)
    return rows


# The integer columns of a trial table: pandas would make them floats (7612.0) once one is missing.
_INTEGER_COLUMNS = ("number", "model_params", "epochs")


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """:func:`trial_table` as a DataFrame; counts stay integers (pandas' nullable ``Int64``)."""
    import pandas as pd  # only the tables need it: `best` and `studies` start faster without

    frame = pd.DataFrame(trial_table(study))
    for column in _INTEGER_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    return frame


SORT_KEYS = ("value", "number", "duration")


def rank_trials(
    rows: list[dict[str, Any]], *, by: str, metric: str, direction: str, top: int | None = None
) -> list[dict[str, Any]]:
    """``rows`` of :func:`trial_table` ranked, best first, with a ``rank`` (1, 2, ...) each.

    ``by`` is ``value`` (complete trials by ``metric`` in its ``direction``, then pruned ones by
    the value they were pruned at, then the rest by number), ``number`` or ``duration`` (longest
    first, unfinished last). ``top`` keeps the first K.

    Example:
        >>> rows = [{"number": 0, "state": "COMPLETE", "loss": 0.5, "duration_s": 3.0},
        ...         {"number": 1, "state": "FAIL", "loss": None, "duration_s": 0.1},
        ...         {"number": 2, "state": "COMPLETE", "loss": 0.2, "duration_s": 9.0}]
        >>> [row["number"] for row in rank_trials(rows, by="value", metric="loss", direction="minimize")]
        [2, 0, 1]
    """
    if by not in SORT_KEYS:
        raise ConfigError(f"--sort: expected one of {', '.join(SORT_KEYS)}, got {by!r}")
    sign = -1.0 if direction == "maximize" else 1.0

    def value_key(row: dict[str, Any]) -> tuple[int, float, int]:
        value = row.get(metric)
        group = {"COMPLETE": 0, "PRUNED": 1}.get(row["state"], 2)
        if value is None or value != value:  # no value, or NaN
            return (3, 0.0, row["number"])
        return (group, sign * value, row["number"]) if group < 2 else (group, 0.0, row["number"])

    def duration_key(row: dict[str, Any]) -> tuple[int, float, int]:
        seconds = row.get("duration_s")
        return (1, 0.0, row["number"]) if seconds is None else (0, -seconds, row["number"])

    keys = {"value": value_key, "duration": duration_key, "number": lambda row: row["number"]}
    ranked = sorted(rows, key=keys[by])[:top]
    return [{"rank": index, **row} for index, row in enumerate(ranked, start=1)]


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best complete trial, or the Pareto set of a multi-objective study.

    A single objective's best is found by the database (one ordered query), not by loading every
    trial.
    """
    if len(study.directions) > 1:
        pareto = sorted(study.best_trials, key=lambda trial: trial.number)
        if not pareto:
            raise ConfigError(f"study {study.study_name!r} has no complete trial yet: run it first")
        return pareto
    try:
        return [study.best_trial]
    except ValueError:
        raise ConfigError(f"study {study.study_name!r} has no complete trial yet: run it first") from None


def complete_trial(study: optuna.Study, number: int) -> FrozenTrial:
    """Trial ``number`` of ``study`` (``--trial N``), which must be complete.

    Raises:
        ConfigError: the study has no such trial, or it did not complete (running, pruned,
            failed: a pruned trial's model is a net stopped part-way, and is not kept).
    """
    name = study.study_name
    trials = study.get_trials(deepcopy=False)
    found = next((trial for trial in trials if trial.number == number), None)
    if found is None:
        have = f"it has trials 0-{len(trials) - 1}" if trials else "it has no trials yet"
        raise ConfigError(f"--trial: study {name!r} has no trial {number}; {have}")
    if found.state != optuna.trial.TrialState.COMPLETE:
        raise ConfigError(
            f"--trial: trial {number} of {name!r} is {found.state.name}, not COMPLETE; "
            f"`ressearch trials {name}` lists them"
        )
    return found


def describe_trial(
    study: optuna.Study, trial: FrozenTrial, *, artifacts: str | Path | None = None
) -> dict[str, Any]:
    """A JSON-safe description: number, value(s), sampled params, network in one line,
    architecture, training, metrics.

    A trial of a KerasTuner hypermodel has no architecture (None) and a ``hypermodel`` instead:
    the reference, arguments, data shape and hyperparameter values that rebuild its network.
    The configs and metrics are read from the trial's config.json and metrics.json in the
    artifact folder ``artifacts`` (by default the one the study's metadata names).

    Raises:
        StorageError: those files are not in that folder.
    """
    metrics = metric_names(study)
    record = TrialRecord.from_trial(trial)
    folder = artifacts if artifacts is not None else StudyMeta.folder_of(study)
    config = record.config(folder) or TrialConfig()
    measured = record.measurements(folder)
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
            "network": record.describe_network(),
            "architecture": config.architecture,
            "train": config.train,
            "model_params": record.model_params,
            "measured": measured.metrics or record.metrics,
            "epochs": record.epochs,
            "train_seconds": record.train_seconds,
            "seed": record.seed,
            "warm_start": record.warm_start,
        }
    )
    if config.hypermodel is not None:
        described["hypermodel"] = config.hypermodel
    return described
