"""Artifact folders and stores: where models live, and a real file through a real trial and back."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import pytest

from ressearch.errors import StorageError
from ressearch.storage import (
    ARTIFACTS_ENV,
    STORAGE_ENV,
    artifact_dir_for,
    download_artifact,
    download_model,
    open_artifact_store,
    open_storage,
    remove_study_artifact,
    upload_model,
    upload_study_file,
)
from tests.helpers import one_line


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Neither artifact nor storage environment variable, in a fresh current folder."""
    monkeypatch.delenv(ARTIFACTS_ENV, raising=False)
    monkeypatch.delenv(STORAGE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path.resolve()


def test_models_live_beside_the_sqlite_file(no_env):
    (no_env / "runs").mkdir()
    beside = no_env / "runs" / "studies.db.artifacts"
    assert artifact_dir_for(f"sqlite:///{no_env / 'runs' / 'studies.db'}") == beside
    assert artifact_dir_for("sqlite:///relative.db") == no_env / "relative.db.artifacts"
    # No URL at all: the default storage, ressearch.db in the current folder.
    assert artifact_dir_for(None) == no_env / "ressearch.db.artifacts"


def test_postgresql_models_live_in_the_current_folder(no_env):
    assert artifact_dir_for("postgresql://bob:secret@db/optuna") == no_env / "ressearch-artifacts"


def test_the_environment_variable_and_an_explicit_folder_win(no_env, monkeypatch):
    sqlite = f"sqlite:///{no_env / 'studies.db'}"
    monkeypatch.setenv(ARTIFACTS_ENV, str(no_env / "from-env"))
    assert artifact_dir_for(sqlite) == no_env / "from-env"
    assert artifact_dir_for(sqlite, no_env / "explicit") == no_env / "explicit"
    assert artifact_dir_for(sqlite, "relative") == no_env / "relative"
    monkeypatch.setenv("HOME", str(no_env / "home"))
    assert artifact_dir_for(sqlite, "~/models") == no_env / "home" / "models"


def test_open_artifact_store_creates_the_folder(tmp_path):
    folder = tmp_path / "a" / "b" / "models"
    store = open_artifact_store(folder)
    assert isinstance(store, optuna.artifacts.FileSystemArtifactStore)
    assert folder.is_dir() and not any(folder.iterdir())


def test_a_folder_that_cannot_be_created_is_one_storage_error_line(tmp_path):
    # Root may write anywhere: a regular file where a parent folder should be fails for anyone.
    parent = tmp_path / "not-a-folder"
    parent.write_text("a file")
    with pytest.raises(StorageError) as raised:
        open_artifact_store(parent / "models")
    message = one_line(raised.value)
    assert message == f"artifacts: cannot create {parent / 'models'}: Not a directory"
    assert parent.read_text() == "a file"


def test_a_model_goes_up_with_its_trial_and_comes_back(storage_url, unique_name, tmp_path):
    model = tmp_path / "model.keras"
    content = os.urandom(4096)
    model.write_bytes(content)
    folder = tmp_path / "models"
    storage = open_storage(storage_url, heartbeat=False)
    study = optuna.create_study(study_name=unique_name, storage=storage)
    trial = study.ask()
    artifact_id = upload_model(open_artifact_store(folder), model, trial)
    study.tell(trial, 0.5)

    # The id is recorded with the trial in the database: read it back through a new connection.
    reopened = open_storage(storage_url, heartbeat=False)
    stored = optuna.load_study(study_name=unique_name, storage=reopened)
    metas = optuna.artifacts.get_all_artifact_meta(stored.trials[0], storage=reopened)
    assert [(meta.artifact_id, meta.filename) for meta in metas] == [(artifact_id, "model.keras")]

    destination = tmp_path / "back" / "model.keras"
    destination.parent.mkdir()
    download_model(folder, artifact_id, destination, trial_number=trial.number)
    assert destination.read_bytes() == content


def test_an_unknown_artifact_names_the_folder_and_the_option(tmp_path):
    folder = tmp_path / "models"
    open_artifact_store(folder)
    destination = tmp_path / "model.keras"
    with pytest.raises(StorageError) as raised:
        download_model(folder, "no-such-artifact", destination, trial_number=7)
    message = one_line(raised.value)
    assert message.startswith("artifacts: the model of trial 7 (no-such-artifact) is not in ")
    assert str(folder) in message and "pass --artifacts DIR" in message
    assert not destination.exists()


def test_downloading_from_a_missing_folder_does_not_create_it(tmp_path):
    folder = tmp_path / "moved" / "models"
    with pytest.raises(StorageError) as raised:
        download_model(folder, "some-artifact", tmp_path / "model.keras", trial_number=0)
    assert "pass --artifacts DIR" in one_line(raised.value)
    assert not folder.exists()


def test_a_study_file_goes_up_with_the_study_and_is_removed_as_the_dashboard_removes_it(
    storage_url, unique_name, tmp_path
):
    from optuna_dashboard.artifact._backend import list_study_artifacts  # what its study page lists

    source = tmp_path / "result.json"
    source.write_text('{"answer": 42}')
    folder = tmp_path / "models"
    store = open_artifact_store(folder)
    study = optuna.create_study(study_name=unique_name, storage=open_storage(storage_url, heartbeat=False))
    artifact_id = upload_study_file(store, source, study)

    reopened = optuna.load_study(study_name=unique_name, storage=open_storage(storage_url, heartbeat=False))
    metas = optuna.artifacts.get_all_artifact_meta(reopened)
    assert [(meta.artifact_id, meta.filename) for meta in metas] == [(artifact_id, "result.json")]
    back = tmp_path / "back.json"
    download_artifact(folder, artifact_id, back, what="the result")
    assert back.read_text() == '{"answer": 42}'

    remove_study_artifact(store, reopened, artifact_id)
    remove_study_artifact(store, reopened, artifact_id)  # twice: a file already gone is no error
    assert not any(path.is_file() for path in folder.rglob("*"))
    # optuna-dashboard lists the study's artifacts without it (its own deletions look the same).
    assert list_study_artifacts(reopened._storage.get_study_system_attrs(reopened._study_id)) == []
    with pytest.raises(StorageError) as raised:
        download_artifact(folder, artifact_id, back, what="the result")
    assert one_line(raised.value).startswith(f"artifacts: the result ({artifact_id}) is not in {folder}")
