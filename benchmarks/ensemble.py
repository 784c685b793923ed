"""Parameter-efficient ensembles (``ensemble_k``) against one net on small real tables.

Trains the same dense residual net (one stage of two basic blocks, width 32) as 1, 4, 8 and 32
members on scikit-learn's breast_cancer and wine, 10 epochs of Adam at 1e-3, batch 32, through
``train_trial`` (the loop a study's trials run), over a few split seeds: validation accuracy and
loss of the members' mean, parameters, training seconds. Small tables and few epochs: a check
that the ensembles train and what they cost, not TabM's tuned comparison.

    .venv/bin/python benchmarks/ensemble.py --seeds 3
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from report import print_table, write_csv  # benchmarks/report.py
from small_tables import compare  # benchmarks/small_tables.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--members", type=int, nargs="+", default=[1, 4, 8, 32])
    parser.add_argument("--sources", nargs="+", default=["breast_cancer", "wine"])
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/ensemble.csv"))
    args = parser.parse_args()
    rows = compare(
        {members: {"ensemble_k": members} for members in args.members},
        column="ensemble_k",
        sources=args.sources,
        seeds=args.seeds,
    )
    print_table(list(rows[0]), [list(row.values()) for row in rows])
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
