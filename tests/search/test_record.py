"""What ressearch stores in Optuna: trial records and study metadata, in one module only."""

from __future__ import annotations

import json
import subprocess
from dataclasses import fields, replace
from pathlib import Path

import optuna
import pytest
from optuna.artifacts import get_all_artifact_meta
from optuna.trial import TrialState

from ressearch import ConfigError
from ressearch.config import ArchitectureConfig, TrainConfig, parse_study
from ressearch.errors import StorageError
from ressearch.search.record import (
    HYPERMODEL_RECORD_VERSION,
    INTERRUPTED_REASON,
    RECORD_VERSION,
    RETRIED_REASON,
    STUDY_ATTR,
    STUDY_META_VERSION,
    StudyMeta,
    TrialConfig,
    TrialMeasurements,
    TrialRecord,
)
from ressearch.storage.artifacts import open_artifact_store
from ressearch.storage.urls import open_storage
from tests.helpers import one_line, tiny_study

REPO = Path(__file__).resolve().parents[2]

FULL = TrialRecord(
    version=RECORD_VERSION,
    network="basic conv2d, 1x1 blocks, widths 8",
    max_epochs=2,
    config_artifact="c0f1",
    metrics_artifact="m3e2",
    seed=7,
    worker="host:123",
    worker_started=4567.0,
    devices="0",
    threads=1,
    model_artifact="0f3c",
    model_params=1234,
    metrics={"val_accuracy": 0.75},
    epochs=2,
    train_seconds=1.25,
    worker_rss_mb=812.5,
    fail_reason=None,
    interrupted=None,
    surplus=None,
    resumed_from=3,
    warm_start="study:pilot#4",
)
# Held inline by records of version 1 and 2 only: read, never written by this version.
LEGACY_FIELDS = {"architecture", "hypermodel", "train", "curve", "seconds"}
CONFIG = TrialConfig(
    architecture=ArchitectureConfig(input_shape=(8, 8, 1), outputs=10, depths=(1,), widths=(8,)).to_dict(),
    train=TrainConfig(epochs=2).to_dict(),
)
MEASURED = TrialMeasurements(
    metrics={"val_accuracy": 0.75, "val_loss": 0.5, "model_params": 1234.0},
    curve={"loss": [1.0, 0.5], "val_accuracy": [0.5, 0.75]},
    seconds={"build": 0.2, "fit": 1.25},
    epochs=2,
    train_seconds=1.25,
    model_params=1234,
)


def test_trial_record_round_trips_through_attrs():
    attrs = FULL.to_attrs()
    assert TrialRecord.from_attrs(attrs) == FULL
    # The version is stored under the name the dashboard shows; None fields are left out.
    assert attrs["record_version"] == RECORD_VERSION and "version" not in attrs
    assert set(attrs) == {_name(item.name) for item in fields(TrialRecord)} - LEGACY_FIELDS - {
        "fail_reason",
        "interrupted",
        "surplus",
    }
    assert len(str(attrs)) < 500  # short: configs, curves and every metric are artifacts
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


NEWER = RECORD_VERSION + 1  # the newest version this ressearch reads, plus one


def test_a_record_from_a_newer_ressearch_is_refused():
    with pytest.raises(ConfigError) as raised:
        TrialRecord.from_attrs({**FULL.to_attrs(), "record_version": NEWER})
    assert one_line(raised.value) == (
        f"trial record version {NEWER} is newer than this ressearch reads ({RECORD_VERSION}); "
        "upgrade ressearch"
    )


def test_a_record_of_version_1_or_2_is_read_with_its_inline_configs_and_curve():
    inline = {
        "record_version": 1,
        "architecture": CONFIG.architecture,
        "train": CONFIG.train,
        "curve": MEASURED.curve,
        "seconds": MEASURED.seconds,
        "metrics": MEASURED.metrics,
        "epochs": 2,
        "train_seconds": 1.25,
        "model_params": 1234,
    }
    record = TrialRecord.from_attrs(inline)
    assert record.config(None) == CONFIG  # no artifact folder is needed for it
    assert record.measurements(None) == MEASURED
    assert record.describe_network() == CONFIG.describe() and record.planned_epochs == 2
    hypermodel = TrialRecord.from_attrs({"record_version": HYPERMODEL_RECORD_VERSION, "hypermodel": {"x": 1}})
    assert hypermodel.config(None) == TrialConfig(hypermodel={"x": 1})
    assert TrialRecord().config(None) is None and TrialRecord().measurements(None) == TrialMeasurements()


def _artifact_names(trial: object, storage: optuna.storages.BaseStorage) -> list[str]:
    return sorted(meta.filename for meta in get_all_artifact_meta(trial, storage=storage))  # type: ignore[arg-type]


def test_trial_records_round_trip_through_a_storage(storage_url, unique_name, tmp_path):
    storage = open_storage(storage_url, heartbeat=False)
    store = open_artifact_store(tmp_path / "artifacts")
    study = optuna.create_study(study_name=unique_name, storage=storage)
    trial = study.ask()
    TrialRecord.started(
        trial,
        store,
        CONFIG,
        seed=FULL.seed,
        worker=FULL.worker,
        worker_started=FULL.worker_started,
        devices=FULL.devices,
        threads=FULL.threads,
    )
    TrialRecord(resumed_from=FULL.resumed_from, warm_start=FULL.warm_start).write(trial)
    TrialRecord(
        model_artifact=FULL.model_artifact,
        metrics_artifact=TrialRecord.measured(trial, store, MEASURED),
        model_params=FULL.model_params,
        metrics=FULL.metrics,
        epochs=FULL.epochs,
        train_seconds=FULL.train_seconds,
        worker_rss_mb=FULL.worker_rss_mb,
    ).write(trial)
    study.tell(trial, 0.75)
    newer = study.ask()
    TrialRecord(version=NEWER).write_to_storage(storage, newer._trial_id)
    study.tell(newer, state=TrialState.FAIL)
    plain = study.ask()
    study.tell(plain, 0.1)

    stored = optuna.load_study(study_name=unique_name, storage=open_storage(storage_url, heartbeat=False))
    first, second, third = stored.trials
    record = TrialRecord.from_trial(first)
    assert record == replace(
        FULL,
        network=CONFIG.describe(),
        config_artifact=record.config_artifact,
        metrics_artifact=record.metrics_artifact,
    )
    assert record.config(tmp_path / "artifacts") == CONFIG
    assert record.measurements(tmp_path / "artifacts") == MEASURED
    assert _artifact_names(first, stored._storage) == ["config.json", "metrics.json"]
    with pytest.raises(StorageError) as missing:
        record.config(tmp_path / "elsewhere")
    assert "pass --artifacts DIR" in one_line(missing.value)
    with pytest.raises(ConfigError, match=f"trial record version {NEWER} is newer"):
        TrialRecord.from_trial(second)
    assert TrialRecord.from_trial(third) == TrialRecord()


def test_a_trial_started_without_a_store_records_its_network_and_its_config_later(unique_name, tmp_path):
    # A hypermodel's trial: its config.json waits until the hyperparameter values are known.
    store = open_artifact_store(tmp_path)
    study = optuna.create_study(study_name=unique_name)
    trial = study.ask()
    TrialRecord.started(trial, None, CONFIG, seed=1, worker="host:1")
    record = TrialRecord.from_trial(trial)
    assert record.config_artifact is None and record.network == CONFIG.describe() and record.max_epochs == 2
    stored = TrialRecord.with_config(trial, store, CONFIG)
    assert TrialRecord.from_trial(trial).config_artifact == stored.config_artifact
    assert TrialRecord.from_trial(trial).config(tmp_path) == CONFIG
    frozen = study._storage.get_trial(trial._trial_id)
    assert _artifact_names(frozen, study._storage) == ["config.json"]


def _study_meta(unique_name: str, tmp_path: Path) -> StudyMeta:
    return StudyMeta(
        definition=parse_study(tiny_study(unique_name)).to_dict(),
        artifacts=str(tmp_path / "models"),
        data={"n_train": 300, "input_shape": [8, 8, 1], "task": "classification"},
        preprocessing={"version": 1, "scale": 16.0},
        class_names=[str(digit) for digit in range(10)],
    )


def test_study_meta_round_trips_through_a_storage(storage_url, unique_name, tmp_path):
    meta = _study_meta(unique_name, tmp_path)
    storage = open_storage(storage_url, heartbeat=False)
    study = optuna.create_study(study_name=unique_name, storage=storage)
    written = meta.write(study)
    plain = optuna.create_study(study_name=f"{unique_name}-plain", storage=storage)
    plain.set_user_attr("note", "made by hand")

    reopened = open_storage(storage_url, heartbeat=False)
    loaded = optuna.load_study(study_name=unique_name, storage=reopened)
    attr = loaded.user_attrs[STUDY_ATTR]
    assert set(attr) == {"version", "schema", "summary", "artifacts", "file"} and len(str(attr)) < 300
    assert attr["schema"] == STUDY_META_VERSION and attr["artifacts"] == meta.artifacts
    stored = StudyMeta.from_study(loaded)
    assert stored == written == replace(meta, study_file=attr["file"])
    assert stored.study_definition() == parse_study(tiny_study(unique_name))
    assert StudyMeta.marks(loaded.user_attrs) and StudyMeta.folder_of(loaded) == tmp_path / "models"
    assert _listed(loaded) == ["study.json"]
    assert (
        StudyMeta.from_study(optuna.load_study(study_name=f"{unique_name}-plain", storage=reopened)) is None
    )
    # Resumed with the same metadata: nothing is written; with other metadata: the old file goes.
    assert meta.write(loaded, previous=stored) is stored
    changed = replace(meta, class_names=["a", "b"]).write(loaded, previous=stored)
    assert changed.study_file != stored.study_file
    assert StudyMeta.from_study(loaded) == changed
    assert _listed(loaded) == ["study.json"]
    assert not (tmp_path / "models" / str(stored.study_file)).exists()


def _listed(study: optuna.Study) -> list[str]:
    """The names of the study's artifacts, less those removed as optuna-dashboard removes them
    (their listing null, which Optuna's own get_all_artifact_meta does not skip)."""
    listings = [
        json.loads(value)
        for key, value in study._storage.get_study_system_attrs(study._study_id).items()
        if key.startswith("artifacts:")
    ]
    return sorted(listing["filename"] for listing in listings if listing is not None)


def test_study_meta_of_schema_1_is_read_inline(unique_name, tmp_path):
    meta = _study_meta(unique_name, tmp_path)
    study = optuna.create_study(study_name=unique_name)
    inline = {
        key: getattr(meta, key) for key in ("definition", "artifacts", "data", "preprocessing", "class_names")
    }
    study.set_user_attr(STUDY_ATTR, {**inline, "version": "0.1.0", "schema": 1})
    assert StudyMeta.from_study(study) == replace(meta, version="0.1.0", schema=1)  # no study.json needed


def test_study_meta_from_a_newer_ressearch_is_refused(unique_name):
    study = optuna.create_study(study_name=unique_name)
    study.set_user_attr(STUDY_ATTR, {"schema": STUDY_META_VERSION + 1, "artifacts": "/tmp/x", "file": "f"})
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
