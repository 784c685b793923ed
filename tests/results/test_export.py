"""Exports: the best trial's files, written whole or not at all, and never the storage password.

One real tiny study per backend (a module fixture); on PostgreSQL its URL carries a password
(the local server trusts any), so every export of it can be searched for that password.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import create_trial

from ressearch.config import StudyDefinition
from ressearch.errors import ConfigError, StorageError
from ressearch.results import export_study
from ressearch.search import StudyMeta, TrialRecord, run_study
from ressearch.storage import download_model, load_study, open_storage
from tests.helpers import one_line, stored_config, stored_measurements, tiny_study

SECRET = "hunter2-very-secret"
EXPORTED = {"config.json", "model.keras", "metrics.json", "preprocessing.json", "trials.csv"}


@dataclass(frozen=True)
class RanStudy:
    name: str
    storage: str  # on PostgreSQL, with SECRET as the password
    artifacts: Path


@pytest.fixture(scope="module")
def ran(module_storage_url: str, tmp_path_factory: pytest.TempPathFactory) -> RanStudy:
    """A one-trial study, one epoch: enough to export."""
    folder = tmp_path_factory.mktemp("export")
    storage = module_storage_url.replace("postgres@", f"postgres:{SECRET}@", 1)  # trust auth takes any
    name = f"t-{uuid.uuid4().hex[:8]}"
    definition = StudyDefinition.from_dict(
        tiny_study(name, study={"n_trials": 1, "pruner": "none"}, train={"epochs": 1})
    )
    summary = run_study(definition, storage=storage, artifacts=folder / "artifacts")
    assert summary.complete == 1, summary
    return RanStudy(name, storage, folder / "artifacts")


def _leftovers(out: Path) -> list[Path]:
    """Staging folders an export left beside ``out``."""
    return list(out.parent.glob(f".{out.name}-*"))


@pytest.mark.slow
def test_export_writes_the_best_trials_files(ran, tmp_path):
    out = tmp_path / "exports" / "best"
    result = export_study(ran.name, out, storage=ran.storage)
    study = load_study(ran.name, ran.storage)
    trial = study.best_trial
    record = TrialRecord.from_trial(trial)
    meta = StudyMeta.from_study(study)
    assert result.out == out and result.trials == [trial.number] and result.folders == [out]
    assert {path.name for path in out.iterdir()} == EXPORTED
    assert not _leftovers(out)

    config = stored_config(study, trial)
    assert json.loads((out / "config.json").read_text()) == {
        "schema_version": 1,
        "study": ran.name,
        "trial": trial.number,
        "architecture": config.architecture,
        "train": config.train,
    }
    # The export's config.json is the trial's own, byte for byte as JSON.
    assert json.loads((out / "config.json").read_text()) == config.to_json(study=ran.name, trial=trial.number)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["number"] == trial.number and metrics["metric"] == "val_accuracy"
    assert metrics["value"] == trial.value and metrics["directions"] == ["maximize"]
    assert metrics["params"] == trial.params and metrics["model_params"] == record.model_params > 0
    assert (
        metrics["epochs"] == 1
        and metrics["curve"] == stored_measurements(study, trial).curve
        and metrics["split_seed"] == 0
    )
    assert metrics["data"] == meta.definition["data"] and metrics["data_summary"] == meta.data
    preprocessing = json.loads((out / "preprocessing.json").read_text())
    assert preprocessing == {**meta.preprocessing, "class_names": meta.class_names}
    assert preprocessing["version"] == 2 and preprocessing["kind"] == "image"
    assert len(meta.class_names) == 10

    # The model is the trial's stored artifact, byte for byte.
    stored = tmp_path / "stored.keras"
    download_model(ran.artifacts, record.model_artifact, stored, trial_number=trial.number)
    assert (out / "model.keras").read_bytes() == stored.read_bytes()
    table = pd.read_csv(out / "trials.csv")
    assert list(table["number"]) == [trial.number] and list(table["state"]) == ["COMPLETE"]
    assert table["val_accuracy"][0] == pytest.approx(trial.value)


@pytest.mark.slow
def test_an_empty_folder_is_used_and_a_full_one_is_kept_unless_forced(ran, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    export_study(ran.name, out, storage=ran.storage)
    assert {path.name for path in out.iterdir()} == EXPORTED

    (out / "notes.txt").write_text("keep me")
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    with pytest.raises(ConfigError) as raised:
        export_study(ran.name, out, storage=ran.storage)
    message = one_line(raised.value)
    assert message == f"--out: {out} exists and is not empty; choose a new folder or pass --force"
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    assert not _leftovers(out)

    export_study(ran.name, out, storage=ran.storage, force=True)
    assert {path.name for path in out.iterdir()} == EXPORTED
    assert not _leftovers(out)


@pytest.mark.slow
def test_a_study_ressearch_did_not_create_is_one_config_error_line(ran, tmp_path, unique_name):
    plain = optuna.create_study(study_name=unique_name, storage=open_storage(ran.storage, heartbeat=False))
    plain.add_trial(create_trial(value=1.0))
    out = tmp_path / "plain"
    with pytest.raises(ConfigError) as raised:
        export_study(unique_name, out, storage=ran.storage)
    assert one_line(raised.value) == (
        f"study {unique_name!r} was not created by ressearch: it has no stored models to export"
    )
    assert not out.exists() and not _leftovers(out)


@pytest.mark.slow
def test_a_missing_artifact_folder_is_a_storage_error_and_leaves_nothing(ran, tmp_path):
    moved = tmp_path / "moved"
    out = tmp_path / "exports" / "best"
    with pytest.raises(StorageError) as raised:
        export_study(ran.name, out, storage=ran.storage, artifacts=moved)
    message = one_line(raised.value)
    assert f"is not in {moved}" in message and "pass --artifacts DIR" in message
    assert SECRET not in message
    assert not out.exists() and not _leftovers(out)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("module_storage_url", ["postgres"], indirect=True)
def test_no_storage_password_or_url_in_any_exported_file(ran, tmp_path):
    database = ran.storage.rsplit("/", 1)[1]
    out = tmp_path / "export"
    export_study(ran.name, out, storage=ran.storage)
    files = [path for path in out.rglob("*") if path.is_file()]
    assert {path.name for path in files} == EXPORTED
    for path in files:
        content = path.read_bytes()
        assert SECRET.encode() not in content, path
        assert database.encode() not in content, path


@pytest.mark.slow
@pytest.mark.parametrize("module_storage_url", ["sqlite"], indirect=True)
def test_force_onto_a_regular_file_is_a_config_error(ran, tmp_path):
    out = tmp_path / "report.txt"
    out.write_text("not an export")
    with pytest.raises(ConfigError) as raised:
        export_study(ran.name, out, storage=ran.storage, force=True)
    assert str(out) in one_line(raised.value)
    assert not _leftovers(out)
