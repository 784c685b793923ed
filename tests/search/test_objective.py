"""The objective's pieces used alone, on trials driven by hand with ask and tell."""

from __future__ import annotations

import math
import os

import optuna
import pytest
from optuna.trial import TrialState

from ressearch import ArchitectureConfig, TrainConfig, TrialFailed
from ressearch.config import parse_study
from ressearch.config.blocks import BlockFamily, register_block, unregister_block
from ressearch.data import load_dataset
from ressearch.search import Objective, TrialRecord
from ressearch.search.objective import SampledTrial, worker_name
from ressearch.search.record import RECORD_VERSION
from ressearch.search.retry import process_start_time
from ressearch.storage.urls import open_storage
from ressearch.training.callbacks import CurveRecorder
from tests.helpers import one_line, tiny_study

SPACE = {"block_type": ["basic", "preact"], "width": [4, 8]}


def objective_for(name, tmp_path, on_epoch=None, **sections):
    definition = parse_study(tiny_study(name, **sections))
    dataset = load_dataset(definition.data, seed=definition.settings.seed)
    return Objective(definition, dataset, artifacts=tmp_path / "models", on_epoch=on_epoch)


def open_study(storage_url, name) -> optuna.Study:
    return optuna.create_study(
        study_name=name, storage=open_storage(storage_url, heartbeat=False), direction="maximize"
    )


def stored_trials(storage_url, name):
    return optuna.load_study(study_name=name, storage=open_storage(storage_url, heartbeat=False)).trials


def test_sample_alone_records_the_trial_before_training(storage_url, unique_name, tmp_path):
    objective = objective_for(unique_name, tmp_path, space=SPACE, study={"seed": 5})
    study = open_study(storage_url, unique_name)
    study.tell(study.ask(), 0.0)  # so the trial below is number 1, and its seed moves on
    trial = study.ask()
    sampled = objective.sample(trial)
    assert isinstance(sampled, SampledTrial)
    assert sampled.seed == 5 + 1
    assert sampled.architecture.input_shape == (8, 8, 1) and sampled.architecture.outputs == 10
    assert sampled.architecture.block_type == trial.params["block_type"]
    assert sampled.architecture.widths == (trial.params["width"],)

    running = stored_trials(storage_url, unique_name)[1]
    assert running.state == TrialState.RUNNING
    record = TrialRecord.from_trial(running)
    assert record == TrialRecord(
        version=RECORD_VERSION,
        network=sampled.architecture.describe(),
        max_epochs=sampled.train.epochs,
        config_artifact=record.config_artifact,
        seed=sampled.seed,
        worker=worker_name(),
        worker_started=process_start_time(os.getpid()),
    )
    assert record.worker_started is not None  # with the pid, it tells this process from a later one
    config = record.config(tmp_path / "models")  # its config.json, uploaded before it trains
    assert config is not None and config.architecture is not None and config.train is not None
    assert ArchitectureConfig.from_dict(config.architecture) == sampled.architecture
    assert TrainConfig.from_dict(config.train) == sampled.train
    assert sampled.train == TrainConfig(epochs=2, batch_size=64, optimizer="adam", learning_rate=0.01)
    study.tell(trial, state=TrialState.FAIL)


@pytest.mark.slow
def test_train_and_record_give_the_recorded_value(storage_url, unique_name, tmp_path):
    events = []
    objective = objective_for(
        unique_name,
        tmp_path,
        events.append,
        space={"block_type": ["basic"], "width": 4},
        study={"pruner": "none"},
    )
    study = open_study(storage_url, unique_name)
    trial = study.ask()
    sampled = objective.sample(trial)
    recorder = CurveRecorder()
    result, artifact_id = objective.train(trial, sampled, recorder)
    value = objective.record(trial, result, artifact_id)
    study.tell(trial, value)

    (frozen,) = stored_trials(storage_url, unique_name)
    record = TrialRecord.from_trial(frozen)
    assert frozen.state == TrialState.COMPLETE
    measured = record.measurements(tmp_path / "models")  # its metrics.json
    assert frozen.value == value == record.metrics["val_accuracy"] == result.metrics["val_accuracy"]
    assert record.metrics == {"val_accuracy": value}  # the objective in the record, the rest in metrics.json
    assert measured.metrics == result.metrics and measured.seconds == result.seconds
    assert math.isfinite(value) and 0.0 <= value <= 1.0
    assert record.model_artifact == artifact_id
    assert (tmp_path / "models" / artifact_id).stat().st_size > 0
    assert record.model_params == result.model_params == int(measured.metrics["model_params"])
    assert record.epochs == measured.epochs == 2 and measured.curve == recorder.curve
    assert len(measured.curve["loss"]) == len(measured.curve["val_accuracy"]) == 2
    # Each epoch was reported to the trial, though the study does not prune: the dashboard plots them.
    assert [frozen.intermediate_values[step] for step in (0, 1)] == measured.curve["val_accuracy"]
    # And told to whoever watches the run, epoch by epoch.
    assert [(event.number, event.epoch, event.epochs) for event in events] == [(0, 1, 2), (0, 2, 2)]
    assert [event.metrics["val_accuracy"] for event in events] == measured.curve["val_accuracy"]
    assert events[0].elapsed <= events[1].elapsed
    # What sample recorded before training is still there.
    config = record.config(tmp_path / "models")
    assert config is not None and config.architecture == sampled.architecture.to_dict()
    assert record.seed == sampled.seed


@pytest.fixture
def dense_only_block():
    """A block family for tabular rows only: a study on images may sample it, and fail that trial."""
    register_block(BlockFamily("dense_only", "tabular rows only", ranks=(1,)))
    try:
        yield
    finally:
        unregister_block("dense_only")


@pytest.mark.parametrize(
    ("sections", "choice", "message"),
    [
        (
            {"space": {"block_type": ["basic", "dense_only"]}},
            {"block_type": "dense_only"},
            "architecture: block_type 'dense_only' builds for input ranks [1], and input_shape [8, 8, 1] "
            "has rank 3",
        ),
        (
            {"train": {"epochs": [1, 2], "schedule": "cosine", "warmup_epochs": [0, 1]}},
            {"epochs": 1, "warmup_epochs": 1},
            "train: warmup_epochs must be below epochs, got self.warmup_epochs=1, self.epochs=1",
        ),
    ],
    ids=["architecture", "training"],
)
def test_an_impossible_sample_fails_the_trial_alone(
    storage_url, unique_name, tmp_path, dense_only_block, sections, choice, message
):
    objective = objective_for(unique_name, tmp_path, **sections)
    study = open_study(storage_url, unique_name)
    # Each choice is possible on its own; only this combination, or these data, are not.
    study.enqueue_trial(choice)
    trial = study.ask()
    with pytest.raises(TrialFailed) as raised:
        objective.sample(trial)
    assert one_line(raised.value).startswith(("sampled an impossible", "sampled impossible"))
    assert one_line(raised.value).endswith(message)
    study.tell(trial, state=TrialState.FAIL)
    # Called whole, the objective records why the trial failed; the study can go on.
    study.enqueue_trial(choice)
    trial = study.ask()
    with pytest.raises(TrialFailed):
        objective(trial)
    study.tell(trial, state=TrialState.FAIL)
    assert objective.running == {}
    first, second = stored_trials(storage_url, unique_name)
    assert {first.state, second.state} == {TrialState.FAIL}
    assert TrialRecord.from_trial(first) == TrialRecord()  # nothing recorded before the failure
    assert TrialRecord.from_trial(second).fail_reason == str(raised.value)
    for stored in (first, second):
        assert {key: stored.params[key] for key in choice} == choice
