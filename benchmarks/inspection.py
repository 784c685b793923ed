"""Inspecting a big study: ressearch's read commands against Optuna's CLI, whole process.

Builds a study of ``--trials`` trials (default 100,000) on SQLite and on PostgreSQL: a real
ressearch study of two tiny trials (real models, a real artifact, real records), whose second
trial is then copied into every other trial number straight through SQL, with its own values,
states (70 % complete, 25 % pruned, 5 % failed), parameters, 20-epoch learning curves and
intermediate values, so every trial carries what a real one does. The best trial stays the
real first one, so ``export`` has its model. Then, in interleaved rounds, hyperfine times:

    ressearch studies            against   optuna studies
    ressearch best NAME          against   optuna best-trial --study-name NAME
    ressearch trials NAME -f csv against   optuna trials --study-name NAME -f json
    ressearch export NAME        against   optuna trials --study-name NAME -f json (what
                                           export must read: every trial, for trials.csv)

It prints a table (median seconds of each, ratio) and writes a CSV.

    .venv/bin/python benchmarks/inspection.py --trials 100000 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from report import hyperfine_round, print_table, require_hyperfine, write_csv  # benchmarks/report.py

BIN = Path(sys.executable).parent
POSTGRES_ADMIN = os.environ.get("RESSEARCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
NAME = "inspection"
EPOCHS = 20


def seed_study(folder: Path, url: str) -> None:
    """A real two-trial ressearch study on ``url``: its models in ``folder / artifacts``."""
    study = {
        "study": {"name": NAME, "metric": "val_accuracy", "sampler": "random", "n_trials": 2, "seed": 0},
        "data": {"source": "builtin:digits", "task": "classification", "max_rows": 300},
        "space": {"block_type": ["basic", "preact"], "stages": 1, "depth": 1, "width": [8, 12]},
        "train": {"epochs": 1, "batch_size": 64},
    }
    path = folder / "inspection.yaml"
    path.write_text(yaml.safe_dump(study), encoding="utf-8")
    env = {**os.environ, "RESSEARCH_ARTIFACTS": str(folder / "artifacts")}
    subprocess.run(
        [BIN / "ressearch", "run", str(path), "--storage", url],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def grow(url: str, total: int) -> None:
    """Copy the study's last trial into trial numbers 2 .. total-1, through SQL in bulk."""
    import optuna
    from optuna.storages._rdb import models
    from optuna.trial import TrialState
    from sqlalchemy import create_engine, insert, select
    from sqlalchemy.orm import Session

    from ressearch.storage.urls import resolve_storage_url

    engine = create_engine(resolve_storage_url(url))
    rng = random.Random(0)
    finite = models.TrialValueModel.TrialValueType.FINITE
    finite_step = models.TrialIntermediateValueModel.TrialIntermediateValueType.FINITE
    with Session(engine) as session:
        study_id = session.scalar(
            select(models.StudyModel.study_id).where(models.StudyModel.study_name == NAME)
        )
        best = session.scalar(
            select(models.TrialValueModel.value)
            .join(models.TrialModel)
            .where(models.TrialModel.study_id == study_id)
            .order_by(models.TrialValueModel.value.desc())
        )
        template = session.scalars(
            select(models.TrialModel)
            .where(models.TrialModel.study_id == study_id)
            .order_by(models.TrialModel.number)
        ).all()[-1]
        params = [(p.param_name, p.param_value, p.distribution_json) for p in template.params]
        attrs = {a.key: json.loads(a.value_json) for a in template.user_attributes}
        system = [(a.key, a.value_json) for a in template.system_attributes]
        start, complete = template._datetime_start_utc, template._datetime_complete_utc
        next_id = int(
            session.scalar(select(models.TrialModel.trial_id).order_by(models.TrialModel.trial_id.desc()))
        )
    chunk = 5000
    for first in range(2, total, chunk):
        trials, values, rows_params, rows_attrs, rows_system, rows_steps = [], [], [], [], [], []
        for number in range(first, min(first + chunk, total)):
            next_id += 1
            roll = rng.random()
            state = (
                TrialState.COMPLETE if roll < 0.70 else TrialState.PRUNED if roll < 0.95 else TrialState.FAIL
            )
            epochs = EPOCHS if state == TrialState.COMPLETE else rng.randint(1, EPOCHS - 1)
            curve = [round(rng.uniform(0.1, 0.99 * best), 4) for _ in range(epochs)]
            trials.append(
                {
                    "trial_id": next_id,
                    "number": number,
                    "study_id": study_id,
                    "state": state,
                    "datetime_start": start,
                    "datetime_complete": complete,
                }
            )
            if state == TrialState.COMPLETE:
                values.append({"trial_id": next_id, "objective": 0, "value": curve[-1], "value_type": finite})
            for name, internal, distribution in params:
                rows_params.append(
                    {
                        "trial_id": next_id,
                        "param_name": name,
                        "param_value": internal,
                        "distribution_json": distribution,
                    }
                )
            mine = {
                **attrs,
                "epochs": epochs,
                "curve": {"loss": curve, "val_loss": curve, "accuracy": curve, "val_accuracy": curve},
                "fail_reason": "the training loss became nan at epoch 3"
                if state == TrialState.FAIL
                else None,
            }
            for key, value in mine.items():
                if value is not None:
                    rows_attrs.append({"trial_id": next_id, "key": key, "value_json": json.dumps(value)})
            for key, value_json in system:
                rows_system.append({"trial_id": next_id, "key": key, "value_json": value_json})
            for step, value in enumerate(curve):
                rows_steps.append(
                    {
                        "trial_id": next_id,
                        "step": step,
                        "intermediate_value": value,
                        "intermediate_value_type": finite_step,
                    }
                )
        with engine.begin() as connection:
            connection.execute(insert(models.TrialModel.__table__), trials)
            if values:
                connection.execute(insert(models.TrialValueModel.__table__), values)
            connection.execute(insert(models.TrialParamModel.__table__), rows_params)
            connection.execute(insert(models.TrialUserAttributeModel.__table__), rows_attrs)
            if rows_system:
                connection.execute(insert(models.TrialSystemAttributeModel.__table__), rows_system)
            connection.execute(insert(models.TrialIntermediateValueModel.__table__), rows_steps)
    engine.dispose()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    assert len(optuna.load_study(study_name=NAME, storage=url).get_trials(deepcopy=False)) == total


def _fresh_postgres() -> str:
    import psycopg

    name = "ressearch_inspection"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def commands(url: str, folder: Path) -> list[tuple[str, str, str]]:
    """(question, ressearch's command, Optuna's command) for one storage."""
    ressearch, optuna = f"{BIN / 'ressearch'}", f"{BIN / 'optuna'}"
    export = folder / "export"
    env = f"RESSEARCH_ARTIFACTS={folder / 'artifacts'}"
    trials = f"{optuna} trials --study-name {NAME} --storage {url} -f json"
    return [
        ("studies", f"{ressearch} studies --storage {url}", f"{optuna} studies --storage {url}"),
        (
            "best",
            f"{ressearch} best {NAME} --storage {url}",
            f"{optuna} best-trial --study-name {NAME} --storage {url}",
        ),
        ("trials", f"{ressearch} trials {NAME} --storage {url} --format csv", trials),
        ("export", f"{env} {ressearch} export {NAME} --storage {url} --out {export} --force", trials),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved runs of each command")
    parser.add_argument(
        "--storages", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/inspection.csv"))
    args = parser.parse_args()
    require_hyperfine("inspection")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ressearch-inspection-") as tmp:
        for kind in args.storages:
            folder = Path(tmp) / kind
            folder.mkdir()
            url = f"sqlite:///{folder / 'inspection.db'}" if kind == "sqlite" else _fresh_postgres()
            started = time.perf_counter()
            seed_study(folder, url)
            grow(url, args.trials)
            print(
                f"{kind}: {args.trials:,} trials made in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            for question, ours, theirs in commands(url, folder):
                timings: dict[str, list[float]] = {"ressearch": [], "optuna": []}
                for round_ in range(args.rounds):
                    order = ["ressearch", "optuna"] if round_ % 2 == 0 else ["optuna", "ressearch"]
                    pair = {"ressearch": ours, "optuna": theirs}
                    for name, seconds in hyperfine_round(
                        {name: pair[name] for name in order}, folder
                    ).items():
                        timings[name].append(seconds)
                ratio = statistics.median(timings["ressearch"]) / statistics.median(timings["optuna"])
                row = {
                    "storage": kind,
                    "question": question,
                    "ressearch s": statistics.median(timings["ressearch"]),
                    "optuna s": statistics.median(timings["optuna"]),
                    "ratio": ratio,
                    "runs": args.rounds,
                }
                rows.append(row)
                print(row, file=sys.stderr, flush=True)
    print(f"{args.trials:,} trials, {os.cpu_count()} CPU cores, {time.strftime('%F')}")
    print_table(
        ["storage", "question", "ressearch s", "optuna CLI s", "ressearch / optuna"],
        [
            [row["storage"], row["question"], row["ressearch s"], row["optuna s"], row["ratio"]]
            for row in rows
        ],
    )
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
