"""The exception root of ressearch and its few subclasses (the bottom layer: imports nothing).

Everything a person can fix (a bad config, study file, dataset or storage URL) raises a
subclass of :class:`RessearchError` whose message is one line naming the place and what is
allowed. The CLI prints that line and exits with code 2, or with code 4 for a storage that cannot
be used right now (:class:`StorageUnavailable`: try again later); anything else is a bug (exit 1).
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "HypermodelError",
    "RessearchError",
    "StorageError",
    "StorageUnavailable",
    "StudyFileError",
    "StudyNotFoundError",
    "TrialFailed",
]


class RessearchError(Exception):
    """Root of every error ressearch raises on purpose."""


class ConfigError(RessearchError, ValueError):
    """An architecture, training config or search space holds a value that is not allowed."""


class StudyFileError(ConfigError):
    """A study file cannot be read or does not validate."""


class HypermodelError(ConfigError):
    """A KerasTuner hypermodel does not fit its study (it builds no Keras model, compiles its own
    model while ``train:`` sets compile keys, logs no study metric, ...). Found while a trial
    builds or trains, it fails that trial and stops the run: every trial would fail alike."""


class DataError(RessearchError, ValueError):
    """A dataset cannot be loaded, or does not fit the study (column, array, shape)."""


class StorageError(RessearchError):
    """A storage URL is malformed or its database cannot be reached."""


class StorageUnavailable(StorageError):
    """The storage is well named but cannot be used now: its server does not answer (or went away
    for longer than the study waits), or its database file cannot be written. Not a mistake in the
    command: the same command works once the storage is back (the CLI's exit code 4)."""


class StudyNotFoundError(RessearchError, KeyError):
    """No study of that name exists in the storage."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TrialFailed(RessearchError):
    """One trial went wrong (NaN loss, out of memory, too large): it fails, the study goes on."""
