"""Where trained models live: the artifact folder of a storage, and the Optuna artifact store.

Optuna artifacts on the file system; a trial's model is uploaded once and downloaded by export
and the dashboard, beside its ``config.json`` and ``metrics.json``; a study's own files (its
``study.json``, an ablation's result and plot) are study artifacts, replaced as the dashboard
deletes them. No Keras: files only.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ressearch.errors import StorageError
from ressearch.storage.urls import is_sqlite, resolve_storage_url

if TYPE_CHECKING:
    import optuna
    from optuna.artifacts import FileSystemArtifactStore

__all__ = [
    "ARTIFACTS_ENV",
    "artifact_dir_for",
    "download_artifact",
    "download_model",
    "open_artifact_store",
    "read_json_artifact",
    "remove_study_artifact",
    "upload_json",
    "upload_model",
    "upload_study_file",
]

ARTIFACTS_ENV = "RESSEARCH_ARTIFACTS"


def artifact_dir_for(url: str | None, artifacts: str | Path | None = None) -> Path:
    """Where trained models are stored: ``artifacts``, else ``$RESSEARCH_ARTIFACTS``, else beside
    the SQLite file (``NAME.db.artifacts``) or ``./ressearch-artifacts`` for PostgreSQL.

    Workers on several machines need a shared folder here (or set ``$RESSEARCH_ARTIFACTS``).
    """
    chosen = artifacts or os.environ.get(ARTIFACTS_ENV)
    if chosen:
        return Path(chosen).expanduser().resolve()
    resolved = resolve_storage_url(url)
    if is_sqlite(resolved):
        from sqlalchemy.engine import make_url

        database = make_url(resolved).database or "ressearch.db"
        return Path(database).expanduser().resolve().with_name(Path(database).name + ".artifacts")
    return Path("ressearch-artifacts").resolve()


def open_artifact_store(path: str | Path, *, create: bool = True) -> FileSystemArtifactStore:
    """The file-system artifact store at ``path``; the folder is created if missing, unless
    ``create`` is false (for readers: a store with nothing in it yet)."""
    from optuna.artifacts import FileSystemArtifactStore

    folder = Path(path)
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"artifacts: cannot create {folder}: {error.strerror}") from None
    return FileSystemArtifactStore(str(folder))


def upload_model(store: FileSystemArtifactStore, path: Path, trial: optuna.Trial) -> str:
    """Store the model file at ``path`` as an artifact of ``trial``; its artifact id."""
    import optuna

    return str(
        optuna.artifacts.upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=trial)
    )


def upload_study_file(store: FileSystemArtifactStore, path: Path, study: optuna.Study) -> str:
    """Store the file at ``path`` as an artifact of ``study`` itself (not of a trial); its id."""
    import optuna

    return str(
        optuna.artifacts.upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=study)
    )


def upload_json(
    store: FileSystemArtifactStore,
    data: Any,
    name: str,
    study_or_trial: optuna.Study | optuna.Trial,
) -> str:
    """Store ``data`` as the JSON file ``name`` (the name the dashboard lists), an artifact of
    ``study_or_trial``; its artifact id."""
    import optuna

    with tempfile.TemporaryDirectory(prefix="ressearch-json-") as folder:
        path = Path(folder) / name
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return str(
            optuna.artifacts.upload_artifact(
                artifact_store=store,
                file_path=str(path),
                study_or_trial=study_or_trial,
                mimetype="application/json",
            )
        )


def remove_study_artifact(store: FileSystemArtifactStore, study: optuna.Study, artifact_id: str) -> None:
    """Delete a study artifact as optuna-dashboard does: the file goes, its listing becomes null.

    Optuna cannot delete a study's system attribute; the dashboard skips a null one. A file
    already gone is no error (a second removal, or a store cleaned by hand).
    """
    from optuna.artifacts._upload import ARTIFACTS_ATTR_PREFIX  # the listing's key, as the dashboard uses it
    from optuna.artifacts.exceptions import ArtifactNotFound

    with contextlib.suppress(ArtifactNotFound):
        store.remove(artifact_id)
    key = ARTIFACTS_ATTR_PREFIX + artifact_id
    study._storage.set_study_system_attr(study._study_id, key, json.dumps(None))


def download_artifact(folder: Path, artifact_id: str, destination: Path, *, what: str) -> None:
    """Copy the artifact ``artifact_id`` (described as ``what`` in errors) from the store at
    ``folder`` to ``destination``.

    Raises:
        StorageError: the artifact is not in that folder (a study moved, or the wrong --artifacts).
    """
    import optuna

    if not folder.is_dir():  # reading never creates the folder (a typo, or models that moved)
        raise StorageError(
            f"artifacts: {what} ({artifact_id}) is not in {folder}: "
            "no such folder; pass --artifacts DIR where the study's models are"
        )
    store = open_artifact_store(folder, create=False)
    try:
        optuna.artifacts.download_artifact(
            artifact_store=store, file_path=str(destination), artifact_id=artifact_id
        )
    except Exception as error:  # the store raises its own not-found errors
        raise StorageError(
            f"artifacts: {what} ({artifact_id}) is not in {folder}: "
            f"{type(error).__name__}; pass --artifacts DIR where the study's models are"
        ) from None


def read_json_artifact(folder: Path, artifact_id: str, *, what: str) -> Any:
    """The JSON artifact ``artifact_id`` (described as ``what`` in errors) of the store at ``folder``.

    Raises:
        StorageError: the artifact is not in that folder, or is no JSON.
    """
    with tempfile.TemporaryDirectory(prefix="ressearch-json-") as scratch:
        path = Path(scratch) / "artifact.json"
        download_artifact(folder, artifact_id, path, what=what)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StorageError(f"artifacts: {what} ({artifact_id}) in {folder} is no JSON: {error}") from None


def download_model(folder: Path, artifact_id: str, destination: Path, *, trial_number: int) -> None:
    """Copy the model of trial ``trial_number`` from the store at ``folder`` to ``destination``.

    Raises:
        StorageError: the artifact is not in that folder (a study moved, or the wrong --artifacts).
    """
    download_artifact(folder, artifact_id, destination, what=f"the model of trial {trial_number}")
