"""Studies in a storage: their names, and loading one by name with a clear error."""

from __future__ import annotations

import optuna

from ressearch.errors import StudyNotFoundError
from ressearch.storage.urls import describe_storage, open_storage

__all__ = ["load_study", "study_names"]


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    """The names of the studies in ``storage``, in creation order."""
    # Not optuna.get_all_study_summaries: it loads every trial of every study to count them.
    return [study.study_name for study in storage.get_all_studies()]


def load_study(name: str, storage: str | optuna.storages.BaseStorage | None = None) -> optuna.Study:
    """The study ``name``; an unknown name lists the studies the storage has.

    ``storage`` is a URL (see :func:`~ressearch.storage.resolve_storage_url`) or an open storage;
    a URL is opened for reading, so a database that does not exist is an error, never created.

    Raises:
        StudyNotFoundError: no study of that name.
        StorageError: the storage cannot be opened, or holds no database.
    """
    backend = (
        storage
        if isinstance(storage, optuna.storages.BaseStorage)
        else open_storage(storage, heartbeat=False, read_only=True)
    )
    names = study_names(backend)
    if name not in names:
        known = ", ".join(sorted(names)) or "none"
        raise StudyNotFoundError(
            f"study {name!r} is not in {describe_storage(backend)} (--storage names another); it has: {known}"
        )
    return optuna.load_study(study_name=name, storage=backend)
