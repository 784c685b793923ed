"""Compile and fit one trial's model; measure what the study optimises.

Knows Keras and the dataset, not Optuna or the storage: pruning arrives as an ordinary Keras
callback from the study layer. A trial that goes wrong (NaN loss, out of memory, a model over
the size limit) raises :class:`TrialFailed` with one line saying why; the study goes on.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ressearch.builder import build_model
from ressearch.config import ArchitectureConfig, TrainConfig
from ressearch.data import Dataset
from ressearch.errors import ConfigError, TrialFailed

__all__ = [
    "CurveRecorder",
    "TrialResult",
    "check_task",
    "compile_model",
    "evaluate",
    "measure_latency",
    "train_trial",
]

# Which validation metrics each task can report, and the Keras metric behind each.
_TASK_METRICS = {
    "binary": ("val_accuracy", "val_loss", "val_auc"),
    "multiclass": ("val_accuracy", "val_loss"),
    "regression": ("val_rmse", "val_loss"),
}
_ALWAYS = ("params", "latency")


def _task_kind(dataset: Dataset) -> str:
    if dataset.task == "regression":
        return "regression"
    return "binary" if dataset.outputs == 1 else "multiclass"


def check_task(metrics: Sequence[str], dataset: Dataset, *, label_smoothing: bool = False) -> None:
    """Fail before any trial (and before a study is created) if the study does not fit the task:
    a metric the task cannot measure, or label smoothing on sparse multiclass labels."""
    kind = _task_kind(dataset)
    if label_smoothing and kind != "binary":
        raise ConfigError(f"train.label_smoothing: supported for binary tasks only, and this task is {kind}")
    allowed = (*_TASK_METRICS[kind], *_ALWAYS)
    for metric in metrics:
        if metric not in allowed:
            raise ConfigError(
                f"study.metric: {metric} cannot be measured on a {kind} task; use one of {', '.join(allowed)}"
            )


@dataclass
class TrialResult:
    """What one trained trial measured; ``metrics`` holds every objective the task allows."""

    metrics: dict[str, float]
    curve: dict[str, list[float]]
    epochs: int
    train_seconds: float
    params: int


class CurveRecorder(keras.callbacks.Callback):
    """Keeps every epoch's logs, also when a later callback stops the fit by raising."""

    def __init__(self) -> None:
        super().__init__()
        self.curve: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for name, value in (logs or {}).items():
            self.curve.setdefault(name, []).append(float(value))
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrialFailed(f"the training loss became {float(loss)} at epoch {epoch + 1}")


def _optimizer(train: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    learning_rate: Any = train.learning_rate
    if train.schedule == "cosine":
        total = max(1, train.epochs * steps_per_epoch)
        warmup = train.warmup_epochs * steps_per_epoch
        if warmup:
            learning_rate = keras.optimizers.schedules.CosineDecay(
                0.0, total - warmup, warmup_target=train.learning_rate, warmup_steps=warmup
            )
        else:
            learning_rate = keras.optimizers.schedules.CosineDecay(train.learning_rate, total)
    common: dict[str, Any] = {"learning_rate": learning_rate, "clipnorm": train.clipnorm}
    if train.weight_decay:
        common["weight_decay"] = train.weight_decay
    if train.optimizer == "adam":
        return keras.optimizers.Adam(**common)
    if train.optimizer == "adamw":
        return keras.optimizers.AdamW(**{"weight_decay": 0.0, **common})
    if train.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=train.momentum, nesterov=train.momentum > 0, **common)
    return keras.optimizers.RMSprop(momentum=train.momentum, **common)


def compile_model(model: keras.Model, train: TrainConfig, dataset: Dataset) -> None:
    """Loss and metrics for the dataset's task; the metric names match the study's metrics."""
    kind = _task_kind(dataset)
    steps = max(1, math.ceil(len(dataset.x_train) / train.batch_size))
    metrics: list[Any]
    if kind == "regression":
        loss: Any = keras.losses.MeanSquaredError()
        metrics = [keras.metrics.RootMeanSquaredError(name="rmse")]
    elif kind == "binary":
        loss = keras.losses.BinaryCrossentropy(label_smoothing=train.label_smoothing)
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]
    else:
        if train.label_smoothing:
            raise ConfigError("train.label_smoothing: supported for binary tasks only (sparse labels)")
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=_optimizer(train, steps), loss=loss, metrics=metrics)


def _targets(dataset: Dataset, y: np.ndarray) -> np.ndarray:
    if _task_kind(dataset) == "binary":
        return y.astype("float32").reshape(-1, 1)
    return y


def evaluate(model: keras.Model, dataset: Dataset, *, batch_size: int = 256) -> dict[str, float]:
    """The validation metrics of ``model`` on ``dataset``'s validation split, named as in studies."""
    logs = model.evaluate(
        dataset.x_val, _targets(dataset, dataset.y_val), batch_size=batch_size, verbose=0, return_dict=True
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
    verbose: int = 0,
) -> TrialResult:
    """Build, compile and fit one trial; evaluate the final model on the validation split.

    The recorded metrics are those of the model as saved to ``save_to`` (the best epoch's
    weights when early stopping restores them), so an exported model scores what was recorded.

    Raises:
        TrialFailed: NaN loss, out of memory, or more than ``max_params`` parameters.
    """
    keras.backend.clear_session()
    gc.collect()
    keras.utils.set_random_seed(seed)
    model = build_model(architecture)
    params = model.count_params()
    if max_params is not None and params > max_params:
        raise TrialFailed(f"the model has {params:,} parameters, above study.max_params={max_params:,}")
    compile_model(model, train, dataset)
    recorder = recorder or CurveRecorder()
    all_callbacks: list[keras.callbacks.Callback] = [recorder, *callbacks]
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
            _targets(dataset, dataset.y_train),
            validation_data=(dataset.x_val, _targets(dataset, dataset.y_val)),
            epochs=train.epochs,
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
    metrics["params"] = float(params)
    metrics["latency"] = measure_latency(model, dataset.x_val)
    if save_to is not None:
        model.save(save_to)
    return TrialResult(
        metrics=metrics,
        curve=recorder.curve,
        epochs=len(recorder.curve.get("loss", [])),
        train_seconds=train_seconds,
        params=params,
    )
