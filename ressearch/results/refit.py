"""Retrain an exported trial on every row the search had: ``ressearch export --refit``.

A study keeps some rows back to choose among trials. Once a trial is chosen, those rows can
train it too: :func:`refit_trial` rebuilds the trial's network from its stored config (or
through its KerasTuner hypermodel), loads the study's data with the validation rows joined to
the training rows (the recipe fitted on all of them, so preprocessing still learns from
training rows only), and trains with the trial's seed, training settings and runtime for the
number of epochs the trial needed (:func:`refit_epochs`). Nothing is left to validate on, so a
refit claims no validation metric; what it did is returned for the export to record. Prints
nothing; must not import the CLI.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optuna.trial import FrozenTrial

from ressearch.config.architecture import ArchitectureConfig
from ressearch.config.hypermodel import HypermodelConfig
from ressearch.config.training import TrainConfig
from ressearch.errors import ConfigError, DataError, TrialFailed
from ressearch.search.inverse import adapt_to_data
from ressearch.search.record import StudyMeta, TrialConfig, TrialRecord

if TYPE_CHECKING:
    from ressearch.training.fit import Builder

__all__ = ["RefitResult", "refit_epochs", "refit_trial"]


@dataclass(frozen=True)
class RefitResult:
    """What a refit did: epochs and why that many, the rows it trained on, its seed and the last
    epoch's training metrics (no validation metric: every row trained)."""

    trial: int
    epochs: int
    epochs_from: str
    train_rows: int
    searched_train_rows: int
    validation_rows: int
    seed: int
    seconds: float
    train_metrics: dict[str, float]
    preprocessing: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The record an export keeps in its metrics.json (the recipe is its preprocessing.json)."""
        return {
            "trial": self.trial,
            "epochs": self.epochs,
            "epochs_from": self.epochs_from,
            "train_rows": self.train_rows,
            "searched_train_rows": self.searched_train_rows,
            "validation_rows": self.validation_rows,
            "seed": self.seed,
            "seconds": round(self.seconds, 3),
            "train_metrics": self.train_metrics,
            "note": (
                "trained on the study's training and validation rows together: no validation rows "
                "were left, so no validation metric is claimed for this model (the trial's value was "
                "measured on the model trained on the training rows only)"
            ),
        }


def _best_index(values: list[float], direction: str) -> int:
    """The first epoch (0-based) holding the best value: as early stopping keeps the first best."""
    finite = [(value, index) for index, value in enumerate(values) if math.isfinite(value)]
    if direction == "maximize":
        return max(finite, key=lambda item: (item[0], -item[1]))[1]
    return min(finite, key=lambda item: (item[0], item[1]))[1]


def refit_epochs(
    curve: dict[str, list[float]],
    train: TrainConfig,
    *,
    metric: str,
    direction: str,
    trained: int | None = None,
) -> tuple[int, str]:
    """How many epochs a refit trains, and why, from the trial's learning curve.

    With early stopping, the epoch whose weights it restored (the lowest ``val_loss``); else
    the epoch of the best ``metric`` (the study's objective) on the curve; else every epoch the
    trial trained (``trained``, by default its ``train.epochs``).

    Example:
        >>> curve = {"val_loss": [0.9, 0.5, 0.6], "val_accuracy": [0.6, 0.8, 0.85]}
        >>> refit_epochs(curve, TrainConfig(epochs=3), metric="val_accuracy", direction="maximize")
        (3, 'the best val_accuracy of its learning curve, at epoch 3 of 3')
        >>> refit_epochs(curve, TrainConfig(epochs=8, early_stopping_patience=1),
        ...              metric="val_accuracy", direction="maximize")
        (2, 'early stopping: its restored epoch, the lowest val_loss, epoch 2 of 3')
    """
    losses = [float(value) for value in curve.get("val_loss") or []]
    if train.early_stopping_patience and any(math.isfinite(value) for value in losses):
        best = _best_index(losses, "minimize") + 1
        return best, f"early stopping: its restored epoch, the lowest val_loss, epoch {best} of {len(losses)}"
    values = [float(value) for value in curve.get(metric) or []]
    if any(math.isfinite(value) for value in values):
        best = _best_index(values, direction) + 1
        return best, f"the best {metric} of its learning curve, at epoch {best} of {len(values)}"
    epochs = trained or train.epochs
    return epochs, f"all {epochs} epochs it trained (no learning curve of {metric} recorded)"


def _network(config: TrialConfig, trial: int, study: str) -> tuple[ArchitectureConfig | Builder, TrainConfig]:
    """What rebuilds the trial's network: its architecture, or a builder through its hypermodel."""
    if config.train is None or (config.architecture is None and config.hypermodel is None):
        raise ConfigError(f"trial {trial} of {study!r} has no stored network and training config to refit")
    train = TrainConfig.from_dict(config.train)
    if config.architecture is not None:
        return ArchitectureConfig.from_dict(config.architecture), train
    from ressearch.arch.hypermodel import build_with_values, load_hypermodel, overrides_fit

    assert config.hypermodel is not None
    hypermodel = HypermodelConfig.from_dict(config.hypermodel)
    loaded = load_hypermodel(hypermodel)
    if overrides_fit(loaded.hypermodel):
        raise ConfigError(
            f"--refit: trial {trial} of {study!r} was trained by {hypermodel.hypermodel}'s own "
            "fit(hp, model, ...), which a refit cannot replay without validation rows; export it "
            "without --refit"
        )
    return (lambda: build_with_values(loaded, hypermodel.hyperparameters)), train


def refit_trial(
    study_name: str,
    meta: StudyMeta,
    trial: FrozenTrial,
    *,
    artifacts: Path,
    metric: str,
    direction: str,
    save_to: Path,
) -> RefitResult:
    """Retrain ``trial`` on the training and validation rows of its study and save the model.

    ``metric`` and ``direction`` are the study's (first) objective, which decides the epochs
    where the trial did not stop early (:func:`refit_epochs`).

    Raises:
        ConfigError: the trial stored no network, or its hypermodel fits with its own ``fit``.
        DataError: the study's data cannot be loaded, or no longer fits the trial's network.
    """
    from ressearch.data.dataset import load_dataset
    from ressearch.training.fit import train_trial
    from ressearch.training.speed import resolve_runtime

    record = TrialRecord.from_trial(trial)
    stored = record.config(artifacts)
    if stored is None:
        raise ConfigError(f"trial {trial.number} of {study_name!r} has no stored config to refit")
    network, train = _network(stored, trial.number, study_name)
    curve = record.measurements(artifacts).curve
    epochs, why = refit_epochs(curve, train, metric=metric, direction=direction, trained=record.epochs)
    try:
        train = train.replace(epochs=epochs, early_stopping_patience=None)
    except ConfigError as error:
        raise ConfigError(f"--refit: trial {trial.number} cannot train {epochs} epochs ({error})") from None
    definition = meta.study_definition()
    dataset = load_dataset(definition.data, seed=definition.settings.seed, merge_validation=True)
    if isinstance(network, ArchitectureConfig):
        if dataset.outputs != network.outputs:
            raise DataError(
                f"data: {definition.data.source} now gives {dataset.outputs} outputs; trial "
                f"{trial.number} was trained for {network.outputs}: the data changed since the study ran"
            )
        # What the network takes from its data is the merged rows' now: a category seen only in
        # validation rows widens the one-hot input, and a regression target's scale is theirs.
        network = adapt_to_data(
            network,
            input_shape=tuple(dataset.input_shape),
            outputs=dataset.outputs,
            head=network.head,
            output_scale=dataset.target_scale,
            continuous_features=dataset.continuous_features,
            categorical_columns=dataset.categorical_columns,
        )
    if list(dataset.class_names) != list(meta.class_names):
        raise DataError(
            f"data: {definition.data.source} now has the classes {list(dataset.class_names)}, the study "
            f"had {meta.class_names}: the data changed since the study ran"
        )
    seed = record.seed if record.seed is not None else definition.settings.seed
    started = time.perf_counter()
    try:
        result = train_trial(
            network, train, dataset, seed=seed, runtime=resolve_runtime(definition.runtime), save_to=save_to
        )
    except TrialFailed as error:
        raise ConfigError(f"--refit: retraining trial {trial.number} failed: {error}") from None
    seconds = time.perf_counter() - started
    train_metrics = {name: value for name, value in result.metrics.items() if name != "model_params"}
    searched = meta.data.get("n_train")
    return RefitResult(
        trial=trial.number,
        epochs=result.epochs,
        epochs_from=why,
        train_rows=len(dataset.y_train),
        searched_train_rows=int(searched) if searched is not None else len(dataset.y_train),
        validation_rows=0,
        seed=seed,
        seconds=seconds,
        train_metrics=train_metrics,
        preprocessing={**dataset.preprocessing, "class_names": list(dataset.class_names)},
    )
