"""What a trained model scores: validation metrics named as in studies, inference latency."""

from __future__ import annotations

import time

import keras
import numpy as np

from ressearch.data.dataset import Dataset
from ressearch.training.compile import targets

__all__ = ["evaluate", "measure_latency"]


def evaluate(model: keras.Model, dataset: Dataset, *, batch_size: int = 256) -> dict[str, float]:
    """The validation metrics of ``model`` on ``dataset``'s validation split, named as in studies."""
    logs = model.evaluate(
        dataset.x_val,
        targets(dataset, dataset.y_val, model),
        batch_size=batch_size,
        verbose=0,
        return_dict=True,
    )
    return {f"val_{name}": float(value) for name, value in logs.items()}


def measure_latency(model: keras.Model, x: np.ndarray, *, repeats: int = 5) -> float:
    """Median milliseconds per sample for inference on a batch of up to 256 validation rows."""
    batch = x[: min(len(x), 256)]
    model.predict_on_batch(batch)  # trace and warm up
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        timings.append(time.perf_counter() - start)
    return float(np.median(timings)) * 1000.0 / len(batch)
