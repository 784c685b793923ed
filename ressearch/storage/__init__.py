"""Storage: Optuna storages from URLs, studies by name, artifact stores for trained models.

Optuna and SQLAlchemy only: must not import Keras, TensorFlow or the data, training, search,
results or CLI layers. Every message names a URL through :func:`ressearch.redact.redact`.
"""

from ressearch.storage.artifacts import (
    ARTIFACTS_ENV,
    artifact_dir_for,
    download_artifact,
    download_model,
    open_artifact_store,
    remove_study_artifact,
    upload_model,
    upload_study_file,
)
from ressearch.storage.studies import load_study, study_names
from ressearch.storage.urls import DEFAULT_STORAGE, STORAGE_ENV, is_sqlite, open_storage, resolve_storage_url

__all__ = [
    "ARTIFACTS_ENV",
    "DEFAULT_STORAGE",
    "STORAGE_ENV",
    "artifact_dir_for",
    "download_artifact",
    "download_model",
    "is_sqlite",
    "load_study",
    "open_artifact_store",
    "open_storage",
    "remove_study_artifact",
    "resolve_storage_url",
    "study_names",
    "upload_model",
    "upload_study_file",
]
