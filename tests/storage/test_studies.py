"""Studies by name: loading one on both backends, and an unknown name that lists the known ones."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from ressearch.errors import RessearchError, StorageError, StudyNotFoundError
from ressearch.storage import load_study, open_storage, resolve_storage_url, study_names
from tests.helpers import one_line


@pytest.fixture
def empty_storage_url(storage_url: str, tmp_path: Path) -> Iterator[str]:
    """A storage with no study at all: a new SQLite file, or a new PostgreSQL database."""
    if storage_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(storage_url)
    admin = server.set(database="postgres").render_as_string(hide_password=False)
    name = f"ressearch_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _create(storage_url: str, name: str, value: float) -> None:
    study = optuna.create_study(
        study_name=name, storage=open_storage(storage_url, heartbeat=False), direction="maximize"
    )
    study.add_trial(
        optuna.trial.create_trial(
            params={"x": 1.0}, distributions={"x": optuna.distributions.FloatDistribution(0, 2)}, value=value
        )
    )


def test_load_study_by_url_and_by_open_storage(storage_url, unique_name):
    _create(storage_url, unique_name, 0.75)
    by_url = load_study(unique_name, storage_url)
    by_storage = load_study(unique_name, open_storage(storage_url, heartbeat=False))
    for study in (by_url, by_storage):
        assert study.study_name == unique_name
        assert study.direction == optuna.study.StudyDirection.MAXIMIZE
        assert [(trial.value, trial.params) for trial in study.trials] == [(0.75, {"x": 1.0})]


def test_the_default_storage_is_the_file_in_the_current_folder(monkeypatch, tmp_path, unique_name):
    monkeypatch.delenv("RESSEARCH_STORAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    _create("sqlite:///ressearch.db", unique_name, 0.5)
    assert (tmp_path / "ressearch.db").is_file()
    assert load_study(unique_name).best_value == 0.5


def test_an_unknown_name_lists_the_studies_the_storage_has(storage_url, unique_name):
    first, second = f"{unique_name}-b", f"{unique_name}-a"
    _create(storage_url, first, 0.1)
    _create(storage_url, second, 0.2)
    with pytest.raises(StudyNotFoundError) as raised:
        load_study(f"{unique_name}-missing", storage_url)
    message = one_line(raised.value)
    head, listed = message.split("; it has: ")
    where = resolve_storage_url(storage_url)
    assert head == f"study '{unique_name}-missing' is not in {where} (--storage names another)"
    # The PostgreSQL database is shared by the whole test run: it lists every study, sorted.
    names = listed.split(", ")
    assert names == sorted(names) and {first, second} <= set(names)
    assert set(names) == set(study_names(open_storage(storage_url, heartbeat=False)))
    assert isinstance(raised.value, KeyError) and isinstance(raised.value, RessearchError)


def test_an_empty_storage_has_no_names_and_says_none(empty_storage_url):
    assert study_names(open_storage(empty_storage_url, heartbeat=False)) == []
    with pytest.raises(StudyNotFoundError) as raised:
        load_study("nope", empty_storage_url)
    where = resolve_storage_url(empty_storage_url)
    assert one_line(raised.value) == f"study 'nope' is not in {where} (--storage names another); it has: none"


def test_study_names_are_in_creation_order(storage_url, unique_name):
    created = [f"{unique_name}-z", f"{unique_name}-a", f"{unique_name}-m"]
    for name in created:
        _create(storage_url, name, 0.0)
    names = study_names(open_storage(storage_url, heartbeat=False))
    assert [name for name in names if name.startswith(unique_name)] == created


def test_a_bad_storage_url_is_a_storage_error_not_a_missing_study(tmp_path):
    with pytest.raises(StorageError) as raised:
        load_study("any", f"sqlite:///{tmp_path / 'no-such-folder' / 'studies.db'}")
    assert "does not exist" in one_line(raised.value)
