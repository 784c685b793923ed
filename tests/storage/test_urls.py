"""Storage URLs: the default, the PostgreSQL driver, one-line errors without passwords, real storages."""

from __future__ import annotations

import logging
import uuid

import optuna
import pytest

from ressearch.errors import StorageError
from ressearch.storage import DEFAULT_STORAGE, STORAGE_ENV, open_storage, resolve_storage_url
from tests.helpers import one_line

SECRET = "hunter2-very-secret"


def test_default_is_the_sqlite_file_in_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(STORAGE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_STORAGE == "sqlite:///ressearch.db"
    assert resolve_storage_url() == DEFAULT_STORAGE
    assert resolve_storage_url(None) == resolve_storage_url("") == DEFAULT_STORAGE


def test_the_environment_variable_is_the_default_and_an_explicit_url_wins(monkeypatch, tmp_path):
    from_env = f"sqlite:///{tmp_path / 'env.db'}"
    explicit = f"sqlite:///{tmp_path / 'explicit.db'}"
    monkeypatch.setenv(STORAGE_ENV, from_env)
    assert resolve_storage_url() == from_env
    assert resolve_storage_url(explicit) == explicit


@pytest.mark.parametrize(
    "url",
    [
        f"postgres://bob:{SECRET}@db:5432/optuna",
        f"postgresql://bob:{SECRET}@db:5432/optuna",
        f"postgresql+psycopg2://bob:{SECRET}@db:5432/optuna",
    ],
)
def test_postgresql_urls_get_the_psycopg_3_driver(url):
    # The password is kept here: this is the URL the storage connects with, never a message.
    assert resolve_storage_url(url) == f"postgresql+psycopg://bob:{SECRET}@db:5432/optuna"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"mysql://bob:{SECRET}@db/optuna", "storage: 'mysql://bob:***@db/optuna' uses 'mysql'"),
        (f"oracle://bob:{SECRET}@db/optuna", "ressearch supports sqlite and postgresql"),
        ("studies.db", "storage: 'studies.db' is not a database URL; use sqlite:///PATH.db"),
        ("sqlite://", "an in-memory database keeps nothing"),
        ("sqlite:///:memory:", "SQLite needs a file (sqlite:///PATH.db)"),
        ("sqlite:////no/such/folder/studies.db", "the folder /no/such/folder of"),
    ],
)
def test_bad_urls_are_one_storage_error_line_without_the_password(url, expected):
    with pytest.raises(StorageError) as raised:
        resolve_storage_url(url)
    message = one_line(raised.value)
    assert expected in message
    assert SECRET not in message


def test_a_url_with_a_bad_port_is_a_storage_error():
    with pytest.raises(StorageError) as raised:
        resolve_storage_url(f"postgresql://bob:{SECRET}@db:notaport/optuna")
    assert SECRET not in one_line(raised.value)


@pytest.mark.parametrize(
    "url", [f"postgresql:/bob:{SECRET}@db/optuna", f"postgresql//bob:{SECRET}@db/optuna"]
)
def test_a_url_that_cannot_be_parsed_does_not_print_its_password(url):
    with pytest.raises(StorageError) as raised:
        resolve_storage_url(url)
    assert SECRET not in one_line(raised.value)


def test_open_storage_opens_a_real_storage_with_heartbeats(storage_url, unique_name):
    storage = open_storage(storage_url)
    backend = storage.engine.url.get_backend_name()
    assert storage.engine.url.drivername == ("sqlite" if backend == "sqlite" else "postgresql+psycopg")
    assert storage.heartbeat_interval == 30 and storage.grace_period == 120
    assert open_storage(storage_url, heartbeat=False).heartbeat_interval is None

    optuna.create_study(study_name=unique_name, storage=storage)
    reopened = open_storage(storage_url, heartbeat=False)
    assert unique_name in [summary.study_name for summary in optuna.get_all_study_summaries(reopened)]


def test_a_reader_never_creates_a_database_that_is_not_there(tmp_path, monkeypatch):
    missing = tmp_path / "missing.db"
    with pytest.raises(StorageError) as raised:
        open_storage(f"sqlite:///{missing}", heartbeat=False, read_only=True)
    assert one_line(raised.value) == (
        f"storage: no database at {missing}; run a study first, or pass --storage (or set "
        "RESSEARCH_STORAGE) to the database that holds it"
    )
    monkeypatch.chdir(tmp_path)  # relative to the current folder, as SQLite reads it
    with pytest.raises(StorageError, match="missing.db"):
        open_storage("sqlite:///missing.db", heartbeat=False, read_only=True)
    assert list(tmp_path.iterdir()) == []
    open_storage(f"sqlite:///{missing}", heartbeat=False)  # a run creates it
    assert isinstance(open_storage(f"sqlite:///{missing}", read_only=True), optuna.storages.RDBStorage)


def test_a_sqlite_path_that_is_not_a_database_is_one_storage_error_line_and_untouched(tmp_path):
    folder = tmp_path / "studies.db"
    folder.mkdir()
    with pytest.raises(StorageError) as raised:
        open_storage(f"sqlite:///{folder}")
    assert one_line(raised.value) == f"storage: {folder} is a folder; give the path of an SQLite file"
    notes = tmp_path / "notes.db"
    notes.write_text("my notes\n")
    with pytest.raises(StorageError) as raised:
        resolve_storage_url(f"sqlite:///{notes}")
    assert one_line(raised.value).startswith(f"storage: {notes} is not an SQLite database")
    assert notes.read_text() == "my notes\n"
    empty = tmp_path / "empty.db"
    empty.touch()  # an empty file is an empty SQLite database
    assert resolve_storage_url(f"sqlite:///{empty}") == f"sqlite:///{empty}"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://postgres:{SECRET}@127.0.0.1:1/nowhere",
        f"postgresql://postgres@127.0.0.1:1/nowhere?password={SECRET}",
    ],
)
def test_an_unreachable_postgresql_is_one_line_with_the_password_redacted(url):
    with pytest.raises(StorageError) as raised:
        open_storage(url)
    message = one_line(raised.value)
    assert message.startswith("storage: cannot open 'postgresql+psycopg://postgres")
    assert "127.0.0.1:1/nowhere" in message and "***" in message
    assert "refused" in message.lower()
    assert SECRET not in message


def test_checking_an_sqlite_file_keeps_the_locks_this_process_holds(tmp_path):
    """Reading the file with open()/close() would drop the POSIX locks SQLite holds on it in this
    process: in WAL mode another worker's process then takes itself for the last one, checkpoints
    and deletes the write-ahead log under this one's feet ("database disk image is malformed")."""
    import sqlite3
    import subprocess
    import sys

    database = tmp_path / "locks.db"
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("CREATE TABLE t (x)")
        holder.execute("INSERT INTO t VALUES (1)")
        resolve_storage_url(f"sqlite:///{database}")
        other = (
            f"import sqlite3; c = sqlite3.connect({str(database)!r}); c.execute('SELECT * FROM t'); c.close()"
        )
        subprocess.run([sys.executable, "-c", other], check=True, timeout=60)
        assert database.with_name("locks.db-wal").exists()  # the other process knew it was not the last
    finally:
        holder.close()


@pytest.mark.postgres
def test_a_server_with_no_connection_slot_free_is_waited_for_at_opening(postgres_url, caplog):
    """Many workers starting at once can take every connection the server allows ("too many
    clients already"): opening waits for a free one instead of failing. A role limited to three
    connections stands in for a full server (opening a fresh database takes one more than the
    storage's own: the creation lock's)."""
    import threading

    import psycopg

    role = f"ressearch_limited_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 3')
        admin.execute(f'CREATE DATABASE "{role}" OWNER "{role}"')
    try:
        url = postgres_url.rsplit("/", 1)[0].replace("postgres@", f"{role}@") + f"/{role}"
        holders = [psycopg.connect(url) for _ in range(3)]
        for holder in holders:
            threading.Timer(2.0, holder.close).start()
        with caplog.at_level(logging.WARNING, logger="ressearch.storage"):
            storage = open_storage(url, heartbeat=False, grace_period=30)
        assert storage.get_all_studies() == []
        assert any("too many connections" in record.getMessage() for record in caplog.records)
        storage.engine.dispose()
        # A server that stays full is given up on after the grace period, in one line.
        holders = [psycopg.connect(url) for _ in range(3)]
        with pytest.raises(StorageError) as raised:
            open_storage(url, heartbeat=False, grace_period=1)
        for holder in holders:
            holder.close()
        assert "too many connections" in one_line(raised.value)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{role}" WITH (FORCE)')
            admin.execute(f'DROP ROLE "{role}"')
