"""Numeric embeddings against none on small real tables: validation accuracy, loss, parameters.

Trains the same dense residual net (one stage of two basic blocks, width 32) with each
``numeric_embedding`` at its default sizes on scikit-learn's breast_cancer and wine, 10 epochs of
Adam at 1e-3, batch 32, through ``train_trial`` (the loop a study's trials run), over a few
split seeds. Small tables and few epochs: a check that each embedding trains and what it costs,
not the paper's tuned comparison.

    .venv/bin/python benchmarks/embeddings.py --seeds 3
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from report import print_table, write_csv  # benchmarks/report.py
from small_tables import compare  # benchmarks/small_tables.py

EMBEDDINGS: dict[str, dict[str, Any]] = {
    "none": {},
    "periodic": {"numeric_embedding": "periodic"},
    "plr": {"numeric_embedding": "plr"},
    "plr lite": {"numeric_embedding": "plr", "embedding_lite": True},
    "piecewise_linear": {"numeric_embedding": "piecewise_linear"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sources", nargs="+", default=["breast_cancer", "wine"])
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/embeddings.csv"))
    args = parser.parse_args()
    rows = compare(EMBEDDINGS, column="embedding", sources=args.sources, seeds=args.seeds)
    print_table(list(rows[0]), [list(row.values()) for row in rows])
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
