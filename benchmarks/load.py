"""Many workers on one study: trials per second and trials lost, per storage and worker count.

Each simulated worker is a real process that opens the storage the way ``ressearch worker``
does (``open_storage``: heartbeats, the sized and pre-pinged pool, outages waited out, or the
gRPC proxy) and runs a trivial objective under ressearch's slot rules (``take_slot``), so the
study must end with exactly its total. Storages: SQLite in WAL mode (ressearch's default),
Optuna's JournalStorage on a file (the alternative for one machine), PostgreSQL, and
``ressearch storage-proxy`` in front of PostgreSQL. "lost" counts the trials short of the total,
plus trials left RUNNING or failed by a storage error; "surplus" trials lost a slot race and are
not counted (that is the rule working, not a loss).

    .venv/bin/python benchmarks/load.py --workers 8 32 64 --trials 256
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

POSTGRES_ADMIN = os.environ.get("RESSEARCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
STORAGES = ("sqlite-wal", "journal-file", "postgres", "proxy")


class Surplus(Exception):
    """This worker lost the race for the last slot."""


def worker(url: str, name: str, total: int, seconds: float) -> None:
    """One simulated worker: trials until no slot is free (the study has its total)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    from ressearch.search.retry import free_slots, take_slot

    if url.startswith("journal:"):
        backend = optuna.storages.journal.JournalFileBackend(url.removeprefix("journal:"))
        storage: optuna.storages.BaseStorage = optuna.storages.JournalStorage(backend)
    else:
        from ressearch.storage.urls import open_storage

        storage = open_storage(url, grace_period=120)
    study = optuna.load_study(study_name=name, storage=storage)

    def objective(trial: optuna.Trial) -> float:
        if not take_slot(trial, total):
            raise Surplus()
        x = trial.suggest_float("x", -10, 10)
        time.sleep(seconds)  # the "training"
        return x * x

    while free_slots(study.get_trials(deepcopy=False), total) > 0:
        study.optimize(objective, n_trials=1, catch=(Surplus,))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fresh_postgres(tag: str) -> str:
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        POSTGRES_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    name = f"ressearch_load_{tag}"
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def scenario(kind: str, workers: int, total: int, seconds: float, folder: Path) -> dict[str, object]:
    name = f"load-{kind}-{workers}"
    proxy = None
    if kind == "sqlite-wal":
        url = f"sqlite:///{folder / name}.db"
        reader: str | optuna.storages.BaseStorage = url
    elif kind == "journal-file":
        url = f"journal:{folder / name}.log"
        reader = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(url.removeprefix("journal:"))
        )
    else:
        url = _fresh_postgres(f"{kind}_{workers}".replace("-", "_"))
        reader = url
    if kind == "proxy":
        port = _free_port()
        proxy = subprocess.Popen(
            [sys.executable, "-m", "ressearch", "storage-proxy", "--storage", url, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        from ressearch.storage.urls import open_storage

        for _ in range(60):
            try:
                open_storage(f"grpc://127.0.0.1:{port}")
                break
            except Exception:
                time.sleep(1)
        url = f"grpc://127.0.0.1:{port}"
    if kind != "journal-file":
        from ressearch.storage.urls import open_storage

        optuna.create_study(study_name=name, storage=open_storage(reader if kind != "proxy" else url))
    else:
        optuna.create_study(study_name=name, storage=reader)
    command = [sys.executable, __file__, "--worker", url, name, str(total), str(seconds)]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(workers)
    ]
    errors = [process.communicate()[1] for process in processes]
    wall = time.perf_counter() - started
    crashed = sum(process.returncode != 0 for process in processes)
    if proxy is not None:
        proxy.send_signal(signal.SIGINT)
        proxy.wait(timeout=30)
    from ressearch.search.retry import counted

    trials = optuna.load_study(study_name=name, storage=reader).get_trials(deepcopy=False)
    done = counted(trials)
    complete = [trial for trial in done if trial.state == TrialState.COMPLETE]
    first = min(trial.datetime_start for trial in trials if trial.datetime_start)
    last = max(trial.datetime_complete for trial in trials if trial.datetime_complete)
    running = sum(trial.state == TrialState.RUNNING for trial in trials)
    surplus = len(trials) - len(done) - running
    storage_failures = len(done) - len(complete)
    lost = max(0, total - len(complete)) + running
    message = next(
        (
            error.strip().splitlines()[-1]
            for error, process in zip(errors, processes, strict=True)
            if process.returncode != 0 and error.strip()
        ),
        "",
    )
    return {
        "storage": kind,
        "workers": workers,
        "complete": len(complete),
        "trials/s": len(complete) / max((last - first).total_seconds(), 1e-9),
        "wall s": wall,
        "lost": lost,
        "surplus": surplus,
        "failed": storage_failures,
        "crashed": crashed,
        "first error": message[:80],
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        url, name, total, seconds = sys.argv[2:6]
        worker(url, name, int(total), float(seconds))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--trials", type=int, default=256, help="the study's total")
    parser.add_argument("--seconds", type=float, default=0.05, help="each trial's simulated work")
    parser.add_argument("--storages", nargs="+", choices=STORAGES, default=list(STORAGES))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ressearch-load-") as tmp:
        for workers in args.workers:
            for kind in args.storages:
                row = scenario(kind, workers, args.trials, args.seconds, Path(tmp))
                rows.append(row)
                print(row, file=sys.stderr, flush=True)
    header = list(rows[0])
    print(f"{args.trials} trials, {args.seconds * 1000:.0f} ms each, {os.cpu_count()} CPU cores")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [f"{value:.1f}" if isinstance(value, float) else str(value) for value in row.values()]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
