"""Keras callbacks of a trial: the learning curve, kept also when a later callback stops the fit."""

from __future__ import annotations

import math
from typing import Any

import keras

from ressearch.errors import TrialFailed

__all__ = ["CurveRecorder"]


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
