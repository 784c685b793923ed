"""What ressearch stores in Optuna: trial records and study metadata, in one module only."""

from __future__ import annotations

import subprocess
from dataclasses import fields
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from ressearch import ConfigError
from ressearch.config import parse_study
from ressearch.search.record import (
    INTERRUPTED_REASON,
    RECORD_VERSION,
    RETRIED_REASON,
    STUDY_ATTR,
    STUDY_META_VERSION,
    StudyMeta,
    TrialRecord,
)
from ressearch.storage.urls import open_storage
from tests.helpers import one_line, tiny_study

REPO = Path(__file__).resolve().parents[2]

FULL = TrialRecord(
    version=RECORD_VERSION,
    architecture={"input_shape": [8, 8, 1], "outputs": 10, "block_type": "basic"},
    train={"epochs": 2, "optimizer": "adam"},
    seed=7,
    worker="host:123",
    worker_started=4567.0,
    devices="0",
    model_artifact="0f3c",
    model_params=1234,
    metrics={"val_accuracy": 0.75, "val_loss": 0.5},
    curve={"loss": [1.0, 0.5], "val_accuracy": [0.5, 0.75]},
    epochs=2,
    train_seconds=1.25,
    seconds={"build": 0.2, "fit": 1.25},
    worker_rss_mb=812.5,
    fail_reason=None,
    interrupted=None,
    surplus=None,
    resumed_from=3,
    warm_start="study:pilot#4",
)


def test_trial_record_round_trips_through_attrs():
    attrs = FULL.to_attrs()
    assert TrialRecord.from_attrs(attrs) == FULL
    # The version is stored under the name the dashboard shows; None fields are left out.
    assert attrs["record_version"] == RECORD_VERSION and "version" not in attrs
    assert set(attrs) == {_name(item.name) for item in fields(TrialRecord)} - {
        "fail_reason",
        "interrupted",
        "surplus",
    }
    assert TrialRecord(seed=3, interrupted=False).to_attrs() == {"seed": 3, "interrupted": False}
    assert TrialRecord().to_attrs() == {}
    # Keys of other tools are ignored; a trial ressearch did not make reads as an empty record.
    assert TrialRecord.from_attrs({**attrs, "someone_else": 1}) == FULL
    assert TrialRecord.from_attrs({}) == TrialRecord()


def _name(field: str) -> str:
    return "record_version" if field == "version" else field


def test_interruption_and_a_vanished_worker_mark_the_trial():
    record = TrialRecord.interruption()
    assert record.is_interrupted and record.fail_reason == INTERRUPTED_REASON
    assert not TrialRecord(fail_reason="nan loss").is_interrupted
    assert TrialRecord.from_attrs(record.to_attrs()).is_interrupted
    assert TrialRecord.from_attrs(TrialRecord.vanished().to_attrs()).fail_reason == RETRIED_REASON


def test_a_record_from_a_newer_ressearch_is_refused():
    with pytest.raises(ConfigError) as raised:
        TrialRecord.from_attrs({**FULL.to_attrs(), "record_version": RECORD_VERSION + 1})
    assert one_line(raised.value) == (
        f"trial record version {RECORD_VERSION + 1} is newer than this ressearch reads ({RECORD_VERSION}); "
        "upgrade ressearch"
    )


def test_trial_records_round_trip_through_a_storage(storage_url, unique_name):
    storage = open_storage(storage_url, heartbeat=False)
    study = optuna.create_study(study_name=unique_name, storage=storage)
    trial = study.ask()
    TrialRecord.started(
        architecture=FULL.architecture,
        train=FULL.train,
        seed=FULL.seed,
        worker=FULL.worker,
        worker_started=FULL.worker_started,
        devices=FULL.devices,
    ).write(trial)
    TrialRecord(resumed_from=FULL.resumed_from, warm_start=FULL.warm_start).write(trial)
    TrialRecord(
        model_artifact=FULL.model_artifact,
        model_params=FULL.model_params,
        metrics=FULL.metrics,
        curve=FULL.curve,
        epochs=FULL.epochs,
        train_seconds=FULL.train_seconds,
        seconds=FULL.seconds,
        worker_rss_mb=FULL.worker_rss_mb,
    ).write(trial)
    study.tell(trial, 0.75)
    newer = study.ask()
    TrialRecord(version=RECORD_VERSION + 1).write_to_storage(storage, newer._trial_id)
    study.tell(newer, state=TrialState.FAIL)
    plain = study.ask()
    study.tell(plain, 0.1)

    stored = optuna.load_study(study_name=unique_name, storage=open_storage(storage_url, heartbeat=False))
    first, second, third = stored.trials
    assert TrialRecord.from_trial(first) == FULL
    with pytest.raises(ConfigError, match=f"trial record version {RECORD_VERSION + 1} is newer"):
        TrialRecord.from_trial(second)
    assert TrialRecord.from_trial(third) == TrialRecord()


def test_study_meta_round_trips_through_a_storage(storage_url, unique_name, tmp_path):
    definition = parse_study(tiny_study(unique_name))
    meta = StudyMeta(
        definition=definition.to_dict(),
        artifacts=str(tmp_path / "models"),
        data={"n_train": 300, "input_shape": [8, 8, 1]},
        preprocessing={"version": 1, "scale": 16.0},
        class_names=[str(digit) for digit in range(10)],
    )
    assert meta.schema == STUDY_META_VERSION and meta.to_attrs() == {STUDY_ATTR: meta.to_attrs()[STUDY_ATTR]}
    storage = open_storage(storage_url, heartbeat=False)
    meta.write(optuna.create_study(study_name=unique_name, storage=storage))
    plain = optuna.create_study(study_name=f"{unique_name}-plain", storage=storage)
    plain.set_user_attr("note", "made by hand")

    reopened = open_storage(storage_url, heartbeat=False)
    stored = StudyMeta.from_study(optuna.load_study(study_name=unique_name, storage=reopened))
    assert stored == meta
    assert stored.study_definition() == definition
    assert (
        StudyMeta.from_study(optuna.load_study(study_name=f"{unique_name}-plain", storage=reopened)) is None
    )


def test_study_meta_from_a_newer_ressearch_is_refused(unique_name):
    study = optuna.create_study(study_name=unique_name)
    StudyMeta(definition={"study": {}}, artifacts="/tmp/x", schema=STUDY_META_VERSION + 1).write(study)
    with pytest.raises(ConfigError) as raised:
        StudyMeta.from_study(study)
    assert one_line(raised.value) == (
        f"study {unique_name!r} was written by a newer ressearch (metadata schema {STUDY_META_VERSION + 1}); "
        "upgrade ressearch"
    )


def test_user_attributes_are_read_and_written_only_by_the_record_module():
    result = subprocess.run(
        [
            "git",
            "grep",
            "--untracked",  # the package may hold files not yet committed
            "-n",
            "-E",
            r"user_attrs\[|user_attrs\.get\(|set_user_attr\(",
            "--",
            "ressearch",
            "benchmarks",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    hits = result.stdout.splitlines()
    files = {hit.split(":", 1)[0] for hit in hits}
    # The grep does find the record module's own reads and writes, so an empty result is a failure.
    assert files == {"ressearch/search/record.py"}, "\n".join(hits)
