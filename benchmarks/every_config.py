"""Every config a search tried, scored once on the test rows: where the config it picked stands.

A search keeps the config with the best validation score. On a small table the validation rows
are few, and which config wins them is partly chance. This scores *every* config on the test rows
as well, to tell a search's space (how good its configs are) from its pick (which of them won the
validation rows). Per table and seed:

- ``lightgbm``: the ``--configs`` random configs of ``tabular.py``'s LightGBM search, tried
  exactly as it tries them (the same draw, inner split and early stopping);
- ``ressearch``: a study as ``tabular.py`` runs it (``space: tabular``, ``train: tabular``,
  ``--trials`` trials) but with ``pruner: none``, so that every trial completes and keeps its
  model; each trial is exported with ``ressearch export --trial N`` and scored through ``predict``
  on the test rows.

It prints, per table, system and seed, the picked config's test score with the lowest, median and
highest test score of all the configs, then their means over the seeds (a CSV keeps every config).
With one TensorFlow thread and one worker a study runs the same trials every time:

    TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 .venv/bin/python benchmarks/every_config.py \\
        --tables hmda --seeds 0 1 2 --csv benchmarks/results/every_config-hmda.csv
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from report import print_table, write_csv  # benchmarks/report.py
from tabular import (
    METRIC_NAMES,
    TABLES,
    better,
    check_study_keys,
    lightgbm_search,
    load_table,
    parse_study_keys,
    ressearch_study,
    score_export,
    split_dev_test,
)

SYSTEMS = ("lightgbm", "ressearch")
UNPRUNED = {"study": {"pruner": "none", "pruner_startup_trials": None, "pruner_warmup_epochs": None}}


def lightgbm_configs(name: str, seed: int, configs: int) -> list[dict[str, Any]]:
    """Each LightGBM config's validation and test score on one split, in the order tried."""
    frame, table = load_table(name)
    dev, test = split_dev_test(frame, table.task, seed)
    every: list[dict[str, Any]] = []
    if lightgbm_search(dev, test, table.task, seed, configs, every=every) is None:
        sys.exit("benchmarks/every_config.py: lightgbm is not installed (make setup)")
    return every


def study_trials(
    name: str,
    seed: int,
    trials: int,
    workers: int,
    keep: Path,
    study_keys: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Each trial's validation and test score of one split's unpruned study, by trial number.
    ``study_keys`` (``--study-keys``, as ``tabular.py``'s) change its study file too."""
    import optuna

    from ressearch.errors import ConfigError
    from ressearch.results import export_study
    from ressearch.storage import load_study

    frame, table = load_table(name)
    dev, test = split_dev_test(frame, table.task, seed)
    study_name = f"tabular-{name}-{seed}"
    try:
        ressearch_study(
            dev,
            test,
            table.task,
            seed,
            trials,
            study_name,
            workers=workers,
            keep=keep,
            study_keys=unpruned(study_keys),
        )
    except ConfigError as error:  # what only the data shows (label smoothing on a regression table)
        sys.exit(f"{study_name}: {error}")
    folder = keep / study_name
    storage = f"sqlite:///{folder / 'study.db'}"
    every = []
    for trial in load_study(study_name, storage).get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        out = folder / f"trial-{trial.number}"
        export_study(study_name, out, storage=storage, artifacts=folder / "artifacts", trial=trial.number)
        every.append(
            {"config": trial.number, "validation": trial.value, "test": score_export(out, test, table.task)}
        )
    return every


def unpruned(study_keys: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """``--study-keys`` with the pruner off, whatever they say of it."""
    keys = study_keys or {}
    return {**keys, "study": {**keys.get("study", {}), **UNPRUNED["study"]}}


def picked(task: str, every: list[dict[str, Any]]) -> dict[str, Any]:
    """The config a search keeps: the best validation score, the first tried on a tie."""
    best = every[0]
    for row in every[1:]:
        if better(task, row["validation"], best["validation"]):
            best = row
    return best


def summarize(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Per table, system and seed (then their ``mean``): the picked config's test score, and the
    lowest, median and highest test score over every config."""
    out: list[list[Any]] = []
    groups = dict.fromkeys((row["table"], row["system"]) for row in rows)
    for table, system in groups:
        task = TABLES[table].task
        seeds = dict.fromkeys(row["seed"] for row in rows if (row["table"], row["system"]) == (table, system))
        lines = []
        for seed in seeds:
            every = [
                row for row in rows if (row["table"], row["system"], row["seed"]) == (table, system, seed)
            ]
            tests = [row["test"] for row in every]
            line = [picked(task, every)["test"], min(tests), statistics.median(tests), max(tests)]
            lines.append(line)
            out.append(
                [table, METRIC_NAMES[task], system, seed, *(f"{value:.4f}" for value in line), len(every)]
            )
        means = [statistics.mean(line[index] for line in lines) for index in range(4)]
        out.append([table, METRIC_NAMES[task], system, "mean", *(f"{value:.4f}" for value in means), ""])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", nargs="+", default=["hmda"], choices=list(TABLES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configs", type=int, default=16, help="LightGBM configs per split, as tabular.py's")
    parser.add_argument("--trials", type=int, default=20, help="trials per study, as tabular.py's")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per study, as tabular.py's")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument(
        "--study-keys",
        type=parse_study_keys,
        help="JSON: keys to add to the studies' file by section, as tabular.py's (the pruner stays none)",
    )
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/every_config.csv"))
    args = parser.parse_args(argv)
    if "ressearch" in args.systems:  # a key the study file refuses: one line before anything runs
        check_study_keys(unpruned(args.study_keys), {TABLES[name].task for name in args.tables}, args.trials)
    rows: list[dict[str, Any]] = []
    # LightGBM first, before TensorFlow starts its thread pools in this process (see tabular.py).
    for system in [system for system in SYSTEMS if system in args.systems]:
        for name in args.tables:
            for seed in args.seeds:
                if system == "lightgbm":
                    every = lightgbm_configs(name, seed, args.configs)
                else:
                    with tempfile.TemporaryDirectory(prefix="ressearch-every-") as folder:
                        every = study_trials(
                            name, seed, args.trials, args.workers, Path(folder), args.study_keys
                        )
                rows += [{"table": name, "seed": seed, "system": system, **row} for row in every]
                print(f"{name} seed {seed} {system}: {len(every)} configs scored", flush=True)
    write_csv(args.csv, rows)
    print_table(
        ["table", "metric", "system", "seed", "picked", "lowest", "median", "highest", "configs"],
        summarize(rows),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
