"""Storage URLs -> Optuna storages; defaults, validation and redaction.

The storage is ``--storage URL``, else ``RESSEARCH_STORAGE``, else ``sqlite:///ressearch.db`` in the
current directory. SQLite (the embedded default), PostgreSQL (through psycopg 3) and Optuna's gRPC
storage proxy (``grpc://HOST:PORT``, served by ``ressearch storage-proxy``) are supported.
Passwords never leave this module unredacted: every error names the URL through
:func:`ressearch.redact.redact`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ressearch.errors import StorageError, StorageUnavailable
from ressearch.redact import redact

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = [
    "DEFAULT_STORAGE",
    "STORAGE_ENV",
    "creation_lock",
    "describe_storage",
    "heartbeat_interval",
    "is_grpc",
    "is_sqlite",
    "open_rdb_storage",
    "open_storage",
    "resolve_storage_url",
    "sqlite_file",
]

DEFAULT_STORAGE = "sqlite:///ressearch.db"
STORAGE_ENV = "RESSEARCH_STORAGE"
_SQLITE_TIMEOUT_S = 60
_HEARTBEAT_INTERVAL_S = 30
_GRACE_PERIOD_S = 120
_GRPC_CONNECT_S = 10
# A worker uses one connection for its trials and one for its heartbeat thread.
_WORKER_POOL = {"pool_size": 2, "max_overflow": 2}
# A server that answers but turns connections away for now: all its connection slots are taken
# (many workers starting at once) or it is still starting. psycopg gives no SQLSTATE for an error
# at connection time, so the server's own words are matched.
_BUSY_SERVER = ("too many clients", "too many connections", "the database system is starting up")
# What a server that does not answer, or a database file that cannot be written, says: the
# storage is named right but cannot be used now (StorageUnavailable, exit code 4).
_UNAVAILABLE = (
    "connection refused",
    "could not connect",
    "connection timeout",
    "timeout expired",
    "server closed the connection",
    "no route to host",
    "network is unreachable",
    "could not translate host name",
    "name or service not known",
    "temporary failure in name resolution",
    "readonly database",
    "read-only",
    "unable to open database file",
    "disk i/o error",
    "database or disk is full",
    *_BUSY_SERVER,
)
_LOCK_KEY = 0x7265737365  # "resse": the advisory lock that serialises creating ressearch's schema
_LOG = logging.getLogger("ressearch.storage")


def resolve_storage_url(url: str | None = None) -> str:
    """``url`` if given, else ``$RESSEARCH_STORAGE``, else the SQLite file in the current directory.

    ``postgresql://`` and ``postgres://`` URLs are given the psycopg 3 driver.
    """
    chosen = url or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE
    if chosen.startswith("grpc:"):
        _grpc_address(chosen)
        return chosen
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
    file = sqlite_file(chosen)
    if not file.parent.is_dir():
        raise StorageError(f"storage: the folder {file.parent} of {redact(chosen)!r} does not exist")
    _check_sqlite_file(file)
    return chosen


def sqlite_file(url: str) -> Path:
    """The file an ``sqlite:///PATH`` URL names, absolute (whether it exists or not).

    Raises:
        StorageError: the URL names no file (an in-memory database).
    """
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        raise StorageError(
            "storage: SQLite needs a file (sqlite:///PATH.db); an in-memory database keeps nothing"
        )
    return Path(database).expanduser().resolve()


def _check_access(url: str, *, read_only: bool) -> None:
    """Reading needs an existing database (a read never creates one); writing needs a file and
    folder that can be written (root ignores file modes, not an immutable file or a read-only
    mount), checked before SQLite fails half-way through a trial."""
    if not is_sqlite(url):
        return
    file = sqlite_file(url)
    if read_only:
        if not file.exists():
            raise StorageError(
                f"storage: no database at {file}; run a study first, or pass --storage (or set "
                f"{STORAGE_ENV}) to the database that holds it"
            )
        return
    for path, what in ((file, "the database file"), (file.parent, "its folder")):
        if path.exists() and not os.access(path, os.W_OK):
            raise StorageUnavailable(
                f"storage: {what} {path} cannot be written (read-only or immutable); make it writable, "
                "or pass --storage sqlite:///PATH.db for a database elsewhere"
            )


def _check_sqlite_file(file: Path) -> None:
    """An existing file must be an SQLite database: never let SQLite write into something else.

    SQLite itself reads the file (read-only, creating nothing). Reading it with ``open()`` and
    closing it would drop the POSIX locks every SQLite connection of this process holds on the
    file, and let another worker write into a transaction in progress: a corrupt database.
    """
    import sqlite3

    if file.is_dir():
        raise StorageError(f"storage: {file} is a folder; give the path of an SQLite file")
    if not file.exists():
        return
    try:
        probe = sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True, timeout=_SQLITE_TIMEOUT_S)
    except sqlite3.Error as error:
        raise StorageError(f"storage: cannot read {file} ({error})") from None
    try:
        probe.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error):
            raise StorageError(
                f"storage: {file} is not an SQLite database (it holds other data); "
                "give a new file name or the path of a ressearch database"
            ) from None
        raise StorageError(f"storage: cannot read {file} ({error})") from None
    finally:
        probe.close()


def _grpc_address(url: str) -> tuple[str, int]:
    """``(host, port)`` of a ``grpc://HOST:PORT`` URL."""
    host, _, port = url.removeprefix("grpc:").lstrip("/").rstrip("/").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise StorageError(
            f"storage: {redact(url)!r} is not a storage proxy address; use grpc://HOST:PORT "
            "(the address `ressearch storage-proxy` listens on)"
        )
    return host, int(port)


def describe_storage(storage: optuna.storages.BaseStorage | str) -> str:
    """A storage as messages name it: its URL with the password as ``***``.

    Example:
        >>> describe_storage("postgresql://bob:hunter2@db:5432/optuna")
        'postgresql://bob:***@db:5432/optuna'
    """
    if isinstance(storage, str):
        return redact(storage)
    backend = getattr(storage, "_backend", storage)  # Optuna's cache in front of an RDB storage
    url = getattr(backend, "url", None)
    if isinstance(url, str):
        return redact(url)
    redacted = getattr(backend, "redacted_url", None)
    return str(redacted) if redacted else type(backend).__name__


def heartbeat_interval(grace_period: float) -> int:
    """Seconds between a running trial's heartbeats: four in a grace period, at most 30 apart.

    Example:
        >>> heartbeat_interval(120), heartbeat_interval(10)
        (30, 2)
    """
    return max(1, int(min(_HEARTBEAT_INTERVAL_S, grace_period / 4)))


def is_sqlite(url: str) -> bool:
    """Whether a resolved storage URL names an SQLite file (else a PostgreSQL server or a proxy)."""
    return url.startswith("sqlite")


def is_grpc(url: str) -> bool:
    """Whether a resolved storage URL names a gRPC storage proxy."""
    return url.startswith("grpc:")


def _engine_kwargs(url: str, pool_size: int | None) -> dict[str, Any]:
    if is_sqlite(url):
        # Several workers on one SQLite file wait for the lock instead of failing at once.
        return {"connect_args": {"timeout": _SQLITE_TIMEOUT_S}}
    pool = _WORKER_POOL if pool_size is None else {"pool_size": pool_size, "max_overflow": 0}
    # Optuna pre-pings only MySQL; long trials outlive idle PostgreSQL connections, and a
    # restarted server leaves every pooled connection dead.
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}, **pool}


def open_storage(
    url: str | None = None,
    *,
    heartbeat: bool = True,
    grace_period: float = _GRACE_PERIOD_S,
    outage_s: float | None = None,
    on_stale: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    read_only: bool = False,
) -> optuna.storages.BaseStorage:
    """The Optuna storage for ``url`` (see :func:`resolve_storage_url`): an RDB storage (see
    :func:`open_rdb_storage`), or a client of the gRPC storage proxy at ``grpc://HOST:PORT``.

    Through the proxy there are no Optuna heartbeats: the search layer keeps its own (a trial
    attribute) to find trials whose worker vanished. ``outage_s`` (default ``grace_period``) is
    how long a call waits for a server that went away. ``read_only`` is for commands that only
    look: an SQLite file that does not exist is an error, not a new database.

    Raises:
        StorageError: the URL is malformed, or there is no database to read.
        StorageUnavailable: the database (or proxy) does not answer, or cannot be written.
    """
    resolved = resolve_storage_url(url)
    outage = grace_period if outage_s is None else outage_s
    if is_grpc(resolved):
        return _open_proxy(resolved, outage)
    return open_rdb_storage(
        resolved,
        heartbeat=heartbeat,
        grace_period=grace_period,
        outage_s=outage,
        on_stale=on_stale,
        read_only=read_only,
    )


def _open_proxy(url: str, outage_s: float) -> optuna.storages.BaseStorage:
    from ressearch.storage.outages import OutageTolerantProxy

    host, port = _grpc_address(url)
    proxy = OutageTolerantProxy(host=host, port=port, outage_s=outage_s)
    try:
        proxy.wait_server_ready(timeout=_GRPC_CONNECT_S)
    except ConnectionError:
        proxy.close()
        raise StorageUnavailable(
            f"storage: no storage proxy answers at {url} after {_GRPC_CONNECT_S} s; "
            "start one with `ressearch storage-proxy --storage URL`"
        ) from None
    return proxy


def open_rdb_storage(
    url: str | None = None,
    *,
    heartbeat: bool = True,
    grace_period: float = _GRACE_PERIOD_S,
    outage_s: float | None = None,
    on_stale: Callable[[optuna.Study, FrozenTrial], None] | None = None,
    pool_size: int | None = None,
    read_only: bool = False,
) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage for an SQLite or PostgreSQL ``url``.

    With ``heartbeat``, running trials send a heartbeat every ``grace_period / 4`` seconds (at
    most 30), so a trial whose worker died is failed by the next worker after ``grace_period``
    seconds instead of staying RUNNING forever, and ``on_stale(study, trial)`` is called for it.
    On PostgreSQL the pool holds at most ``pool_size`` connections (by default 2, what one worker
    needs, and 2 more at a peak), and a server that is down for a while (a restart) is
    waited for, with back-off, for up to ``outage_s`` seconds (default ``grace_period``); so is a
    server that turns connections away while opening (all its connection slots taken, still
    starting up). Any number of processes may open a fresh database at once: creating the schema
    is serialised (:func:`creation_lock`). ``read_only``: see :func:`open_storage`.

    Raises:
        StorageError: the URL is malformed, or there is no database to read.
        StorageUnavailable: the database does not answer, or cannot be written.
    """
    resolved = resolve_storage_url(url)
    if is_grpc(resolved):
        raise StorageError(f"storage: {resolved} is a storage proxy; give the database URL it serves")
    _check_access(resolved, read_only=read_only)
    outage = grace_period if outage_s is None else outage_s
    kwargs: dict[str, Any] = {}
    if heartbeat:
        kwargs = {
            "heartbeat_interval": heartbeat_interval(grace_period),
            "grace_period": int(grace_period),
            "heartbeat_stale_trial_callback": on_stale,
        }
    # Workers that start together may find every connection slot taken: wait for one as long
    # as a vanished worker's trial takes to be retried, longer than for a server that went away.
    deadline = time.monotonic() + max(outage, grace_period)
    wait = 0.5
    while True:
        try:
            return _open_rdb(resolved, pool_size, kwargs, outage, lock=not read_only)
        except StorageError as error:
            busy = any(words in str(error) for words in _BUSY_SERVER)
            if not busy or time.monotonic() + wait > deadline:
                raise
            _LOG.warning("%s; retrying in %.1f s", error, wait)
            time.sleep(wait)
            wait = min(wait * 2, 10.0)


def _open_rdb(
    resolved: str, pool_size: int | None, kwargs: dict[str, Any], outage_s: float, *, lock: bool
) -> optuna.storages.RDBStorage:
    import optuna

    from ressearch.storage.outages import OutageTolerantStorage

    with _storage_errors(resolved):
        engine_kwargs = _engine_kwargs(resolved, pool_size)
        # Optuna creates the tables on first open, and two processes doing that at once collide.
        fresh = lock and (is_sqlite(resolved) or not _schema_ready(resolved))
        with creation_lock(resolved) if fresh else _nothing():
            if is_sqlite(resolved):
                storage = optuna.storages.RDBStorage(resolved, engine_kwargs=engine_kwargs, **kwargs)
            else:
                storage = OutageTolerantStorage(
                    resolved, outage_s=outage_s, engine_kwargs=engine_kwargs, **kwargs
                )
        if is_sqlite(resolved):
            # Write-ahead logging, kept in the file: readers (the dashboard, `ressearch trials`)
            # never block the workers' writes, and writers wait on each other, not on readers.
            with storage.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        return storage


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def _storage_errors(resolved: str) -> Iterator[None]:
    """A database error while opening or locking as one line naming the storage: StorageUnavailable
    where the server does not answer or the file cannot be written, else StorageError."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (SQLAlchemyError, optuna.exceptions.StorageInternalError, OSError, RuntimeError) as error:
        # Optuna's StorageInternalError says only "during the commit": what it wraps says why.
        cause = error.__cause__ if isinstance(error, optuna.exceptions.StorageInternalError) else error
        reason = redact(str(getattr(cause, "orig", None) or cause or error)).strip().splitlines()
        first = reason[0] if reason else type(error).__name__
        message = f"storage: cannot open {redact(resolved)!r}: {first}"
        if any(words in first.lower() for words in _UNAVAILABLE):
            raise StorageUnavailable(
                f"{message}; check that it is up and reachable, then run again"
            ) from None
        raise StorageError(message) from None


@contextmanager
def creation_lock(url: str, storage: optuna.storages.BaseStorage | None = None) -> Iterator[None]:
    """Hold the storage's creation lock: only one process at a time creates the schema or a study.

    Optuna's maintainers leave this to the tool that starts workers (optuna #1092, #3865, #4621):
    processes that open a fresh database at once ("table studies already exists", a duplicate
    ``alembic_version``) or create the same study at once collide. PostgreSQL: a session advisory
    lock, on a connection of ``storage``'s own pool where it is open (so the lock takes no
    connection slot of the server's more), else of its own. SQLite: ``flock`` on the database's
    folder, which creates no file and leaves alone the POSIX locks SQLite's own connections hold
    on the database file.
    """
    resolved = resolve_storage_url(url)
    if is_grpc(resolved):  # the proxy's database exists already, and the proxy serialises calls
        yield
        return
    if is_sqlite(resolved):
        import fcntl

        folder = os.open(sqlite_file(resolved).parent, os.O_RDONLY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            yield
        finally:
            os.close(folder)  # closing the descriptor releases its flock
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    own = getattr(getattr(storage, "_backend", storage), "engine", None)
    with _storage_errors(resolved):
        engine = own or create_engine(resolved, poolclass=NullPool, connect_args={"connect_timeout": 10})
        connection = engine.connect()
    try:
        with _storage_errors(resolved):
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            connection.commit()
        yield
    finally:
        try:
            with _storage_errors(resolved):
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
                connection.commit()
        finally:
            connection.close()
            if own is None:
                engine.dispose()


def _schema_ready(resolved: str) -> bool:
    """Whether a PostgreSQL database holds Optuna's schema already: then opening creates nothing
    and takes no lock (a probe on a connection of its own, closed before the storage opens, so a
    server with few free connection slots is not asked for one more)."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.pool import NullPool

    with _storage_errors(resolved):
        engine = create_engine(resolved, poolclass=NullPool, connect_args={"connect_timeout": 10})
        try:
            with engine.connect() as connection:
                if not inspect(connection).has_table("alembic_version"):
                    return False
                return connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() > 0
        finally:
            engine.dispose()
