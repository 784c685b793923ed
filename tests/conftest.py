"""Shared fixtures: a fresh Keras session per test, storages on both backends, study files.

The environment is set here as `ressearch.runtime.configure_runtime` sets it for the CLI, since
tests import the library, not the entry point.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
import yaml

from tests.helpers import tiny_study

POSTGRES_ADMIN = os.environ.get("RESSEARCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _fresh_keras_session() -> Iterator[None]:
    yield
    import sys

    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Models trained by tests go to the test's folder, never into the checkout."""
    monkeypatch.setenv("RESSEARCH_ARTIFACTS", str(tmp_path / "artifacts"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end.

    A server that does not answer fails the tests that need it: `make test` starts it.
    """
    import psycopg

    name = f"ressearch_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN} (make test starts it): {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _backend_url(request: pytest.FixtureRequest, folder: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'studies.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=BACKENDS)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage test runs on both backends: a fresh SQLite file, or this run's PostgreSQL database."""
    return _backend_url(request, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def module_storage_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same two backends for a module whose tests share one study run."""
    return _backend_url(request, tmp_path_factory.mktemp(f"storage-{request.param}"))


@pytest.fixture
def write_study(tmp_path: Path):
    """Write a study file and return its path; the default is :func:`tiny_study` named ``study``."""

    def write(data: dict[str, Any] | None = None, filename: str = "study.yaml") -> Path:
        data = tiny_study("study") if data is None else data
        path = tmp_path / filename
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    return f"t-{uuid.uuid4().hex[:8]}"
