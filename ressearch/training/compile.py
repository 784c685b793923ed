"""Compile a trial's model: the loss and metrics of the task, the optimiser and its schedule.

The metric names Keras logs (``val_accuracy``, ``val_auc``, ``val_rmse``, ...) are the names a
study optimises, so nothing translates between them. Keras only: no Optuna, no storage.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from ressearch.config.training import TrainConfig
from ressearch.data.dataset import Dataset
from ressearch.data.tasks import check_task, task_kind
from ressearch.errors import ConfigError
from ressearch.training.optimizers import fuse_adam

__all__ = ["check_task", "compile_model", "targets", "task_kind"]


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
    if train.ema_momentum is not None:
        common.update(use_ema=True, ema_momentum=train.ema_momentum)
    if train.optimizer == "adam":
        return fuse_adam(keras.optimizers.Adam(**common))
    if train.optimizer == "adamw":
        return fuse_adam(keras.optimizers.AdamW(**{"weight_decay": 0.0, **common}))
    if train.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=train.momentum, nesterov=train.momentum > 0, **common)
    return keras.optimizers.RMSprop(momentum=train.momentum, **common)


def compile_model(
    model: keras.Model,
    train: TrainConfig,
    dataset: Dataset,
    *,
    jit_compile: bool = False,
    steps_per_execution: int = 1,
) -> None:
    """Loss and metrics for the dataset's task; the metric names match the study's metrics.

    ``jit_compile`` (XLA) and ``steps_per_execution`` come from the study's runtime
    (:mod:`ressearch.training.speed`); the defaults are right on a CPU.
    """
    kind = task_kind(dataset)
    steps = max(1, math.ceil(len(dataset.x_train) / train.batch_size))
    metrics: list[Any]
    loss_weight = 1.0
    if kind == "regression":
        loss: Any = keras.losses.MeanSquaredError()
        metrics = [keras.metrics.RootMeanSquaredError(name="rmse")]  # in the target's units
        scale = dataset.target_scale
        if scale is not None:  # the loss on the standardised scale: MSE / std**2
            loss_weight = 1.0 / scale[1] ** 2
    elif kind == "binary":
        loss = keras.losses.BinaryCrossentropy(label_smoothing=train.label_smoothing)
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]
    elif train.label_smoothing:  # smoothing needs one-hot targets (targets() gives them this loss)
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=train.label_smoothing)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(
        optimizer=_optimizer(train, steps),
        loss=loss,
        loss_weights=loss_weight,
        metrics=metrics,
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )


def _loss_name(loss: Any) -> str | None:
    """The name of a compiled loss (a string, a ``keras.losses.Loss`` or a function), lower case."""
    if isinstance(loss, str):
        return loss.lower()
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return name.lower() if isinstance(name, str) else None


def targets(dataset: Dataset | None, y: np.ndarray, model: keras.Model | None = None) -> np.ndarray:
    """The targets ``fit`` and ``evaluate`` get for the labels ``y`` (class indices or values).

    For ``model``, as its compiled loss wants them: one-hot rows for a categorical loss (and for
    binary crossentropy over several units), class indices for a sparse one, a float column for
    binary crossentropy over one unit; without a model, or for another loss, as ressearch
    compiles for the task (a float column for binary tasks, else ``y`` as it is).

    Example:
        >>> import numpy as np
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
        >>> model.compile(loss="categorical_crossentropy")
        >>> targets(None, np.array([2, 0]), model)
        array([[0., 0., 1.],
               [1., 0., 0.]], dtype=float32)

    Raises:
        ConfigError: the model is compiled with several losses (a study trains one output).
    """
    loss = getattr(model, "loss", None)
    if isinstance(loss, list | tuple | dict):
        raise ConfigError("the model is compiled with several losses; a study trains one output")
    name = (_loss_name(loss) if loss is not None else None) or ""
    if "sparse" in name:
        return y
    if model is not None and ("categorical" in name or "binary" in name):
        units = int(model.outputs[0].shape[-1])
        if units > 1:
            return keras.utils.to_categorical(y, num_classes=units).astype("float32")
        return y.astype("float32").reshape(-1, 1)
    if dataset is not None and task_kind(dataset) == "binary":
        return y.astype("float32").reshape(-1, 1)
    return y
