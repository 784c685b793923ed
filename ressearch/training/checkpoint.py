"""Per-epoch checkpoints of one trial: written atomically, loaded to continue an interrupted fit.

A checkpoint folder holds ``epoch-N.keras`` (weights and optimizer state after epoch N) and
``state.json`` (which file, the epoch, the learning curve so far, the seed to reseed with).
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

__all__ = ["CHECKPOINT_VERSION", "Checkpoint", "EpochCheckpointer", "clear_checkpoint", "read_checkpoint"]

CHECKPOINT_VERSION = 1
_STATE = "state.json"


@dataclass(frozen=True)
class Checkpoint:
    """The last whole checkpoint of a trial: ``epochs`` finished, their curve, the model file."""

    folder: Path
    epochs: int
    curve: dict[str, list[float]]
    model_file: str

    def restore(self, model: keras.Model) -> None:
        """Load weights and optimizer state into ``model`` (built from the same config, compiled)."""
        model.optimizer.build(model.trainable_variables)
        model.load_weights(self.folder / self.model_file)


def read_checkpoint(folder: Path) -> Checkpoint | None:
    """The checkpoint in ``folder``, or None where there is none (or it cannot be read whole)."""
    try:
        state = json.loads((folder / _STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
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
        model_file = f"epoch-{epoch + 1}.keras"
        _replace(self.folder / model_file, lambda partial: self.model.save(partial))
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
