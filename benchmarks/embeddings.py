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
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from report import print_table, write_csv  # benchmarks/report.py

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.data import DataConfig, load_dataset
from ressearch.training import train_trial

EMBEDDINGS: dict[str, dict[str, Any]] = {
    "none": {},
    "periodic": {"numeric_embedding": "periodic"},
    "plr": {"numeric_embedding": "plr"},
    "plr lite": {"numeric_embedding": "plr", "embedding_lite": True},
    "piecewise_linear": {"numeric_embedding": "piecewise_linear"},
}
TRAIN = TrainConfig(epochs=10, batch_size=32, learning_rate=1e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sources", nargs="+", default=["breast_cancer", "wine"])
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/embeddings.csv"))
    args = parser.parse_args()
    rows = []
    for source in args.sources:
        for label, fields in EMBEDDINGS.items():
            accuracies, losses, seconds, params = [], [], [], 0
            for seed in range(args.seeds):
                dataset = load_dataset(DataConfig(source=f"builtin:{source}"), seed=seed)
                config = ArchitectureConfig(
                    input_shape=dataset.input_shape,
                    outputs=dataset.outputs,
                    depths=(2,),
                    widths=(32,),
                    **fields,
                )
                started = time.perf_counter()
                result = train_trial(config, TRAIN, dataset, seed=seed)
                seconds.append(time.perf_counter() - started)
                accuracies.append(result.metrics["val_accuracy"])
                losses.append(result.metrics["val_loss"])
                params = result.model_params
            rows.append(
                {
                    "data": source,
                    "embedding": label,
                    "params": params,
                    "val_accuracy": round(statistics.mean(accuracies), 4),
                    "val_accuracy_sd": round(statistics.pstdev(accuracies), 4),
                    "val_loss": round(statistics.mean(losses), 4),
                    "seconds": round(statistics.mean(seconds), 1),
                }
            )
    print_table(list(rows[0]), [list(row.values()) for row in rows])
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
