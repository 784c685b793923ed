"""Worker memory over many trials: one long-lived process against recycled worker processes.

Runs the same tiny study (conv ResNets on 400 digits, one epoch a trial) twice on a fresh
SQLite file: once as one `ressearch worker` process for every trial, once as
`ressearch run --workers 1 --recycle-after K`, where the supervisor replaces the worker process
every K trials. Each trial records its worker's resident memory after it (`worker_rss_mb`);
the table shows it at chosen trial counts, and the CSV has every trial.

    .venv/bin/python benchmarks/memory.py --trials 100 --recycle-after 20
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import yaml

from ressearch.search import TrialRecord

RESSEARCH = [sys.executable, "-m", "ressearch"]
MARKS = (1, 10, 25, 50, 75, 100, 150, 200)


def study_file(folder: Path, name: str, trials: int) -> Path:
    study = {
        "study": {
            "name": name,
            "metric": "val_accuracy",
            "sampler": "random",
            "pruner": "none",
            "n_trials": trials,
        },
        "data": {"source": "builtin:digits", "max_rows": 400, "validation_split": 0.25},
        "space": {"block_type": ["basic", "preact", "plain"], "stages": 1, "depth": 1, "width": [4, 8, 12]},
        "train": {"epochs": 1, "batch_size": 64, "optimizer": "adam", "learning_rate": 0.01},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def measure(
    scenario: str, command: list[str], storage: str, name: str, env: dict[str, str]
) -> dict[str, object]:
    started = time.perf_counter()
    ran = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if ran.returncode != 0:
        sys.exit(f"{scenario}: exit {ran.returncode}\n{ran.stdout[-2000:]}\n{ran.stderr[-3000:]}")
    study = optuna.load_study(study_name=name, storage=storage)
    rss = [
        TrialRecord.from_trial(trial).worker_rss_mb for trial in sorted(study.trials, key=lambda t: t.number)
    ]
    workers = {TrialRecord.from_trial(trial).worker for trial in study.trials}
    return {"scenario": scenario, "seconds": seconds, "rss": rss, "processes": len(workers)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--recycle-after", type=int, default=20)
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/memory.csv"))
    parser.add_argument(
        "--scenarios", nargs="+", choices=("one-process", "recycled"), default=["one-process", "recycled"]
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ressearch-memory-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, "RESSEARCH_ARTIFACTS": str(folder / "artifacts"), "TF_CPP_MIN_LOG_LEVEL": "3"}
        for scenario in args.scenarios:
            name = f"memory-{scenario}"
            storage = f"sqlite:///{folder / name}.db"
            path = study_file(folder, name, args.trials)
            if scenario == "one-process":
                command = [*RESSEARCH, "worker", str(path), "--index", "0"]
            else:
                command = [*RESSEARCH, "run", str(path), "--workers", "1"]
                command += ["--recycle-after", str(args.recycle_after)]
            rows.append(measure(scenario, [*command, "--storage", storage], storage, name, env))
    marks = [mark for mark in MARKS if mark <= args.trials]
    header = ["scenario", "processes", "wall s", *[f"RSS MB @{mark}" for mark in marks], "@last / @10"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        rss = row["rss"]
        at = [rss[mark - 1] for mark in marks]
        ratio = rss[-1] / rss[min(9, len(rss) - 1)] if rss[-1] and rss[min(9, len(rss) - 1)] else float("nan")
        cells = [
            row["scenario"],
            row["processes"],
            f"{row['seconds']:.0f}",
            *[f"{value:.0f}" for value in at],
        ]
        print("| " + " | ".join(map(str, [*cells, f"{ratio:.2f}"])) + " |")
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["scenario", "trial", "worker_rss_mb"])
        for row in rows:
            for number, value in enumerate(row["rss"]):
                writer.writerow([row["scenario"], number + 1, value])
    print(f"every trial: {args.csv}")


if __name__ == "__main__":
    main()
