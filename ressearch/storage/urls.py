"""Storage URLs -> Optuna storages; defaults, validation and redaction.

The storage is ``--storage URL``, else ``RESSEARCH_STORAGE``, else ``sqlite:///ressearch.db`` in the
current directory. SQLite (the embedded default) and PostgreSQL (through psycopg 3) are
supported. Passwords never leave this module unredacted: every error names the URL through
:func:`ressearch.redact.redact`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ressearch.errors import StorageError
from ressearch.redact import redact

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["DEFAULT_STORAGE", "STORAGE_ENV", "is_sqlite", "open_storage", "resolve_storage_url"]

DEFAULT_STORAGE = "sqlite:///ressearch.db"
STORAGE_ENV = "RESSEARCH_STORAGE"
_SQLITE_TIMEOUT_S = 60
_SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite 3 database
_HEARTBEAT_INTERVAL_S = 30
_GRACE_PERIOD_S = 120


def resolve_storage_url(url: str | None = None) -> str:
    """``url`` if given, else ``$RESSEARCH_STORAGE``, else the SQLite file in the current directory.

    ``postgresql://`` and ``postgres://`` URLs are given the psycopg 3 driver.
    """
    chosen = url or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(chosen)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise StorageError(
            f"storage: {redact(chosen)!r} is not a database URL; use sqlite:///PATH.db or "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in ("sqlite", "postgresql"):
        raise StorageError(
            f"storage: {redact(chosen)!r} uses {backend!r}; ressearch supports sqlite and postgresql"
        )
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    database = parsed.database
    if not database or database == ":memory:":
        raise StorageError(
            "storage: SQLite needs a file (sqlite:///PATH.db); an in-memory database keeps nothing"
        )
    file = Path(database).expanduser().resolve()
    if not file.parent.is_dir():
        raise StorageError(f"storage: the folder {file.parent} of {redact(chosen)!r} does not exist")
    _check_sqlite_file(file)
    return chosen


def _check_sqlite_file(file: Path) -> None:
    """An existing file must be an SQLite database: never let SQLite write into something else."""
    if file.is_dir():
        raise StorageError(f"storage: {file} is a folder; give the path of an SQLite file")
    try:
        with file.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as error:
        raise StorageError(f"storage: cannot read {file} ({error.strerror})") from None
    if header and header != _SQLITE_HEADER:
        raise StorageError(
            f"storage: {file} is not an SQLite database (it holds other data); "
            "give a new file name or the path of a ressearch database"
        )


def is_sqlite(url: str) -> bool:
    """Whether a resolved storage URL names an SQLite file (else a PostgreSQL server)."""
    return url.startswith("sqlite")


def _engine_kwargs(url: str) -> dict[str, Any]:
    if is_sqlite(url):
        # Several workers on one SQLite file wait for the lock instead of failing at once.
        return {"connect_args": {"timeout": _SQLITE_TIMEOUT_S}}
    # Optuna pre-pings only MySQL; long trials outlive idle PostgreSQL connections too.
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}


def open_storage(
    url: str | None = None,
    *,
    heartbeat: bool = True,
    grace_period: float = _GRACE_PERIOD_S,
    on_stale: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage for ``url`` (see :func:`resolve_storage_url`).

    With ``heartbeat``, running trials send a heartbeat every ``grace_period / 4`` seconds (at
    most 30), so a trial whose worker died is failed by the next worker after ``grace_period``
    seconds instead of staying RUNNING forever, and ``on_stale(study, trial)`` is called for it.

    Raises:
        StorageError: the URL is malformed or the database cannot be reached.
    """
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    resolved = resolve_storage_url(url)
    kwargs: dict[str, Any] = {}
    if heartbeat:
        kwargs = {
            "heartbeat_interval": max(1, int(min(_HEARTBEAT_INTERVAL_S, grace_period / 4))),
            "grace_period": int(grace_period),
            "heartbeat_stale_trial_callback": on_stale,
        }
    try:
        storage = optuna.storages.RDBStorage(resolved, engine_kwargs=_engine_kwargs(resolved), **kwargs)
        if is_sqlite(resolved):
            # Write-ahead logging, kept in the file: readers (the dashboard, `ressearch trials`)
            # never block the workers' writes, and writers wait on each other, not on readers.
            with storage.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        return storage
    except (SQLAlchemyError, OSError, RuntimeError) as error:
        reason = redact(str(getattr(error, "orig", None) or error)).strip().splitlines()
        first = reason[0] if reason else type(error).__name__
        raise StorageError(f"storage: cannot open {redact(resolved)!r}: {first}") from None
