"""How much a boosting search's test score owes to its draw of random configs.

``benchmarks/tabular.py`` tunes each boosting library over ``--configs`` random configs drawn
from a generator seeded by the split's seed: one draw per split. A study of ressearch is one
draw too (its sampler's seed). This reruns the holdout searches (``hist-gbdt`` and
``lightgbm``, each seconds a search) on the same splits with ``--draws`` different draws of
their configs (draw 0 is the benchmark's own, draw ``d`` seeds the generator with
``seed + 1000 * d``), and prints, per table and system, the mean test score over the seeds for
the benchmark's draw and the spread of that mean over all the draws. With ``--against`` (CSVs
of ``tabular.py``), it also prints where each ressearch row's mean over the same seeds falls
among the draws: the share of the draws whose mean it is at or above.

    .venv/bin/python benchmarks/boosting_draws.py --systems lightgbm --seeds 0 1 2 3 4 5 --draws 10 \\
        --against benchmarks/results/tabular-2026-12-06.csv benchmarks/results/tabular-seeds-3-5.csv
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from report import print_table, write_csv  # benchmarks/report.py
from tabular import (
    METRIC_NAMES,
    TABLES,
    better,
    hist_gradient_boosting,
    lightgbm_search,
    load_table,
    read_rows,
    split_dev_test,
)

SYSTEMS = ("hist-gbdt", "lightgbm")


def run(
    tables: list[str], seeds: list[int], draws: int, configs: int, systems: list[str]
) -> list[dict[str, Any]]:
    """One row per table, seed, system and draw: the test score of that draw's search."""
    rows: list[dict[str, Any]] = []
    for name in tables:
        frame, table = load_table(name)
        for seed in seeds:
            dev, test = split_dev_test(frame, table.task, seed)
            for system in systems:
                for draw in range(draws):
                    if system == "hist-gbdt":
                        result = hist_gradient_boosting(dev, test, table.task, seed, configs, draw=draw)
                    else:
                        found = lightgbm_search(dev, test, table.task, seed, configs, draw=draw)
                        if found is None:
                            sys.exit("benchmarks/boosting_draws.py: lightgbm is not installed (make setup)")
                        result = found
                    rows.append(
                        {
                            "table": name,
                            "task": table.task,
                            "metric": METRIC_NAMES[table.task],
                            "seed": seed,
                            "system": system,
                            "draw": draw,
                            "test": round(result.test, 4),
                            "seconds": round(result.seconds, 2),
                        }
                    )
    return rows


def spread(rows: list[dict[str, Any]], against: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Per table and system: the benchmark's draw (0) and the spread of the draws' means over the
    seeds; then each ressearch system of ``against`` on the same seeds, and the share of the
    draws (of every boosting system) whose mean it is at or above."""
    against = against or []
    out: list[dict[str, Any]] = []
    for table in dict.fromkeys(row["table"] for row in rows):
        mine = [row for row in rows if row["table"] == table]
        task, seeds = mine[0]["task"], sorted({row["seed"] for row in mine})
        means: dict[str, list[float]] = {}
        for system in dict.fromkeys(row["system"] for row in mine):
            draws = sorted({row["draw"] for row in mine if row["system"] == system})
            means[system] = [
                statistics.mean(
                    row["test"] for row in mine if row["system"] == system and row["draw"] == draw
                )
                for draw in draws
            ]
            out.append(
                {
                    "table": table,
                    "metric": mine[0]["metric"],
                    "system": system,
                    "seeds": len(seeds),
                    "draws": len(draws),
                    "benchmark's draw": f"{means[system][0]:.4f}",
                    "min": f"{min(means[system]):.4f}",
                    "median": f"{statistics.median(means[system]):.4f}",
                    "max": f"{max(means[system]):.4f}",
                    "at or above": "-",
                }
            )
        for system in dict.fromkeys(row["system"] for row in against if row["table"] == table):
            if not str(system).startswith("ressearch"):
                continue
            scores = [row["test"] for row in against if row["table"] == table and row["system"] == system]
            found = {row["seed"] for row in against if row["table"] == table and row["system"] == system}
            if found != set(seeds):
                continue  # another set of splits: no comparison
            value = statistics.mean(scores)
            every = [mean for values in means.values() for mean in values]
            share = sum(1 for mean in every if not better(task, mean, value)) / len(every)
            out.append(
                {
                    "table": table,
                    "metric": mine[0]["metric"],
                    "system": system,
                    "seeds": len(seeds),
                    "draws": "-",
                    "benchmark's draw": f"{value:.4f}",
                    "min": "-",
                    "median": "-",
                    "max": "-",
                    "at or above": f"{share:.0%} of {len(every)}",
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--draws", type=int, default=20, help="config draws per search (draw 0: the benchmark's)"
    )
    parser.add_argument("--configs", type=int, default=16, help="configs per search, as tabular.py's")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument(
        "--against", type=Path, nargs="+", help="CSVs of benchmarks/tabular.py: their ressearch rows"
    )
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/boosting_draws.csv"))
    args = parser.parse_args(argv)
    if args.draws < 1:
        sys.exit(f"--draws: at least 1, got {args.draws}")
    against = [row for path in args.against for row in read_rows(path, "--against")] if args.against else None
    rows = run(args.tables, args.seeds, args.draws, args.configs, args.systems)
    write_csv(args.csv, rows)
    table = spread(rows, against)
    print_table(list(table[0]), [list(row.values()) for row in table])
    return 0


if __name__ == "__main__":
    sys.exit(main())
