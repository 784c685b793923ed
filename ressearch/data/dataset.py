"""Load, split and preprocess a dataset for a study: :func:`load_dataset` and :class:`Dataset`.

:func:`load_dataset` turns the ``data:`` section of a study file (:class:`DataConfig`) into a
:class:`Dataset`: float32 model inputs, encoded targets, a validation split made once with a fixed
seed (stratified for classification), and a JSON-safe preprocessing recipe that
:func:`~ressearch.data.recipes.apply_preprocessing` re-applies to new raw rows. Every statistic
(means, medians, categories) is learnt from the training split only. Must not print, train or
know of Optuna. Bad data raises :class:`DataError`, one line naming the column, array or path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ressearch.config.data import DataConfig
from ressearch.data.recipes import RECIPE_VERSION, Recipe, apply_preprocessing, target_scale
from ressearch.data.sources import LOADERS
from ressearch.data.split import (
    Task,
    balanced_weights,
    encode_target,
    split_rows,
    subsample,
    take,
    target_place,
)
from ressearch.errors import DataError

__all__ = ["Dataset", "load_dataset"]

Array = npt.NDArray[Any]


@dataclass(frozen=True, eq=False)  # arrays have no single truth value, so no field-wise ==
class Dataset:
    """A loaded, split and preprocessed dataset, ready for ``model.fit``.

    ``y`` holds class indices ``0..k-1`` (int64) for classification, float32 values for
    regression. ``preprocessing`` is the recipe :func:`apply_preprocessing` needs to turn new raw
    rows into model inputs; ``summary`` says what was loaded, dropped, imputed and split. Both
    are JSON-safe.
    """

    x_train: Array
    y_train: Array
    x_val: Array
    y_val: Array
    task: Task
    class_names: tuple[str, ...]
    class_weight: dict[int, float] | None
    preprocessing: Recipe
    summary: dict[str, Any]
    # Where each validation row stands in the source (0-based: CSV data rows, array rows, the
    # sorted image files), so the raw validation rows can be scored again from the file.
    val_rows: Array

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(size) for size in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        """The number of classes; 0 for regression."""
        return len(self.class_names)

    @property
    def outputs(self) -> int:
        """Units of the model's last layer: 1 for regression and two classes (sigmoid), else k."""
        if self.task == "regression" or self.num_classes == 2:
            return 1
        return self.num_classes

    @property
    def continuous_features(self) -> tuple[int, ...] | None:
        """Positions of the continuous input columns of tabular rows: a CSV's numeric columns,
        not the one-hot columns of its categories. None where every column is continuous (or the
        input is not a row of columns)."""
        if self.preprocessing.get("kind") != "csv":
            return None
        positions: list[int] = []
        position = 0
        for spec in self.preprocessing["columns"]:  # in the order apply_csv lays them out
            if spec["type"] == "numeric":
                positions.append(position)
            position += _width(spec)
        return tuple(positions)

    @property
    def categorical_columns(self) -> tuple[tuple[int, int], ...]:
        """The text columns the network embeds (``data.max_onehot``): each one's position and
        the size of its embedding table (its categories and one for unseen ones)."""
        if self.preprocessing.get("kind") != "csv":
            return ()
        found: list[tuple[int, int]] = []
        position = 0
        for spec in self.preprocessing["columns"]:
            if spec.get("encoding") == "embedding":
                found.append((position, len(spec["categories"]) + 1))
            position += _width(spec)
        return tuple(found)

    @property
    def target_scale(self) -> tuple[float, float] | None:
        """A regression target's training mean and standard deviation; None for classification.

        The targets stay in their units; the network learns them standardised (its last layer
        maps back) and the loss is computed on the standardised scale.
        """
        scale = self.preprocessing.get("target_scale")
        return (float(scale["mean"]), float(scale["std"])) if scale else None


def _recipe_notes(recipe: Recipe) -> list[str]:
    """What the recipe does beyond the defaults, for the run's data line and metrics.json."""
    notes: list[str] = []
    if recipe.get("scaling") not in (None, "standard") or recipe.get("clip"):
        notes.append(
            f"numbers scaled {recipe['scaling']}" + (" with the smooth clip" if recipe.get("clip") else "")
        )
    for spec in recipe.get("columns", []):
        if spec.get("encoding") == "embedding":
            notes.append(f"text column {spec['name']!r} embedded ({len(spec['categories']):,} categories)")
    return notes


def _width(spec: dict[str, Any]) -> int:
    """How many model input columns one csv column becomes."""
    one_hot = spec["type"] == "categorical" and spec.get("encoding") != "embedding"
    return len(spec["categories"]) if one_hot else 1


def load_dataset(
    config: DataConfig, *, seed: int, base_dir: Path | None = None, merge_validation: bool = False
) -> Dataset:
    """Load, split and preprocess the data ``config`` describes.

    The same config and seed give byte-identical arrays on every call, so the validation split
    can be re-created later (for export) by calling this again.

    With ``merge_validation`` (a refit of a found config), the validation rows join the training
    rows (after them, the split made as always) and none are left for validation; the recipe is
    then fitted on all of those training rows.

    Args:
        config: The ``data:`` section of the study file.
        seed: Seeds the subsample (``max_rows``) and the train/validation split.
        base_dir: The folder relative paths resolve against (the study file's); default the
            current directory.
        merge_validation: Train on the training and validation rows together; no validation rows.

    Raises:
        DataError: the data cannot be read or does not fit (one line naming what and where).

    Example:
        >>> dataset = load_dataset(DataConfig(source="builtin:iris"), seed=0)
        >>> dataset.input_shape, dataset.outputs, dataset.task
        ((4,), 3, 'classification')
    """
    raw = LOADERS[config.kind](config, base_dir)
    rows_loaded = len(raw.y)
    x, y = raw.x, raw.y
    source_rows = np.arange(len(y))  # each kept row's position in the source
    dropped: dict[str, int] = {}
    missing = np.asarray(pd.isna(y), dtype=bool)
    if missing.any():
        dropped["missing_target"] = int(missing.sum())
        keep = np.flatnonzero(~missing)
        x, y, source_rows = take(x, keep), y[keep], source_rows[keep]
    if len(y) == 0:
        raise DataError(f"{target_place(config, raw)}: no row has a target value")

    task, codes, class_names = encode_target(y, config, raw)
    if config.class_weight is not None and task == "regression":
        raise DataError(
            f"data.class_weight: 'balanced' needs a classification task, and {config.source} "
            "holds a regression target"
        )

    notes: list[str] = []
    rows = np.arange(len(codes))
    if config.max_rows is not None and config.max_rows < len(rows):
        rows = np.sort(subsample(codes, task, class_names, size=config.max_rows, seed=seed, notes=notes))
        x, codes, source_rows = take(x, rows), codes[rows], source_rows[rows]
    train_rows, val_rows, stratified = split_rows(codes, task, class_names, config, seed=seed, notes=notes)
    if merge_validation:
        train_rows, val_rows = np.concatenate([train_rows, val_rows]), val_rows[:0]
    raw_train, raw_val = take(x, train_rows), take(x, val_rows)

    recipe: Recipe = {
        **raw.fit(raw_train),
        "version": RECIPE_VERSION,
        "source": config.source,
        "target": raw.target,
        "task": task,
        "class_names": list(class_names),
    }
    if (config.scaling != "standard" or config.clip) and "scaling" not in recipe:
        raise DataError(
            f"data.scaling: scaling and clip apply to rows of columns (csv, tabular), and "
            f"{config.source} holds {recipe['kind']} inputs; remove them"
        )
    notes.extend(_recipe_notes(recipe))
    x_train = apply_preprocessing(recipe, raw_train)
    x_val = apply_preprocessing(recipe, raw_val)
    y_train, y_val = codes[train_rows], codes[val_rows]
    if task == "regression":
        recipe["target_scale"] = target_scale(y_train)

    imputed: dict[str, int] = {}
    if isinstance(x, pd.DataFrame):
        counts = x.isna().sum()
        imputed = {str(name): int(count) for name, count in counts.items() if count}
    summary: dict[str, Any] = {
        "source": config.source,
        "task": task,
        "rows_loaded": rows_loaded,
        "rows_dropped": dropped,
        "rows_used": len(codes),
        "imputed": imputed,
        "n_train": len(y_train),
        "n_val": len(y_val),
        "input_shape": list(x_train.shape[1:]),
        "classes": list(class_names),
        "stratified": stratified,
        "notes": notes,
    }
    class_weight = balanced_weights(y_train, len(class_names)) if config.class_weight == "balanced" else None
    return Dataset(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        task=task,
        class_names=class_names,
        class_weight=class_weight,
        preprocessing=recipe,
        summary=summary,
        val_rows=source_rows[val_rows],
    )
