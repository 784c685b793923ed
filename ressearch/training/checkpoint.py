"""Per-epoch checkpoints of one trial: written atomically, loaded to continue an interrupted fit.

A checkpoint folder holds ``epoch-N.npz`` (the values of the model's and the optimizer's
variables after epoch N, in their order: a few milliseconds to write where a ``.keras`` file
takes ~45 ms for a small model, and that at every epoch) and ``state.json`` (which file, the
epoch, the learning curve so far). A checkpoint is restored into a model built from the same
config, so the variables match one to one; one that does not match is not used.
Each file is written under a temporary name and moved into place with ``os.replace``; the state
is switched only after its model file is whole, and the previous model file removed after, so a
crash at any moment leaves the last whole checkpoint (or none) to load, never half of one.

Keras only: the caller (the study layer) decides where the folder is and when to remove it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

__all__ = ["CHECKPOINT_VERSION", "Checkpoint", "EpochCheckpointer", "clear_checkpoint", "read_checkpoint"]

CHECKPOINT_VERSION = 2  # 1: a .keras file per epoch (still read)
_STATE = "state.json"


@dataclass(frozen=True)
class Checkpoint:
    """The last whole checkpoint of a trial: ``epochs`` finished, their curve, the model file."""

    folder: Path
    epochs: int
    curve: dict[str, list[float]]
    model_file: str

    def restore(self, model: keras.Model) -> bool:
        """Load weights and optimizer state into ``model`` (built from the same config, compiled).

        Returns:
            False (and ``model`` untouched) where the checkpoint does not fit the model.
        """
        model.optimizer.build(model.trainable_variables)
        path = self.folder / self.model_file
        if path.suffix == ".keras":
            model.load_weights(path)
            return True
        variables = _variables(model)
        try:
            with np.load(path) as stored:
                values = [stored[f"arr_{index}"] for index in range(len(stored.files))]
        except (OSError, ValueError, KeyError):
            return False
        shapes = [tuple(variable.shape) for variable in variables]
        if [tuple(value.shape) for value in values] != shapes:
            return False
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
        return True


def _variables(model: keras.Model) -> list[keras.Variable]:
    """Every variable a trial's state lives in: the model's (weights, seed states), the optimizer's."""
    return [*model.variables, *model.optimizer.variables]


def read_checkpoint(folder: Path) -> Checkpoint | None:
    """The checkpoint in ``folder``, or None where there is none (or it cannot be read whole)."""
    try:
        state = json.loads((folder / _STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("version") not in (1, CHECKPOINT_VERSION):
        return None
    if not (folder / str(state.get("model_file"))).is_file():
        return None
    return Checkpoint(folder, int(state["epochs"]), dict(state["curve"]), str(state["model_file"]))


def clear_checkpoint(folder: Path) -> None:
    """Remove a trial's checkpoint folder (the trial has finished)."""
    shutil.rmtree(folder, ignore_errors=True)


def _replace(path: Path, write: Any) -> None:
    partial = path.with_name(f".partial-{path.name}")  # keeps the suffix Keras insists on
    write(partial)
    os.replace(partial, path)


class EpochCheckpointer(keras.callbacks.Callback):
    """Saves weights, optimizer state and the learning curve at the end of every epoch.

    ``curve`` is the learning curve object the trial's recorder fills (its values so far go into
    each checkpoint); ``keras`` ``initial_epoch`` numbering is kept, so epoch N is absolute.
    """

    def __init__(self, folder: Path, curve: dict[str, list[float]]) -> None:
        super().__init__()
        self.folder = folder
        self.curve = curve

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        previous = read_checkpoint(self.folder)
        model_file = f"epoch-{epoch + 1}.npz"
        values = [np.asarray(variable.numpy()) for variable in _variables(self.model)]

        def write(partial: Path) -> None:
            with partial.open("wb") as handle:
                np.savez(handle, *values)

        _replace(self.folder / model_file, write)
        state = {
            "version": CHECKPOINT_VERSION,
            "epochs": epoch + 1,
            "model_file": model_file,
            "curve": {name: list(values) for name, values in self.curve.items()},
        }
        _replace(
            self.folder / _STATE, lambda partial: partial.write_text(json.dumps(state), encoding="utf-8")
        )
        if previous is not None and previous.model_file != model_file:
            (self.folder / previous.model_file).unlink(missing_ok=True)
