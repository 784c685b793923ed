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
import statistics
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from report import print_table, write_csv  # benchmarks/report.py

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.data import DataConfig, load_dataset
from ressearch.training import train_trial

TRAIN = TrainConfig(epochs=10, batch_size=32, learning_rate=1e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--members", type=int, nargs="+", default=[1, 4, 8, 32])
    parser.add_argument("--sources", nargs="+", default=["breast_cancer", "wine"])
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/ensemble.csv"))
    args = parser.parse_args()
    rows = []
    for source in args.sources:
        for members in args.members:
            accuracies, losses, seconds, params = [], [], [], 0
            for seed in range(args.seeds):
                dataset = load_dataset(DataConfig(source=f"builtin:{source}"), seed=seed)
                config = ArchitectureConfig(
                    input_shape=dataset.input_shape,
                    outputs=dataset.outputs,
                    depths=(2,),
                    widths=(32,),
                    ensemble_k=members,
                )
                result = train_trial(config, TRAIN, dataset, seed=seed)
                seconds.append(result.train_seconds)
                accuracies.append(result.metrics["val_accuracy"])
                losses.append(result.metrics["val_loss"])
                params = result.model_params
            rows.append(
                {
                    "data": source,
                    "ensemble_k": members,
                    "params": params,
                    "val_accuracy": round(statistics.mean(accuracies), 4),
                    "val_accuracy_sd": round(statistics.pstdev(accuracies), 4),
                    "val_loss": round(statistics.mean(losses), 4),
                    "train_seconds": round(statistics.mean(seconds), 1),
                }
            )
    print_table(list(rows[0]), [list(row.values()) for row in rows])
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
