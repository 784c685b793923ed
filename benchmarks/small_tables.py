"""The loop benchmarks/embeddings.py and benchmarks/ensemble.py share: one small dense residual
net (one stage of two basic blocks, width 32) trained with each variant's fields on
scikit-learn's small tables, 10 epochs of Adam at 1e-3, batch 32, through ``train_trial`` (the
loop a study's trials run), over a few split seeds."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.data import DataConfig, load_dataset
from ressearch.training import train_trial

TRAIN = TrainConfig(epochs=10, batch_size=32, learning_rate=1e-3)


def compare(
    variants: Mapping[Any, Mapping[str, Any]], *, column: str, sources: Sequence[str], seeds: int
) -> list[dict[str, Any]]:
    """One row per table and variant: parameters, mean and spread of the validation accuracy,
    mean validation loss and training seconds (``column`` names the variant's column)."""
    rows = []
    for source in sources:
        for label, fields in variants.items():
            accuracies, losses, seconds, params = [], [], [], 0
            for seed in range(seeds):
                dataset = load_dataset(DataConfig(source=f"builtin:{source}"), seed=seed)
                config = ArchitectureConfig(
                    input_shape=dataset.input_shape,
                    outputs=dataset.outputs,
                    depths=(2,),
                    widths=(32,),
                    **fields,
                )
                result = train_trial(config, TRAIN, dataset, seed=seed)
                seconds.append(result.train_seconds)
                accuracies.append(result.metrics["val_accuracy"])
                losses.append(result.metrics["val_loss"])
                params = result.model_params
            rows.append(
                {
                    "data": source,
                    column: label,
                    "params": params,
                    "val_accuracy": round(statistics.mean(accuracies), 4),
                    "val_accuracy_sd": round(statistics.pstdev(accuracies), 4),
                    "val_loss": round(statistics.mean(losses), 4),
                    "train_seconds": round(statistics.mean(seconds), 1),
                }
            )
    return rows
