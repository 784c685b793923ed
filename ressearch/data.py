"""Datasets for studies: load, split once, preprocess, and redo the preprocessing on new rows.

:func:`load_dataset` turns the ``data:`` section of a study file (:class:`DataConfig`) into a
:class:`Dataset`: float32 model inputs, encoded targets, a validation split made once with a fixed
seed (stratified for classification), and a JSON-safe preprocessing recipe that
:func:`apply_preprocessing` re-applies to new raw rows, so that an exported model can be used on
them. Sources: scikit-learn's bundled sets, CSV files, ``.npz`` arrays, folders of images and the
Keras datasets already in the local cache.

Every statistic (means, medians, categories) is learnt from the training split only. This module
must not print, train or know of Optuna, and imports TensorFlow and Keras only inside the loaders
that need them, so that importing it stays cheap. Bad data raises :class:`DataError`, one line
naming the column, array or path.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import Field, field_validator, model_validator
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

from ressearch.config import FrozenConfig
from ressearch.errors import DataError

__all__ = [
    "BUILTIN_DATASETS",
    "IMAGE_SUFFIXES",
    "KERAS_DATASETS",
    "MISSING_CATEGORY",
    "SOURCE_KINDS",
    "DataConfig",
    "Dataset",
    "apply_preprocessing",
    "load_dataset",
]

Task = Literal["classification", "regression"]
Array = npt.NDArray[Any]
Recipe = dict[str, Any]

SOURCE_KINDS: tuple[str, ...] = ("builtin", "csv", "npz", "images", "keras")
BUILTIN_DATASETS: tuple[str, ...] = ("breast_cancer", "diabetes", "digits", "iris", "wine")
KERAS_DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "mnist", "fashion_mnist")
IMAGE_SUFFIXES: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# The category that missing values of a categorical CSV column are imputed with.
MISSING_CATEGORY = "__missing__"

# task "auto": a float target with more distinct non-integer values than this is a regression.
_REGRESSION_MIN_DISTINCT = 20
# A numeric target with more distinct values than this is never a set of classes.
_MAX_CLASSES = 1000
_RECIPE_VERSION = 1
_NETWORK_TIMEOUT_S = 5.0
_DOWNLOAD_TIMEOUT_S = 30.0


class DataConfig(FrozenConfig):
    """The ``data:`` section of a study file: where the rows come from and how to split them.

    ``source`` is ``builtin:NAME`` (scikit-learn's bundled sets), ``csv:PATH``, ``npz:PATH``
    (arrays ``x`` and ``y``), ``images:DIR`` (one sub-folder per class) or ``keras:NAME`` (from the
    local Keras cache). Relative paths resolve against the study file's folder.

    Example:
        >>> dataset = load_dataset(DataConfig(source="builtin:iris"), seed=0)
        >>> dataset.input_shape, dataset.outputs, dataset.task
        ((4,), 3, 'classification')
    """

    _label: ClassVar[str] = "data"

    source: str
    target: str | None = None  # csv: the label column
    features: Annotated[tuple[str, ...], Field(min_length=1)] | None = None  # csv: default all others
    task: Literal["auto", "classification", "regression"] = "auto"
    validation_split: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    class_weight: Literal["balanced"] | None = None
    image_size: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]] | None = None
    flatten: bool = False  # image arrays to vectors, for dense networks
    max_rows: Annotated[int, Field(ge=2)] | None = None  # stratified subsample, for quick studies

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        kind, colon, rest = source.partition(":")
        if not colon or kind not in SOURCE_KINDS or not rest:
            raise ValueError(
                f"expected builtin:NAME, csv:PATH, npz:PATH, images:DIR or keras:NAME, got {source!r}"
            )
        known = {"builtin": BUILTIN_DATASETS, "keras": KERAS_DATASETS}.get(kind)
        if known is not None and rest not in known:
            raise ValueError(f"unknown {kind} dataset {rest!r}; known are {', '.join(known)}")
        return source

    @model_validator(mode="after")
    def _fits_source(self) -> Self:
        if self.kind == "csv" and self.target is None:
            raise ValueError("target is required for a csv: source (the name of the label column)")
        if self.kind != "csv" and (self.target is not None or self.features is not None):
            raise ValueError(f"target and features apply to csv: sources only, not to {self.kind}:")
        if self.features is not None:
            if self.target in self.features:
                raise ValueError(f"features must not include the target column {self.target!r}")
            if len(set(self.features)) != len(self.features):
                raise ValueError("features lists a column twice")
        if self.image_size is not None and self.kind != "images":
            raise ValueError(f"image_size applies to images: sources only, not to {self.kind}:")
        if self.class_weight is not None and self.task == "regression":
            raise ValueError("class_weight 'balanced' needs a classification task, not regression")
        return self

    @property
    def kind(self) -> str:
        """The part of ``source`` before the colon: builtin, csv, npz, images or keras."""
        return self.source.partition(":")[0]

    @property
    def location(self) -> str:
        """The part of ``source`` after the colon: a dataset name or a path."""
        return self.source.partition(":")[2]


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


@dataclass(frozen=True)
class _Raw:
    """What a loader found: raw inputs and labels, and how to fit a recipe to training rows."""

    x: pd.DataFrame | Array
    y: Array
    fit: Callable[[Any], Recipe]
    target: str | None = None
    task: Task | None = None  # the task the source implies, used when the config says "auto"
    class_names: tuple[str, ...] | None = None  # when y already holds class indices
    floats_are_values: bool = False  # a float y with non-integer values is a regression target


def load_dataset(config: DataConfig, *, seed: int, base_dir: Path | None = None) -> Dataset:
    """Load, split and preprocess the data ``config`` describes.

    The same config and seed give byte-identical arrays on every call, so the validation split
    can be re-created later (for export) by calling this again.

    Args:
        config: The ``data:`` section of the study file.
        seed: Seeds the subsample (``max_rows``) and the train/validation split.
        base_dir: The folder relative paths resolve against (the study file's); default the
            current directory.

    Raises:
        DataError: the data cannot be read or does not fit (one line naming what and where).
    """
    raw = _LOADERS[config.kind](config, base_dir)
    rows_loaded = len(raw.y)
    x, y = raw.x, raw.y
    dropped: dict[str, int] = {}
    missing = np.asarray(pd.isna(y), dtype=bool)
    if missing.any():
        dropped["missing_target"] = int(missing.sum())
        keep = np.flatnonzero(~missing)
        x, y = _take(x, keep), y[keep]
    if len(y) == 0:
        raise DataError(f"{_target_place(config, raw)}: no row has a target value")

    task, codes, class_names = _encode_target(y, config, raw)
    if config.class_weight is not None and task == "regression":
        raise DataError(
            f"data.class_weight: 'balanced' needs a classification task, and {config.source} "
            "holds a regression target"
        )

    notes: list[str] = []
    rows = np.arange(len(codes))
    if config.max_rows is not None and config.max_rows < len(rows):
        rows = np.sort(_subsample(codes, task, class_names, size=config.max_rows, seed=seed, notes=notes))
        x, codes = _take(x, rows), codes[rows]
    train_rows, val_rows, stratified = _split(codes, task, class_names, config, seed=seed, notes=notes)
    raw_train, raw_val = _take(x, train_rows), _take(x, val_rows)

    recipe: Recipe = {
        **raw.fit(raw_train),
        "version": _RECIPE_VERSION,
        "source": config.source,
        "target": raw.target,
        "task": task,
        "class_names": list(class_names),
    }
    x_train = apply_preprocessing(recipe, raw_train)
    x_val = apply_preprocessing(recipe, raw_val)
    y_train, y_val = codes[train_rows], codes[val_rows]

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
    class_weight = _balanced(y_train, len(class_names)) if config.class_weight == "balanced" else None
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
    )


def apply_preprocessing(preprocessing: Recipe, raw: pd.DataFrame | Array | Sequence[Any]) -> Array:
    """Turn raw inputs into model inputs with a recipe from :attr:`Dataset.preprocessing`.

    Gives exactly the arrays :func:`load_dataset` produced for the same raw rows.

    Args:
        preprocessing: The recipe (a JSON round trip of it works too).
        raw: A pandas DataFrame with the feature columns for a csv recipe; otherwise an array of
            rows as the source held them (tabular rows, sequences, or images of any size).

    Raises:
        DataError: the recipe is unknown, or the rows do not fit it.

    Example:
        >>> dataset = load_dataset(DataConfig(source="builtin:iris"), seed=0)
        >>> apply_preprocessing(dataset.preprocessing, [[5.1, 3.5, 1.4, 0.2]]).shape
        (1, 4)
    """
    kind = preprocessing.get("kind")
    apply = _APPLIERS.get(str(kind))
    if apply is None:
        raise DataError(
            f"preprocessing.kind: unknown kind {kind!r}; known are {', '.join(sorted(_APPLIERS))}"
        )
    return apply(preprocessing, raw)


# --- targets, subsampling and the split ---------------------------------------------------------


def _target_place(config: DataConfig, raw: _Raw) -> str:
    if config.kind == "csv":
        return f"data.target: column {raw.target!r} of {config.location}"
    return f"data.source: the labels of {config.source}"


def _label_name(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _encode_target(y: Array, config: DataConfig, raw: _Raw) -> tuple[Task, Array, tuple[str, ...]]:
    place = _target_place(config, raw)
    if y.dtype.kind in "OSUT":  # text (or pandas' mixed object) labels compare as text
        y = y.astype(str)
    numeric = y.dtype.kind in "iuf"
    distinct = np.unique(y)
    task: Task
    if config.task != "auto":
        task = config.task
    elif raw.task is not None:
        task = raw.task
    else:
        task = _infer_task(y, distinct, floats_are_values=raw.floats_are_values)

    if task == "regression":
        if not numeric:
            raise DataError(
                f"{place} is not numeric (e.g. {_label_name(distinct[0])!r}); regression needs numbers"
            )
        if not np.isfinite(y).all():
            raise DataError(f"{place} holds infinite values; regression needs finite numbers")
        return "regression", y.astype(np.float32), ()
    if numeric and len(distinct) > _MAX_CLASSES:
        raise DataError(
            f"{place} has {len(distinct)} distinct values, too many for classification "
            f"(at most {_MAX_CLASSES}); use task: regression"
        )
    if len(distinct) < 2:
        raise DataError(
            f"{place} has a single class ({_label_name(distinct[0])!r}); classification needs at least 2"
        )
    if raw.class_names is not None:
        return "classification", y.astype(np.int64), raw.class_names
    codes = np.searchsorted(distinct, y).astype(np.int64)
    return "classification", codes, tuple(_label_name(value) for value in distinct)


def _infer_task(y: Array, distinct: Array, *, floats_are_values: bool) -> Task:
    if y.dtype.kind not in "iuf":
        return "classification"
    if len(distinct) > _MAX_CLASSES:
        return "regression"
    fractional = y.dtype.kind == "f" and not np.array_equal(distinct, np.round(distinct))
    if fractional and (floats_are_values or len(distinct) > _REGRESSION_MIN_DISTINCT):
        return "regression"
    return "classification"


def _rare_class(codes: Array, class_names: tuple[str, ...]) -> str | None:
    """Why stratifying is impossible (a class with a single row), or None."""
    counts = np.bincount(codes, minlength=len(class_names))
    present = np.flatnonzero(counts)
    rarest = present[np.argmin(counts[present])]
    return f"class {class_names[rarest]!r} has 1 row" if counts[rarest] < 2 else None


def _subsample(
    codes: Array, task: Task, class_names: tuple[str, ...], *, size: int, seed: int, notes: list[str]
) -> Array:
    rows = np.arange(len(codes))
    stratify = None
    if task == "classification":
        classes = len(np.unique(codes))
        why_not = _rare_class(codes, class_names)
        if why_not is None and min(size, len(rows) - size) < classes:
            why_not = f"{min(size, len(rows) - size)} rows cannot hold all {classes} classes"
        if why_not is None:
            stratify = codes
        else:
            notes.append(f"max_rows subsample not stratified: {why_not}")
    kept, _ = train_test_split(rows, train_size=size, random_state=seed, stratify=stratify)
    return np.asarray(kept)


def _split(
    codes: Array, task: Task, class_names: tuple[str, ...], config: DataConfig, *, seed: int, notes: list[str]
) -> tuple[Array, Array, bool]:
    rows = np.arange(len(codes))
    n_val = math.ceil(config.validation_split * len(rows))  # as scikit-learn counts it
    n_train = len(rows) - n_val
    if n_train < 1 or n_val < 1:
        raise DataError(
            f"data.validation_split: {config.validation_split} of {len(rows)} rows leaves "
            f"{n_train} training and {n_val} validation rows; both need at least 1"
        )
    stratify = None
    if task == "classification":
        why_not = _rare_class(codes, class_names)
        classes = len(np.unique(codes))
        if why_not is not None:
            notes.append(f"split not stratified: {why_not}")
        elif min(n_train, n_val) < classes:
            raise DataError(
                f"data.validation_split: {config.validation_split} of {len(rows)} rows gives {n_train} "
                f"training and {n_val} validation rows, too few to hold all {classes} classes; "
                "change validation_split or max_rows"
            )
        else:
            stratify = codes
    train, val = train_test_split(
        rows, test_size=config.validation_split, random_state=seed, stratify=stratify
    )
    return np.asarray(train), np.asarray(val), stratify is not None


def _take(x: pd.DataFrame | Array, rows: Array) -> pd.DataFrame | Array:
    if isinstance(x, pd.DataFrame):
        return x.iloc[rows].reset_index(drop=True)
    return x[rows]


def _balanced(y_train: Array, num_classes: int) -> dict[int, float]:
    present = np.unique(y_train)
    weights = compute_class_weight("balanced", classes=present, y=y_train)
    result = dict.fromkeys(range(num_classes), 1.0)  # a class absent from training never counts
    result.update({int(label): float(weight) for label, weight in zip(present, weights, strict=True)})
    return result


# --- paths and messages ----------------------------------------------------------------------------


def _resolve(location: str, base_dir: Path | None, *, what: str) -> Path:
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    if not path.exists():
        raise DataError(f"data.source: {what} {path} does not exist")
    return path


def _quoted(names: Sequence[str], *, limit: int = 20) -> str:
    if not names:
        return "none"
    shown = ", ".join(repr(str(name)) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


# --- recipes: standardised arrays (tabular rows, sequences) -----------------------------------------


def _moments(values: Array, axis: tuple[int, ...] | int) -> tuple[Array, Array]:
    """Mean and standard deviation; a constant column gets std 1, so it maps to 0, not NaN."""
    mean = values.mean(axis=axis)
    std = values.std(axis=axis)
    constant = (np.ptp(values, axis=axis) == 0) | ~(std > 0)
    return mean, np.where(constant, 1.0, std)


def _fit_standardised(x_train: Array, *, kind: str, features: list[str] | None = None) -> Recipe:
    values = np.asarray(x_train, dtype=np.float64)
    mean, std = _moments(values, tuple(range(values.ndim - 1)))  # per feature / per channel
    recipe: Recipe = {
        "kind": kind,
        "input_shape": list(values.shape[1:]),
        "mean": mean.tolist(),
        "std": std.tolist(),
    }
    if features is not None:
        recipe["features"] = features
    return recipe


def _apply_standardised(recipe: Recipe, raw: Any) -> Array:
    if isinstance(raw, pd.DataFrame) and recipe.get("features"):
        _require_columns(recipe["features"], raw)
        raw = raw[recipe["features"]]
    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(
            f"preprocessing: {recipe['kind']} rows must be numbers ({_first_line(error)})"
        ) from None
    shape = tuple(recipe["input_shape"])
    if values.ndim != len(shape) + 1 or values.shape[1:] != shape:
        raise DataError(
            f"preprocessing: expected {recipe['kind']} rows of shape {shape}, got {values.shape[1:]}"
        )
    mean = np.asarray(recipe["mean"], dtype=np.float64)
    std = np.asarray(recipe["std"], dtype=np.float64)
    return ((values - mean) / std).astype(np.float32)


# --- recipes: CSV frames (numeric and categorical columns) ------------------------------------------


def _is_numeric(column: pd.Series[Any]) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _numbers(column: pd.Series[Any], name: str) -> Array:
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise DataError(f"preprocessing: column {name!r} must hold numbers ({_first_line(error)})") from None


def _category_labels(column: pd.Series[Any]) -> list[str]:
    return [MISSING_CATEGORY if pd.isna(value) else str(value) for value in column.tolist()]


def _fit_csv(frame: pd.DataFrame, *, where: str) -> Recipe:
    columns: list[Recipe] = []
    outputs: list[str] = []
    for name in frame.columns:
        column = frame[name]
        if _is_numeric(column):
            values = _numbers(column, str(name))
            observed = values[~np.isnan(values)]
            if observed.size == 0:
                raise DataError(
                    f"data.features: column {name!r} of {where} has no values in the training rows"
                )
            median = float(np.median(observed))
            mean, std = _moments(np.where(np.isnan(values), median, values), 0)
            columns.append(
                {
                    "name": str(name),
                    "type": "numeric",
                    "median": median,
                    "mean": float(mean),
                    "std": float(std),
                }
            )
            outputs.append(str(name))
        else:
            categories = sorted(set(_category_labels(column)))
            columns.append({"name": str(name), "type": "categorical", "categories": categories})
            outputs.extend(f"{name}={category}" for category in categories)
    return {"kind": "csv", "input_shape": [len(outputs)], "columns": columns, "features": outputs}


def _apply_csv(recipe: Recipe, raw: Any) -> Array:
    if not isinstance(raw, pd.DataFrame):
        raise DataError(f"preprocessing: a csv recipe needs a pandas DataFrame, got {type(raw).__name__}")
    _require_columns([spec["name"] for spec in recipe["columns"]], raw)
    blocks: list[Array] = []
    for spec in recipe["columns"]:
        column = raw[spec["name"]]
        if spec["type"] == "numeric":
            values = _numbers(column, spec["name"])
            values = np.where(np.isnan(values), spec["median"], values)
            blocks.append(((values - spec["mean"]) / spec["std"])[:, np.newaxis])
        else:
            # Unseen categories get code -1 and so a row of zeros.
            index = {category: code for code, category in enumerate(spec["categories"])}
            codes = np.asarray([index.get(label, -1) for label in _category_labels(column)], dtype=np.int64)
            one_hot = np.zeros((len(codes), len(spec["categories"])), dtype=np.float64)
            seen = np.flatnonzero(codes >= 0)
            one_hot[seen, codes[seen]] = 1.0
            blocks.append(one_hot)
    return np.concatenate(blocks, axis=1).astype(np.float32)


def _require_columns(names: Sequence[str], frame: pd.DataFrame) -> None:
    absent = [name for name in names if name not in frame.columns]
    if absent:
        raise DataError(
            f"preprocessing: column {absent[0]!r} is missing from the rows; the recipe needs {_quoted(names)}"
        )


# --- recipes: images ---------------------------------------------------------------------------------


def _fit_image(x_train: Array, *, max_value: float | None, flatten: bool) -> Recipe:
    images = x_train[..., np.newaxis] if x_train.ndim == 3 else x_train
    height, width, channels = (int(size) for size in images.shape[1:])
    return {
        "kind": "image",
        "input_shape": [height * width * channels] if flatten else [height, width, channels],
        "size": [height, width],
        "channels": channels,
        "max_value": max_value,  # pixel values are divided by it; None leaves them as they are
        "flatten": flatten,
    }


def _apply_image(recipe: Recipe, raw: Any) -> Array:
    images = np.asarray(raw)
    if images.ndim == 3 and recipe["channels"] == 1:  # grayscale without a channel axis
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] != recipe["channels"]:
        raise DataError(
            f"preprocessing: expected images of shape (n, height, width, {recipe['channels']}), "
            f"got {images.shape}"
        )
    if list(images.shape[1:3]) != recipe["size"]:
        images = _resize(images, recipe["size"])
    pixels = images.astype(np.float32)
    if recipe["max_value"] is not None:
        pixels /= np.float32(recipe["max_value"])
    if recipe["flatten"]:
        pixels = pixels.reshape(len(pixels), -1)
    return pixels


def _resize(images: Array, size: Sequence[int]) -> Array:
    import tensorflow as tf

    return np.asarray(tf.image.resize(images, tuple(size)).numpy())


_APPLIERS: dict[str, Callable[[Recipe, Any], Array]] = {
    "csv": _apply_csv,
    "image": _apply_image,
    "sequence": _apply_standardised,
    "tabular": _apply_standardised,
}


# --- loaders ---------------------------------------------------------------------------------------------


def _load_builtin(config: DataConfig, base_dir: Path | None) -> _Raw:
    from sklearn import datasets

    name = config.location
    if name == "digits":
        digits = datasets.load_digits()
        return _Raw(
            x=np.asarray(digits.images),  # (n, 8, 8), values 0..16
            y=np.asarray(digits.target),
            fit=partial(_fit_image, max_value=16.0, flatten=config.flatten),
            task="classification",
            class_names=tuple(str(label) for label in digits.target_names),
        )
    loader = {
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
    }[name]
    bunch = loader()
    features = [str(feature) for feature in bunch.feature_names]
    regression = name == "diabetes"
    return _Raw(
        x=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target),
        fit=partial(_fit_standardised, kind="tabular", features=features),
        task="regression" if regression else "classification",
        class_names=None if regression else tuple(str(label) for label in bunch.target_names),
    )


def _load_csv(config: DataConfig, base_dir: Path | None) -> _Raw:
    path = _resolve(config.location, base_dir, what="csv file")
    if path.is_dir():
        raise DataError(f"data.source: {path} is a folder, not a csv file")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"data.source: csv file {path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"data.source: {path} is not parseable CSV ({_first_line(error)})") from None
    columns = [str(name) for name in frame.columns]
    frame.columns = pd.Index(columns)
    if frame.empty:
        raise DataError(f"data.source: csv file {path} has no rows, only the header {_quoted(columns)}")
    target = str(config.target)
    if target not in columns:
        raise DataError(f"data.target: column {target!r} is not in {path}; it has columns {_quoted(columns)}")
    if config.features is None:
        features = [name for name in columns if name != target]
    else:
        features = list(config.features)
        for name in features:
            if name not in columns:
                raise DataError(
                    f"data.features: column {name!r} is not in {path}; it has columns {_quoted(columns)}"
                )
    if not features:
        raise DataError(f"data.source: {path} has no feature columns besides the target {target!r}")
    return _Raw(
        x=frame[features],
        y=frame[target].to_numpy(),
        fit=partial(_fit_csv, where=str(path)),
        target=target,
    )


def _load_npz(config: DataConfig, base_dir: Path | None) -> _Raw:
    path = _resolve(config.location, base_dir, what="npz file")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # numpy raises many kinds for a file that is not an archive
        raise DataError(f"data.source: {path} is not a readable .npz file ({_first_line(error)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"data.source: {path} holds one array, not an .npz archive of arrays 'x' and 'y'")
    with archive:
        names = sorted(archive.files)
        arrays: dict[str, Array] = {}
        for name in ("x", "y"):
            if name not in names:
                raise DataError(f"data.source: {path} has no array {name!r}; it has arrays {_quoted(names)}")
            try:
                arrays[name] = np.asarray(archive[name])
            except ValueError as error:  # object arrays need pickle, which is unsafe to allow
                raise DataError(
                    f"data.source: array {name!r} in {path} cannot be read ({_first_line(error)})"
                ) from None
    x, y = arrays["x"], arrays["y"]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(
            f"data.source: array 'y' in {path} has shape {y.shape}; expected one label or value per row"
        )
    if len(x) != len(y):
        raise DataError(
            f"data.source: arrays 'x' and 'y' in {path} differ in length: "
            f"{len(x)} rows in 'x', {len(y)} in 'y'"
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"data.source: array 'x' in {path} holds {x.dtype} values; expected numbers")
    if x.dtype.kind == "f" and np.isnan(x).any():
        raise DataError(
            f"data.source: array 'x' in {path} holds {int(np.isnan(x).sum())} missing (NaN) values; "
            "fill them, or use a csv: source, which imputes"
        )
    fit: Callable[[Any], Recipe]
    if x.ndim == 2:
        fit = partial(_fit_standardised, kind="tabular")
    elif x.ndim == 3:
        fit = partial(_fit_standardised, kind="sequence")
    elif x.ndim == 4:
        fit = partial(_fit_image, max_value=255.0 if x.dtype == np.uint8 else None, flatten=config.flatten)
    else:
        raise DataError(
            f"data.source: array 'x' in {path} has rank {x.ndim} (shape {x.shape}); expected 2 "
            "(tabular rows), 3 (sequences: length, channels) or 4 (images: height, width, channels)"
        )
    return _Raw(x=x, y=y, fit=fit, target="y", floats_are_values=True)


def _load_images(config: DataConfig, base_dir: Path | None) -> _Raw:
    root = _resolve(config.location, base_dir, what="image folder")
    if not root.is_dir():
        raise DataError(f"data.source: {root} is not a folder of class sub-folders")
    classes = sorted(
        entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith(".")
    )
    if len(classes) < 2:
        raise DataError(
            f"data.source: image folder {root} needs one sub-folder per class and at least 2, "
            f"found {_quoted(classes)}"
        )
    files: list[tuple[int, Path]] = []
    for label, name in enumerate(classes):
        found = sorted(
            entry
            for entry in (root / name).iterdir()
            if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES
        )
        if not found:
            raise DataError(
                f"data.source: class folder {root / name} has no images ({', '.join(IMAGE_SUFFIXES)})"
            )
        files.extend((label, path) for path in found)

    import tensorflow as tf

    decoded: list[Array] = []
    for _, path in files:
        try:
            image = tf.io.decode_image(tf.io.read_file(str(path)), expand_animations=False).numpy()
        except Exception as error:  # TensorFlow raises its own errors for unreadable files
            raise DataError(f"data.source: {path} is not a readable image ({_first_line(error)})") from None
        decoded.append(image[..., :1] if image.shape[-1] == 2 else image[..., :3])  # drop alpha
    channels = 3 if any(image.shape[-1] == 3 for image in decoded) else 1
    size = list(config.image_size) if config.image_size is not None else list(decoded[0].shape[:2])
    images = []
    for image in decoded:
        if image.shape[-1] != channels:  # grayscale among colour images
            image = np.repeat(image, channels, axis=-1)
        if list(image.shape[:2]) != size:
            image = _resize(image[np.newaxis], size)[0]
        images.append(image)
    return _Raw(
        x=np.stack(images),
        y=np.asarray([label for label, _ in files], dtype=np.int64),
        fit=partial(_fit_image, max_value=255.0, flatten=config.flatten),
        task="classification",
        class_names=tuple(classes),
    )


@dataclass(frozen=True)
class _KerasData:
    host: str  # where keras downloads it from
    files: tuple[str, ...]  # what a finished download leaves under <keras home>/datasets
    class_names: tuple[str, ...] | None = None


_KERAS_DATA = {
    "cifar10": _KerasData(
        "www.cs.toronto.edu",
        ("cifar-10-batches-py-target_archive",),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    ),
    "cifar100": _KerasData("www.cs.toronto.edu", ("cifar-100-python-target_archive",)),
    "mnist": _KerasData("storage.googleapis.com", ("mnist.npz",)),
    "fashion_mnist": _KerasData(
        "storage.googleapis.com",
        tuple(
            f"fashion-mnist/{name}-ubyte.gz"
            for name in ("train-labels-idx1", "train-images-idx3", "t10k-labels-idx1", "t10k-images-idx3")
        ),
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    ),
}


def _keras_cache_dirs() -> list[Path]:
    # Where keras.utils.get_file looks: $KERAS_HOME or ~/.keras, and /tmp/.keras when that is read-only.
    home = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    return [home / "datasets", Path("/tmp/.keras/datasets")]


def _reachable(host: str) -> bool:
    """Whether ``host`` answers on port 443 within a few seconds; a hanging DNS lookup counts as no."""
    answers: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, 443), timeout=_NETWORK_TIMEOUT_S):
                answers.append(True)
        except OSError:
            answers.append(False)

    thread = threading.Thread(target=probe, name=f"ressearch-probe-{host}", daemon=True)
    thread.start()
    thread.join(_NETWORK_TIMEOUT_S + 1.0)
    return bool(answers) and answers[0]


@contextlib.contextmanager
def _quiet_network(seconds: float) -> Iterator[None]:
    """No socket waits longer than ``seconds``, and Keras' download messages are not printed."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        socket.setdefaulttimeout(previous)


def _load_keras(config: DataConfig, base_dir: Path | None) -> _Raw:
    name = config.location
    spec = _KERAS_DATA[name]
    cached = any(all((folder / file).is_file() for file in spec.files) for folder in _keras_cache_dirs())
    cache_hint = "$KERAS_HOME/datasets" if "KERAS_HOME" in os.environ else "~/.keras/datasets"
    # RESSEARCH_OFFLINE=1 says so up front: no probe leaves the machine (CI, air-gapped hosts).
    offline = os.environ.get("RESSEARCH_OFFLINE", "").lower() in ("1", "true", "yes")
    if not cached and (offline or not _reachable(spec.host)):
        raise DataError(
            f"data.source: keras:{name} must be downloaded and this machine cannot reach the internet; "
            f"place it in {cache_hint} or use npz:PATH"
        )
    try:
        with _quiet_network(_DOWNLOAD_TIMEOUT_S):
            import keras

            (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as error:  # any failure of the download or the cache is the same fix
        how = (
            "could not be read from the Keras cache"
            if cached
            else "must be downloaded and the download failed"
        )
        raise DataError(
            f"data.source: keras:{name} {how} ({_first_line(error)}); "
            f"place it in {cache_hint} or use npz:PATH"
        ) from None
    x = np.concatenate([x_train, x_test])
    if x.ndim == 3:  # mnist, fashion_mnist: (n, 28, 28) -> (n, 28, 28, 1)
        x = x[..., np.newaxis]
    return _Raw(
        x=x,
        y=np.concatenate([np.ravel(y_train), np.ravel(y_test)]).astype(np.int64),
        fit=partial(_fit_image, max_value=255.0, flatten=config.flatten),
        task="classification",
        class_names=spec.class_names,
    )


_LOADERS: dict[str, Callable[[DataConfig, Path | None], _Raw]] = {
    "builtin": _load_builtin,
    "csv": _load_csv,
    "images": _load_images,
    "keras": _load_keras,
    "npz": _load_npz,
}
