"""Reading results back: studies, trials as a table, the best trial or Pareto set, one trial described.

One real tiny study per backend (a module fixture): a grid over two widths, where the wider
network is over study.max_params and fails, so the table holds a complete and a failed trial.
Choosing among several complete trials is checked on Optuna studies with known values.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from ressearch.config import ArchitectureConfig, StudyDefinition
from ressearch.errors import ConfigError
from ressearch.results import best_trials, describe_trial, list_studies, metric_names, trials_frame
from ressearch.results.query import complete_trial
from ressearch.search import TrialRecord, run_study
from ressearch.storage import load_study, open_storage
from tests.helpers import one_line, stored_config, tiny_study

WIDTHS = [4, 64]
MAX_PARAMS = 2000


@dataclass(frozen=True)
class RanStudy:
    name: str
    storage: str


@pytest.fixture(scope="module")
def ran(module_storage_url: str, tmp_path_factory: pytest.TempPathFactory) -> RanStudy:
    """A 2-trial grid study: width 4 trains, width 64 fails as too large (before training)."""
    folder = tmp_path_factory.mktemp("query")
    storage = module_storage_url
    name = f"t-{uuid.uuid4().hex[:8]}"
    definition = StudyDefinition.from_dict(
        tiny_study(
            name,
            study={"sampler": "grid", "pruner": "none", "n_trials": 2, "max_params": MAX_PARAMS},
            space={"block_type": "basic", "width": WIDTHS},
        )
    )
    summary = run_study(definition, storage=storage, artifacts=folder / "artifacts")
    assert (summary.complete, summary.failed) == (1, 1), summary
    return RanStudy(name, storage)


def _by_width(study: optuna.Study) -> dict[int, optuna.trial.FrozenTrial]:
    return {trial.params["width"]: trial for trial in study.trials}


@pytest.mark.slow
def test_trials_frame_has_one_row_per_trial_with_its_size_time_and_params(ran):
    study = load_study(ran.name, ran.storage)
    frame = trials_frame(study)
    assert list(frame.columns) == [
        "number",
        "state",
        "val_accuracy",
        "model_params",
        "epochs",
        "train_seconds",
        "duration_s",
        "fail_reason",
        "warm_start",
        "param_width",
    ]
    assert list(frame["number"]) == [0, 1]
    rows = {row.param_width: row for row in frame.itertuples()}
    assert sorted(rows) == WIDTHS
    trial, row = _by_width(study)[4], rows[4]
    record = TrialRecord.from_trial(trial)
    assert row.state == "COMPLETE" and row.val_accuracy == trial.value
    assert row.model_params == record.model_params <= MAX_PARAMS
    assert row.epochs == 2 and row.train_seconds == record.train_seconds > 0
    assert row.duration_s == trial.duration.total_seconds() >= row.train_seconds
    assert pd.isna(row.fail_reason)
    failed = rows[64]
    assert failed.state == "FAIL" and pd.isna(failed.val_accuracy)
    assert pd.isna(failed.epochs) and pd.isna(failed.train_seconds)
    # Built, then refused: its size is recorded, and the reason names it.
    assert failed.fail_reason == (
        f"the model has {failed.model_params:,} parameters, above study.max_params={MAX_PARAMS:,}"
    )
    # Counts stay integers with a trial that lacks one (no 7612.0 in a CSV).
    assert str(frame["model_params"].dtype) == "Int64" and str(frame["epochs"].dtype) == "Int64"
    assert ".0" not in frame[["number", "model_params", "epochs"]].to_csv(index=False)


@pytest.mark.slow
def test_best_trials_skips_the_failed_trial(ran):
    study = load_study(ran.name, ran.storage)
    assert [trial.number for trial in best_trials(study)] == [_by_width(study)[4].number]


@pytest.mark.slow
def test_describe_trial_separates_sampled_params_from_the_parameter_count(ran):
    from ressearch.arch import build_model

    study = load_study(ran.name, ran.storage)
    trial = _by_width(study)[4]
    record = TrialRecord.from_trial(trial)
    described = describe_trial(study, trial)
    assert described["study"] == ran.name and described["number"] == trial.number
    assert described["metric"] == "val_accuracy" and described["value"] == trial.value
    assert "values" not in described and "metrics" not in described
    # params: Optuna's sampled hyperparameters; model_params: the network's parameter count.
    assert described["params"] == trial.params == {"width": 4}
    rebuilt = build_model(ArchitectureConfig.from_dict(described["architecture"]))
    assert described["model_params"] == record.model_params == rebuilt.count_params()
    config = stored_config(study, trial)
    assert described["architecture"] == config.architecture and described["train"] == config.train
    assert (
        described["network"] == record.network == ArchitectureConfig.from_dict(config.architecture).describe()
    )
    assert described["measured"]["val_accuracy"] == pytest.approx(trial.value)
    assert described["epochs"] == 2 and described["seed"] == record.seed
    assert json.loads(json.dumps(described)) == described


@pytest.mark.slow
def test_list_studies_counts_trials_by_state_and_tells_ressearch_studies_apart(ran, unique_name):
    storage = open_storage(ran.storage, heartbeat=False)
    plain = optuna.create_study(study_name=unique_name, storage=storage, direction="minimize")
    plain.add_trial(create_trial(value=3.0))
    rows = {row["name"]: row for row in list_studies(storage)}
    study = load_study(ran.name, storage)
    assert rows[ran.name] == {
        "name": ran.name,
        "directions": ["maximize"],
        "metrics": ["val_accuracy"],
        "trials": 2,  # counted, of the target: as `run` tells them
        "target": 2,
        "complete": 1,
        "pruned": 0,
        "failed": 1,
        "not_counted": 0,
        "running": 0,
        "waiting": 0,
        "best_value": study.best_value,
        "started": study.trials[0].datetime_start.isoformat(timespec="seconds"),
        "ressearch": True,
    }
    assert rows[unique_name]["ressearch"] is False and rows[unique_name]["metrics"] is None
    assert rows[unique_name]["trials"] == 1 and rows[unique_name]["target"] is None
    assert rows[unique_name]["best_value"] == 3.0 and rows[unique_name]["directions"] == ["minimize"]


# Optuna's own studies with known values: the Pareto set is exact, and no training is needed.
POINTS = [(0.90, 100.0), (0.80, 50.0), (0.70, 200.0), (0.95, 300.0), (0.80, 60.0)]
PARETO = [0, 1, 3]  # (0.70, 200) and (0.80, 60) are dominated


def _multi_objective(storage_url: str, name: str, *, named: bool) -> optuna.Study:
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(storage_url, heartbeat=False),
        directions=["maximize", "minimize"],
    )
    if named:
        study.set_metric_names(["val_accuracy", "model_params"])
    for index, values in enumerate(POINTS):
        study.add_trial(
            create_trial(
                values=list(values),
                params={"block_type": "basic" if index % 2 else "preact"},
                distributions={"block_type": CategoricalDistribution(["basic", "preact"])},
            )
        )
    return study


def test_best_trials_of_one_objective_follows_its_direction(storage_url, unique_name):
    storage = open_storage(storage_url, heartbeat=False)
    best = {}
    for direction in ("maximize", "minimize"):
        study = optuna.create_study(
            study_name=f"{unique_name}-{direction}", storage=storage, direction=direction
        )
        for value in (0.3, 0.9, 0.5, 0.1):
            study.add_trial(create_trial(value=value))
        study.add_trial(create_trial(state=TrialState.FAIL))
        best[direction] = [trial.number for trial in best_trials(study)]
    assert best == {"maximize": [1], "minimize": [3]}


def test_best_trials_of_several_objectives_is_the_pareto_set(storage_url, unique_name):
    study = _multi_objective(storage_url, unique_name, named=True)
    assert [trial.number for trial in best_trials(study)] == PARETO
    described = describe_trial(study, study.trials[3])
    assert described["metrics"] == ["val_accuracy", "model_params"]
    assert described["values"] == [0.95, 300.0] and "value" not in described
    assert described["params"] == {"block_type": "basic"}
    # A study ressearch did not write has no record: its fields are empty, not an error.
    assert described["architecture"] is None and described["model_params"] is None


def test_metric_columns_are_named_or_numbered(storage_url, unique_name):
    named = trials_frame(_multi_objective(storage_url, f"{unique_name}-named", named=True))
    assert list(named.columns[:4]) == ["number", "state", "val_accuracy", "model_params"]
    assert list(named["val_accuracy"]) == [point[0] for point in POINTS]
    unnamed_study = _multi_objective(storage_url, f"{unique_name}-plain", named=False)
    assert metric_names(unnamed_study) == ["value_0", "value_1"]
    unnamed = trials_frame(unnamed_study)
    assert list(unnamed["value_1"]) == [point[1] for point in POINTS]
    assert list(unnamed["param_block_type"]) == ["preact", "basic", "preact", "basic", "preact"]


def test_best_trials_without_a_complete_trial_is_a_config_error(storage_url, unique_name):
    study = optuna.create_study(study_name=unique_name, storage=open_storage(storage_url, heartbeat=False))
    study.add_trial(create_trial(state=TrialState.FAIL))
    with pytest.raises(ConfigError) as raised:
        best_trials(study)
    assert one_line(raised.value) == f"study {unique_name!r} has no complete trial yet: run it first"


def test_complete_trial_finds_a_complete_trial_by_number_and_refuses_the_others(storage_url, unique_name):
    study = optuna.create_study(study_name=unique_name, storage=open_storage(storage_url, heartbeat=False))
    with pytest.raises(ConfigError) as raised:
        complete_trial(study, 0)
    assert one_line(raised.value) == f"--trial: study {unique_name!r} has no trial 0; it has no trials yet"
    study.add_trial(create_trial(value=0.4))
    study.add_trial(create_trial(state=TrialState.PRUNED, intermediate_values={0: 0.1}))
    study.add_trial(create_trial(value=0.7))
    assert complete_trial(study, 0).number == 0  # not the best: the one asked for
    assert complete_trial(study, 2).value == 0.7
    with pytest.raises(ConfigError) as raised:
        complete_trial(study, 1)
    assert one_line(raised.value) == (
        f"--trial: trial 1 of {unique_name!r} is PRUNED, not COMPLETE; "
        f"`ressearch trials {unique_name}` lists them"
    )
    with pytest.raises(ConfigError) as raised:
        complete_trial(study, 3)
    assert one_line(raised.value) == f"--trial: study {unique_name!r} has no trial 3; it has trials 0-2"


@pytest.mark.postgres
def test_list_studies_takes_the_urls_every_other_function_takes(postgres_url, unique_name):
    optuna.create_study(study_name=unique_name, storage=open_storage(postgres_url, heartbeat=False))
    short = postgres_url.replace("postgresql://", "postgres://", 1)
    assert unique_name in [row["name"] for row in list_studies(short)]
