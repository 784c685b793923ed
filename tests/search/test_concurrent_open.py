"""Processes that start together on a fresh database all succeed (optuna #1092, #3865, #4621).

A shell loop or a Kubernetes Job starts independent `ressearch run` / `worker` processes, and each
opens the storage, creates Optuna's schema if it is missing and creates the study if it is
missing. Without a lock, the losers of those races died ("table studies already exists", a
duplicate `alembic_version`, a duplicate `pg_type` row). Here 8 real processes open a fresh
database at the same instant through :func:`ressearch.search.prepare` (what `run` and `worker` do
before their first trial), ten times on each backend, and then run a whole study together
through :func:`ressearch.run_study`, which must end with exactly its total, its trials shared
among the processes. The processes are
started once and reused, so the rounds pay TensorFlow's import only once.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from ressearch.search import StudyMeta, TrialRecord, finished_trials
from ressearch.storage import load_study
from tests.helpers import tiny_study

pytestmark = pytest.mark.slow

PROCESSES = 8
ROUNDS = 10
TOTAL = 4  # the round that runs trials: half the processes train one each, the rest find no slot


def study_definition(name: str) -> dict[str, Any]:
    """A tiny dense study: breast_cancer rows, one small block, one epoch."""
    return tiny_study(
        name,
        study={"n_trials": TOTAL, "pruner": "none", "sampler": "random"},
        data={"source": "builtin:breast_cancer", "max_rows": 120, "validation_split": 0.25},
        space={"block_type": "basic", "stages": 1, "depth": 1, "width": 4},
        train={"epochs": 1, "batch_size": 32},
    )


def _racer(index: int, jobs: Any, results: Any) -> None:
    """One process: for each job, wait for its instant, then open the database and prepare (or run)
    the study."""
    from ressearch.config import parse_study
    from ressearch.runtime import import_tensorflow_quietly, quiet_optuna
    from ressearch.search import prepare, run_study
    from ressearch.storage import open_storage

    quiet_optuna()
    import_tensorflow_quietly()
    import ressearch.training.compile  # noqa: F401  (Keras: what prepare checks the task with)

    results.put("ready")
    while True:
        job = jobs.get()
        if job is None:
            return
        storage, name, trials, start_at = job
        definition = parse_study(study_definition(name))
        opened = []
        while time.time() < start_at:  # every process opens the fresh database at the same instant
            time.sleep(0.0005)
        try:
            # As `worker` does first on PostgreSQL; on SQLite `prepare` loads the data first, whose
            # time differs from process to process and would blur the instant.
            opened.append(open_storage(storage, heartbeat=False))
            if trials:
                done = run_study(definition, storage=storage, worker_index=index).done
            else:
                prepared = prepare(definition, storage=storage, worker_index=index)
                opened.append(prepared.study._storage)
                done = int(prepared.created)
            results.put((index, "ok", done))
        except BaseException as error:  # reported to the test, which fails with it
            results.put((index, f"{type(error).__name__}: {error}".splitlines()[0], None))
        finally:
            for backend in opened:  # give the server its connections back before the next round
                _dispose(backend)


def _dispose(backend: Any) -> None:
    engine = getattr(getattr(backend, "_backend", backend), "engine", None)  # behind Optuna's cache
    if engine is not None:
        engine.dispose()


@pytest.fixture(scope="module")
def racers(tmp_path_factory: pytest.TempPathFactory):
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each, as the CLI is
    jobs = [context.Queue() for _ in range(PROCESSES)]
    results = context.Queue()
    processes = [
        context.Process(target=_racer, args=(index, jobs[index], results), daemon=True)
        for index in range(PROCESSES)
    ]
    for process in processes:
        process.start()

    for _ in processes:  # each has imported what a run needs (TensorFlow included)
        assert results.get(timeout=600) == "ready"

    def race(storage: str, name: str, *, trials: bool) -> list[tuple[int, str, int | None]]:
        """Each process's (index, "ok" or its error, the run's total or whether it created the study)."""
        start_at = time.time() + 0.5
        for queue in jobs:
            queue.put((storage, name, trials, start_at))
        return sorted(results.get(timeout=600) for _ in range(PROCESSES))

    try:
        yield race
    finally:
        for queue in jobs:
            queue.put(None)
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()


@pytest.fixture
def fresh_databases(request: pytest.FixtureRequest, tmp_path: Path):
    """A function giving a new, empty database of the test's backend on each call."""
    if request.param == "sqlite":
        yield lambda: f"sqlite:///{tmp_path / f'fresh-{uuid.uuid4().hex[:8]}.db'}"
        return
    import psycopg

    from tests.conftest import POSTGRES_ADMIN

    made: list[str] = []

    def create() -> str:
        name = f"ressearch_race_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    try:
        yield create
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            for name in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(
    "fresh_databases", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_eight_processes_on_a_fresh_database_all_succeed_ten_times(racers, fresh_databases):
    for round_number in range(ROUNDS):
        storage = fresh_databases()
        outcomes = racers(storage, f"race-{round_number}", trials=False)
        failed = [outcome for outcome in outcomes if outcome[1] != "ok"]
        assert not failed, f"round {round_number}: {failed}"
        assert sum(outcome[2] or 0 for outcome in outcomes) == 1, "one process creates the study"
        assert StudyMeta.from_study(load_study(f"race-{round_number}", storage)) is not None
    # The same race, then every process runs trials until the study has its total.
    storage = fresh_databases()
    outcomes = racers(storage, "race-run", trials=True)
    assert [outcome[1] for outcome in outcomes] == ["ok"] * PROCESSES, outcomes
    study = load_study("race-run", storage)
    assert len(finished_trials(study)) == TOTAL
    assert all(trial.state.name == "COMPLETE" for trial in finished_trials(study))
    assert {outcome[2] for outcome in outcomes} == {TOTAL}  # each process saw the same total
    # The processes shared the study's trials (each records the worker, host:pid, that ran it).
    assert len({TrialRecord.from_trial(trial).worker for trial in finished_trials(study)}) > 1
