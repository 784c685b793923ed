"""Trials read as flat rows by the database agree with Optuna's own trials, on every storage."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from ressearch.storage import open_storage
from ressearch.storage.tables import first_start, state_counts, trial_rows


def _study(storage: optuna.storages.BaseStorage, name: str, directions: list[str]) -> optuna.Study:
    """Trials in every state, with params of each distribution kind, infinite values, attributes."""
    study = optuna.create_study(study_name=name, storage=storage, directions=directions)

    def objective(trial: optuna.Trial) -> float | tuple[float, float]:
        block = trial.suggest_categorical("block_type", ["basic", "preact", None])
        width = trial.suggest_int("width", 8, 64, log=True)
        rate = trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
        trial.set_user_attr("model_params", width * 100)
        trial.set_user_attr("curve", {"loss": [1.0, 0.5]})  # not asked for: never read
        trial.set_user_attr("fail_reason", None if trial.number % 5 else "boom")
        if len(directions) == 1:
            trial.report(rate, 0)
        if trial.number % 4 == 3 and len(directions) == 1:
            raise optuna.TrialPruned()
        if trial.number % 5 == 4:
            raise RuntimeError("boom")
        value = math.inf if trial.number == 2 else rate * width
        return (value, float(width)) if len(directions) > 1 else value if block else -value

    study.optimize(objective, n_trials=14, catch=(RuntimeError,))
    running = study.ask()  # one left RUNNING, with no values
    running.suggest_int("width", 8, 64, log=True)
    return study


@pytest.mark.parametrize("directions", [["maximize"], ["minimize", "minimize"]])
def test_rows_match_optunas_trials(storage_url, unique_name, directions):
    storage = open_storage(storage_url, heartbeat=False)
    study = _study(storage, unique_name, directions)
    wanted = ("model_params", "fail_reason", "missing")
    rows = trial_rows(study._storage, study._study_id, user_attrs=wanted)
    trials = study.get_trials(deepcopy=False)
    assert [row.number for row in rows] == [trial.number for trial in trials]
    for row, trial in zip(rows, trials, strict=True):
        assert row.state == trial.state
        assert row.values == trial.values
        assert row.params == trial.params and list(row.params) == list(trial.params)
        assert row.user_attrs == {key: trial.user_attrs[key] for key in wanted if key in trial.user_attrs}
        assert row.datetime_start == trial.datetime_start
        assert row.datetime_complete == trial.datetime_complete
        assert row.duration_s == (trial.duration.total_seconds() if trial.duration else None)
    assert any(row.values and math.isinf(row.values[0]) for row in rows)  # stored apart from finite ones
    assert trial_rows(study._storage, study._study_id, params=False)[0].params == {}

    counts = state_counts(study._storage, study._study_id)
    for state in TrialState:
        assert counts[state] == sum(trial.state == state for trial in trials), state
    assert first_start(study._storage, study._study_id) == min(t.datetime_start for t in trials)


def test_any_other_storage_gets_the_same_rows_from_optunas_trials(unique_name):
    """A storage that is no database (here Optuna's in-memory one, as for the gRPC proxy)."""
    storage = optuna.storages.InMemoryStorage()
    study = _study(storage, unique_name, ["maximize"])
    rows = trial_rows(storage, study._study_id, user_attrs=("model_params",))
    assert [(row.number, row.state, row.values) for row in rows] == [
        (trial.number, trial.state, trial.values) for trial in study.trials
    ]
    assert state_counts(storage, study._study_id)[TrialState.PRUNED] == 3
