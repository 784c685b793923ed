"""Keras callbacks of a trial: the learning curve, kept also when a later callback stops the fit,
and the points where a stop signal (Ctrl-C, SIGTERM) may end it."""

from __future__ import annotations

import math
from typing import Any

import keras

from ressearch.errors import TrialFailed
from ressearch.signals import pending_interrupt

__all__ = ["CurveRecorder", "StopBetweenBatches"]


class CurveRecorder(keras.callbacks.Callback):
    """Keeps every epoch's logs, also when a later callback stops the fit by raising."""

    def __init__(self) -> None:
        super().__init__()
        self.curve: dict[str, list[float]] = {}
        # The network's parameter count once it is built: a pruned or failed trial records it too.
        self.model_params: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for name, value in (logs or {}).items():
            self.curve.setdefault(name, []).append(float(value))
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrialFailed(f"the training loss became {float(loss)} at epoch {epoch + 1}")


class StopBetweenBatches(keras.callbacks.Callback):
    """Where a stop signal held by :func:`~ressearch.signals.held_interrupts` ends the fit: before
    each training or validation batch, and at the end of an epoch (last in the list: after that
    epoch's checkpoint). Keras calls these in the fitting thread (TensorFlow's callbacks are not
    dispatched to other threads), between its steps, never inside one."""

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        pending_interrupt()

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        pending_interrupt()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        pending_interrupt()
