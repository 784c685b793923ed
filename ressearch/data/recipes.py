"""Preprocessing recipes: fit on the training rows, apply to any rows, per kind, versioned.

A recipe is a JSON-safe dict (``kind``, ``version``, ``input_shape`` and what the kind needs:
means, medians, categories, image size). :func:`apply_preprocessing` gives exactly the arrays the
study trained on for the same raw rows, so an exported model can score new data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ressearch.data.messages import first_line, quoted
from ressearch.errors import DataError

__all__ = [
    "MISSING_CATEGORY",
    "RECIPE_VERSION",
    "Recipe",
    "apply_preprocessing",
    "fit_csv",
    "fit_image",
    "fit_standardised",
    "resize",
    "target_scale",
]

Array = npt.NDArray[Any]
Recipe = dict[str, Any]

RECIPE_VERSION = 1
# The category that missing values of a categorical CSV column are imputed with.
MISSING_CATEGORY = "__missing__"


def apply_preprocessing(preprocessing: Recipe, raw: pd.DataFrame | Array | Sequence[Any]) -> Array:
    """Turn raw inputs into model inputs with a recipe from :attr:`Dataset.preprocessing`.

    Gives exactly the arrays :func:`~ressearch.data.load_dataset` produced for the same raw rows.

    Args:
        preprocessing: The recipe (a JSON round trip of it works too).
        raw: A pandas DataFrame with the feature columns for a csv recipe; otherwise an array of
            rows as the source held them (tabular rows, sequences, or images of any size).

    Raises:
        DataError: the recipe is unknown or newer than this ressearch, or the rows do not fit it.

    Example:
        >>> recipe = fit_standardised([[1.0, 10.0], [3.0, 30.0]], kind="tabular")
        >>> apply_preprocessing(recipe | {"version": 1}, [[2.0, 20.0]]).tolist()
        [[0.0, 0.0]]
    """
    kind = preprocessing.get("kind")
    apply = APPLIERS.get(str(kind))
    if apply is None:
        raise DataError(f"preprocessing.kind: unknown kind {kind!r}; known are {', '.join(sorted(APPLIERS))}")
    version = preprocessing.get("version", RECIPE_VERSION)
    if not isinstance(version, int) or version > RECIPE_VERSION:
        raise DataError(
            f"preprocessing.version: recipe version {version!r} is newer than this ressearch reads "
            f"({RECIPE_VERSION}); upgrade ressearch"
        )
    return apply(preprocessing, raw)


def moments(values: Array, axis: tuple[int, ...] | int) -> tuple[Array, Array]:
    """Mean and standard deviation; a constant column gets std 1, so it maps to 0, not NaN."""
    mean = values.mean(axis=axis)
    std = values.std(axis=axis)
    constant = (np.ptp(values, axis=axis) == 0) | ~(std > 0)
    return mean, np.where(constant, 1.0, std)


def fit_standardised(x_train: Array, *, kind: str, features: list[str] | None = None) -> Recipe:
    values = np.asarray(x_train, dtype=np.float64)
    mean, std = moments(values, tuple(range(values.ndim - 1)))  # per feature / per channel
    recipe: Recipe = {
        "kind": kind,
        "input_shape": list(values.shape[1:]),
        "mean": mean.tolist(),
        "std": std.tolist(),
    }
    if features is not None:
        recipe["features"] = features
    return recipe


def apply_standardised(recipe: Recipe, raw: Any) -> Array:
    if isinstance(raw, pd.DataFrame) and recipe.get("features"):
        require_columns(recipe["features"], raw)
        raw = raw[recipe["features"]]
    try:
        values = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(
            f"preprocessing: {recipe['kind']} rows must be numbers ({first_line(error)})"
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


def is_numeric(column: pd.Series[Any]) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def numbers(column: pd.Series[Any], name: str) -> Array:
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise DataError(f"preprocessing: column {name!r} must hold numbers ({first_line(error)})") from None


def category_labels(column: pd.Series[Any]) -> list[str]:
    return [MISSING_CATEGORY if pd.isna(value) else str(value) for value in column.tolist()]


def fit_csv(frame: pd.DataFrame, *, where: str) -> Recipe:
    columns: list[Recipe] = []
    outputs: list[str] = []
    for name in frame.columns:
        column = frame[name]
        if is_numeric(column):
            values = numbers(column, str(name))
            observed = values[~np.isnan(values)]
            if observed.size == 0:
                raise DataError(
                    f"data.features: column {name!r} of {where} has no values in the training rows"
                )
            median = float(np.median(observed))
            mean, std = moments(np.where(np.isnan(values), median, values), 0)
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
            categories = sorted(set(category_labels(column)))
            columns.append({"name": str(name), "type": "categorical", "categories": categories})
            outputs.extend(f"{name}={category}" for category in categories)
    return {"kind": "csv", "input_shape": [len(outputs)], "columns": columns, "features": outputs}


def apply_csv(recipe: Recipe, raw: Any) -> Array:
    if not isinstance(raw, pd.DataFrame):
        raise DataError(f"preprocessing: a csv recipe needs a pandas DataFrame, got {type(raw).__name__}")
    require_columns([spec["name"] for spec in recipe["columns"]], raw)
    blocks: list[Array] = []
    for spec in recipe["columns"]:
        column = raw[spec["name"]]
        if spec["type"] == "numeric":
            values = numbers(column, spec["name"])
            values = np.where(np.isnan(values), spec["median"], values)
            blocks.append(((values - spec["mean"]) / spec["std"])[:, np.newaxis])
        else:
            # Unseen categories get code -1 and so a row of zeros.
            index = {category: code for code, category in enumerate(spec["categories"])}
            codes = np.asarray([index.get(label, -1) for label in category_labels(column)], dtype=np.int64)
            one_hot = np.zeros((len(codes), len(spec["categories"])), dtype=np.float64)
            seen = np.flatnonzero(codes >= 0)
            one_hot[seen, codes[seen]] = 1.0
            blocks.append(one_hot)
    return np.concatenate(blocks, axis=1).astype(np.float32)


def require_columns(names: Sequence[str], frame: pd.DataFrame) -> None:
    absent = [name for name in names if name not in frame.columns]
    if absent:
        raise DataError(
            f"preprocessing: column {absent[0]!r} is missing from the rows; the recipe needs {quoted(names)}"
        )


# --- recipes: images ---------------------------------------------------------------------------------


def fit_image(x_train: Array, *, max_value: float | None, flatten: bool) -> Recipe:
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


def apply_image(recipe: Recipe, raw: Any) -> Array:
    images = np.asarray(raw)
    if images.ndim == 3 and recipe["channels"] == 1:  # grayscale without a channel axis
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] != recipe["channels"]:
        raise DataError(
            f"preprocessing: expected images of shape (n, height, width, {recipe['channels']}), "
            f"got {images.shape}"
        )
    if list(images.shape[1:3]) != recipe["size"]:
        images = resize(images, recipe["size"])
    pixels = images.astype(np.float32)
    if recipe["max_value"] is not None:
        pixels /= np.float32(recipe["max_value"])
    if recipe["flatten"]:
        pixels = pixels.reshape(len(pixels), int(np.prod(pixels.shape[1:])))  # also for no rows
    return pixels


def resize(images: Array, size: Sequence[int]) -> Array:
    import tensorflow as tf

    return np.asarray(tf.image.resize(images, tuple(size)).numpy())


APPLIERS: dict[str, Callable[[Recipe, Any], Array]] = {
    "csv": apply_csv,
    "image": apply_image,
    "sequence": apply_standardised,
    "tabular": apply_standardised,
}


def target_scale(y_train: Array) -> dict[str, float]:
    """Mean and standard deviation of a regression target's training values (std 1 if constant)."""
    mean, std = moments(np.asarray(y_train, dtype=np.float64), 0)
    return {"mean": float(mean), "std": float(std)}
