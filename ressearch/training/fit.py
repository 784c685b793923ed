"""Compile and fit one trial's model; measure what the study optimises.

Knows Keras and the dataset, not Optuna or the storage: pruning arrives as an ordinary Keras
callback from the study layer. A trial that goes wrong (NaN loss, out of memory, a model over
the size limit) raises :class:`TrialFailed` with one line saying why; the study goes on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras

from ressearch.arch.builder import build_model
from ressearch.config.architecture import ArchitectureConfig
from ressearch.config.training import TrainConfig
from ressearch.data.dataset import Dataset
from ressearch.errors import TrialFailed
from ressearch.training.callbacks import CurveRecorder
from ressearch.training.checkpoint import EpochCheckpointer, read_checkpoint
from ressearch.training.compile import compile_model, targets
from ressearch.training.measure import evaluate, measure_latency

__all__ = ["TrialResult", "train_trial"]


@dataclass
class TrialResult:
    """What one trained trial measured; ``metrics`` holds every objective the task allows."""

    metrics: dict[str, float]
    curve: dict[str, list[float]]
    epochs: int
    train_seconds: float
    model_params: int


def train_trial(
    architecture: ArchitectureConfig,
    train: TrainConfig,
    dataset: Dataset,
    *,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    recorder: CurveRecorder | None = None,
    max_params: int | None = None,
    save_to: Path | None = None,
    checkpoint: Path | None = None,
    verbose: int = 0,
) -> TrialResult:
    """Build, compile and fit one trial; evaluate the final model on the validation split.

    The recorded metrics are those of the model as saved to ``save_to`` (the best epoch's
    weights when early stopping restores them), so an exported model scores what was recorded.
    With ``checkpoint`` (a folder), every epoch ends with a checkpoint there, and a checkpoint
    found there at the start is continued: weights, optimizer state and the learning curve are
    restored, training goes on from the next epoch, and the random generators are seeded from
    ``seed`` and that epoch. (Early stopping counts its patience from the resumed epoch.)

    Raises:
        TrialFailed: NaN loss, out of memory, or more than ``max_params`` parameters.
    """
    # One collection a trial: clear_session() runs it after dropping Keras' global state
    # (benchmarks/collect.py: a second or third collection frees nothing and costs ~0.3 s).
    keras.backend.clear_session(free_memory=True)
    keras.utils.set_random_seed(seed)
    model = build_model(architecture)
    params = model.count_params()
    if max_params is not None and params > max_params:
        raise TrialFailed(f"the model has {params:,} parameters, above study.max_params={max_params:,}")
    compile_model(model, train, dataset)
    recorder = recorder or CurveRecorder()
    all_callbacks: list[keras.callbacks.Callback] = [recorder]
    initial_epoch = 0
    if checkpoint is not None:
        found = read_checkpoint(checkpoint)
        if found is not None:
            found.restore(model)
            recorder.curve.update({name: list(values) for name, values in found.curve.items()})
            initial_epoch = found.epochs
            keras.utils.set_random_seed(seed + initial_epoch)
        all_callbacks.append(EpochCheckpointer(checkpoint, recorder.curve))
    all_callbacks.extend(callbacks)  # the pruner after the checkpoint: a pruned epoch is saved too
    if train.early_stopping_patience:
        all_callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=train.early_stopping_patience, restore_best_weights=True
            )
        )
    start = time.perf_counter()
    try:
        model.fit(
            dataset.x_train,
            targets(dataset, dataset.y_train),
            validation_data=(dataset.x_val, targets(dataset, dataset.y_val)),
            epochs=train.epochs,
            initial_epoch=initial_epoch,
            batch_size=train.batch_size,
            class_weight=dataset.class_weight,
            callbacks=all_callbacks,
            shuffle=True,
            verbose=verbose,
        )
    except Exception as error:
        if "ResourceExhausted" in type(error).__name__ or "out of memory" in str(error).lower():
            raise TrialFailed(f"out of memory while training ({type(error).__name__})") from None
        raise
    train_seconds = time.perf_counter() - start
    metrics = evaluate(model, dataset)
    if not all(math.isfinite(value) for value in metrics.values()):
        raise TrialFailed(f"the validation metrics are not finite: {metrics}")
    metrics["model_params"] = float(params)
    metrics["latency"] = measure_latency(model, dataset.x_val)
    if save_to is not None:
        model.save(save_to)
    return TrialResult(
        metrics=metrics,
        curve=recorder.curve,
        epochs=len(recorder.curve.get("loss", [])),
        train_seconds=train_seconds,
        model_params=params,
    )
