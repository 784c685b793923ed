"""`export --refit` and `export --ensemble K` against the plain export, on rows no trial saw.

Runs the quickstart's search space (studies/quickstart.yaml: 8 trials of small conv ResNets,
6 epochs) on a seeded subsample of the digits images, keeping every other image out of the
study; then exports the best trial as it is, refitted on training + validation rows, and as the
mean of the 3 and 5 best trials, and scores each export through ``ressearch.predict`` on the
held-out images. Prints a table; writes benchmarks/results/refit.csv.

    .venv/bin/python benchmarks/refit.py --rows 900 --seeds 0 1
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import yaml
from sklearn.datasets import load_digits

from ressearch.config import StudyDefinition
from ressearch.data.split import subsample
from ressearch.results import export_study, predict
from ressearch.runtime import quiet_optuna
from ressearch.search import run_study

ROOT = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=900, help="images the study uses; the rest are held out")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="one study per seed")
    args = parser.parse_args()
    quiet_optuna()
    rows = [row for seed in args.seeds for row in run(args.rows, args.trials, seed)]
    print(f"{'seed':<5} {'export':<14} {'held-out acc':>12} {'seconds':>8}  note")
    for row in rows:
        accuracy, seconds = row["held_out_accuracy"], row["export_seconds"]
        print(f"{row['seed']:<5} {row['export']:<14} {accuracy:>12.4f} {seconds:>8.1f}  {row['note']}")
    target = ROOT / "results" / "refit.csv"
    target.parent.mkdir(exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {target}")


def run(size: int, trials: int, seed: int) -> list[dict[str, object]]:
    """One study of ``trials`` on ``size`` images (split and subsample seeded by ``seed``), its
    four exports scored on the held-out images."""
    study = yaml.safe_load((ROOT.parent / "studies" / "quickstart.yaml").read_text())
    study["study"].update({"name": "refit-bench", "n_trials": trials, "seed": seed})
    study["data"]["max_rows"] = size
    definition = StudyDefinition.from_dict(study)
    digits = load_digits()
    names = tuple(str(name) for name in digits.target_names)
    used = subsample(digits.target, "classification", names, size=size, seed=seed, notes=[])
    held_out = np.setdiff1d(np.arange(len(digits.target)), used)
    images, labels = digits.images[held_out], np.asarray(names)[digits.target[held_out]]

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="ressearch-refit-bench-") as folder:
        storage = f"sqlite:///{folder}/bench.db"
        started = time.perf_counter()
        summary = run_study(definition, storage=storage, artifacts=Path(folder) / "artifacts")
        search_seconds = time.perf_counter() - started
        best = summary.best_values
        print(
            f"seed {seed}, search: {summary.complete} complete trials in {search_seconds:.0f} s; best {best}"
        )
        for label, options in (
            ("best trial", {}),
            ("--refit", {"refit": True}),
            ("--ensemble 3", {"ensemble": 3}),
            ("--ensemble 5", {"ensemble": 5}),
        ):
            if options.get("ensemble", 0) > summary.complete:  # pruned trials left too few
                continue
            out = Path(folder) / label.strip("-").replace(" ", "-")
            started = time.perf_counter()
            result = export_study("refit-bench", out, storage=storage, **options)
            seconds = time.perf_counter() - started
            scored = predict(out, images)
            accuracy = float(np.mean(scored["prediction"].to_numpy() == labels))
            note = ""
            if result.refits:
                note = f"{result.refits[0]['train_rows']} rows, {result.refits[0]['epochs']} epochs"
            if result.ensemble is not None:
                note = f"trials {', '.join(map(str, result.trials))}"
            rows.append(
                {
                    "seed": seed,
                    "export": label,
                    "held_out_accuracy": round(accuracy, 4),
                    "held_out_rows": len(labels),
                    "export_seconds": round(seconds, 1),
                    "note": note,
                }
            )
    return rows


if __name__ == "__main__":
    main()
