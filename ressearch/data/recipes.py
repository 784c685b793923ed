"""Preprocessing recipes: fit on the training rows, apply to any rows, per kind, versioned.

A recipe is a JSON-safe dict (``kind``, ``version``, ``input_shape`` and what the kind needs:
medians, the numeric scaling's statistics, categories, image size). :func:`apply_preprocessing`
gives exactly the arrays the study trained on for the same raw rows, so an exported model can
score new data. Numeric columns of rows (csv, tabular) are scaled ``standard`` (mean, standard
deviation), ``robust`` (median, interquartile range) or ``quantile`` (normal scores through the
training quantiles), optionally followed by the smooth clip ``x / sqrt(1 + (x / 3)^2)``;
:mod:`ressearch.arch.preprocessing` builds the same steps from Keras layers, so an export takes
raw rows. :func:`raw_inputs` is what stays outside the model: the columns picked, numbers parsed,
missing text named.
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
    "QUANTILE_BINS",
    "SMOOTH_CLIP",
    "apply_preprocessing",
    "fit_csv",
    "fit_scaling",
    "quantile_scores",
    "raw_inputs",
    "scale_values",
    "smooth_clip",
    "fit_image",
    "fit_standardised",
    "resize",
    "target_scale",
]

Array = npt.NDArray[Any]
Recipe = dict[str, Any]

# 2: numeric scaling choices (center/scale or quantile edges, clip); version 1 recipes still apply.
RECIPE_VERSION = 2
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


# --- numeric scaling: standard, robust, quantile; the smooth clip -----------------------------------

QUANTILE_BINS = 100  # quantile scaling: edges at every percentile of the training values
# Quantile scores stay within the normal scores of these probabilities (about +-3.1).
QUANTILE_LIMIT = 1e-3
SMOOTH_CLIP = 3.0  # x / sqrt(1 + (x / SMOOTH_CLIP)^2): about x near 0, towards +-3 far out


def fit_scaling(values: Array, scaling: str) -> dict[str, list[Any]]:
    """Per column of ``values`` (rows x columns, no missing values): ``center`` and ``scale``,
    or for quantile scaling the ``edges`` (columns x ``QUANTILE_BINS + 1``).

    A constant column maps to 0 whatever the scaling: standard and robust scaling divide it by 1;
    its quantile edges all coincide, and a value on them scores 0.

    Example:
        >>> fit_scaling(np.array([[1.0], [2.0], [3.0], [100.0]]), "robust")
        {'center': [2.5], 'scale': [25.5]}
    """
    if scaling == "quantile":
        levels = np.linspace(0.0, 1.0, QUANTILE_BINS + 1)
        # float32 edges: a model compares float32 inputs with them exactly as the recipe does.
        edges = np.quantile(values, levels, axis=0).T.astype(np.float32).astype(np.float64)
        return {"edges": edges.tolist()}
    if scaling == "robust":
        center = np.median(values, axis=0)
        low, high = np.quantile(values, [0.25, 0.75], axis=0)
        half_range = np.ptp(values, axis=0) / 2.0  # RealMLP's fallback where the quartiles meet
        scale = np.where(high > low, high - low, np.where(half_range > 0, half_range, 1.0))
        return {"center": center.tolist(), "scale": scale.tolist()}
    if scaling != "standard":
        raise DataError(f"data.scaling: unknown scaling {scaling!r}; use standard, robust or quantile")
    mean, std = moments(values, 0)
    return {"center": mean.tolist(), "scale": std.tolist()}


def quantile_scores(values: Array, edges: Array, *, limit: float = QUANTILE_LIMIT) -> Array:
    """Normal scores of ``values`` (rows x columns) through each column's quantile ``edges``.

    The empirical distribution function, linear within each bin between two edges (a bin of
    width 0, from a repeated value, counts half at that value), is clipped to
    ``[limit, 1 - limit]`` and mapped through the inverse normal distribution.

    Example:
        >>> edges = np.array([[0.0, 1.0, 2.0]])
        >>> quantile_scores(np.array([[1.0], [-5.0]]), edges).round(2).tolist()
        [[0.0], [-3.09]]
    """
    from scipy.special import erfinv

    # In float32, as a model's inputs are: a value on an edge (a repeated value) must stay on it.
    values = np.asarray(values, dtype=np.float32).astype(np.float64)
    left = edges[:, :-1]
    width = edges[:, 1:] - left
    offset = values[..., np.newaxis] - left  # rows x columns x bins
    filled = width > 0
    ramp = np.clip(offset / np.where(filled, width, 1.0), 0.0, 1.0)
    step = 0.5 * (np.sign(offset) + 1.0)
    share = np.where(filled, ramp, step).mean(axis=-1)
    share = np.clip(share, limit, 1.0 - limit)
    return np.sqrt(2.0) * erfinv(2.0 * share - 1.0)


def smooth_clip(values: Array, limit: float = SMOOTH_CLIP) -> Array:
    """``x / sqrt(1 + (x / limit)^2)``: RealMLP's smooth clip (Holzmueller et al. 2024)."""
    return values / np.sqrt(1.0 + (values / limit) ** 2)


def scaling_keys(scaling: str, clip: bool) -> Recipe:
    """The recipe keys that name a scaling: ``scaling``, ``clip`` (the smooth clip's limit, or
    None), and for quantile scaling ``quantile_limit``; with them a recipe says all it does."""
    keys: Recipe = {"scaling": scaling, "clip": SMOOTH_CLIP if clip else None}
    if scaling == "quantile":
        keys["quantile_limit"] = QUANTILE_LIMIT
    return keys


def scale_values(values: Array, scaling: dict[str, Any], recipe: Recipe) -> Array:
    """Scale ``values`` (rows x columns) with what :func:`fit_scaling` found, then clip as
    ``recipe`` says."""
    if "edges" in scaling:
        edges = np.asarray(scaling["edges"], dtype=np.float64)
        scaled = quantile_scores(values, edges, limit=float(recipe.get("quantile_limit", QUANTILE_LIMIT)))
    else:
        center = np.asarray(scaling["center"], dtype=np.float64)
        scaled = (values - center) / np.asarray(scaling["scale"], dtype=np.float64)
    return smooth_clip(scaled, float(recipe["clip"])) if recipe.get("clip") else scaled


# --- recipes: arrays of rows, sequences ----------------------------------------------------------


def fit_standardised(
    x_train: Array,
    *,
    kind: str,
    features: list[str] | None = None,
    scaling: str = "standard",
    clip: bool = False,
) -> Recipe:
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
    if values.ndim == 2:  # rows of columns: the chosen scaling (sequences: per channel, standard)
        recipe.update(scaling_keys(scaling, clip), **fit_scaling(values, scaling))
    return recipe


def _numeric_rows(recipe: Recipe, raw: Any, dtype: type) -> Array:
    """The rows ``raw`` as an array of ``dtype`` (its ``features`` columns, where the recipe names
    them), checked against the recipe's input shape."""
    if isinstance(raw, pd.DataFrame) and recipe.get("features"):
        require_columns(recipe["features"], raw)
        raw = raw[recipe["features"]]
    try:
        values: Array = np.asarray(raw, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise DataError(
            f"preprocessing: {recipe['kind']} rows must be numbers ({first_line(error)})"
        ) from None
    shape = tuple(recipe["input_shape"])
    if values.ndim != len(shape) + 1 or values.shape[1:] != shape:
        raise DataError(
            f"preprocessing: expected {recipe['kind']} rows of shape {shape}, got {values.shape[1:]}"
        )
    return values


def apply_standardised(recipe: Recipe, raw: Any) -> Array:
    values = _numeric_rows(recipe, raw, np.float64)
    if "scaling" in recipe:
        return scale_values(values, recipe, recipe).astype(np.float32)
    mean = np.asarray(recipe["mean"], dtype=np.float64)  # sequences, and version 1 recipes
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


def fit_csv(
    frame: pd.DataFrame,
    *,
    where: str,
    scaling: str = "standard",
    clip: bool = False,
    max_onehot: int | None = None,
) -> Recipe:
    """Fit a csv recipe on the training rows ``frame``: per numeric column its median (missing
    values take it; a column with no value in the training rows takes 0, a constant) and the
    scaling's statistics of the imputed values; per text column its categories, one-hot, or
    with more than ``max_onehot`` of them ``encoding: embedding``: one column holding the
    category's index from 1 (0: unseen), which the network embeds."""
    columns: list[Recipe] = []
    outputs: list[str] = []
    for name in frame.columns:
        column = frame[name]
        if is_numeric(column):
            values = numbers(column, str(name))
            observed = values[~np.isnan(values)]
            median = float(np.median(observed)) if observed.size else 0.0
            filled = np.where(np.isnan(values), median, values)
            mean, std = moments(filled, 0)
            fitted = fit_scaling(filled[:, np.newaxis], scaling)
            columns.append(
                {
                    "name": str(name),
                    "type": "numeric",
                    "median": median,
                    "mean": float(mean),
                    "std": float(std),
                    **{key: value[0] for key, value in fitted.items()},
                }
            )
            outputs.append(str(name))
        else:
            categories = sorted(set(category_labels(column)))
            spec = {"name": str(name), "type": "categorical", "categories": categories}
            if max_onehot is not None and len(categories) > max_onehot:
                columns.append({**spec, "encoding": "embedding"})
                outputs.append(str(name))
            else:
                columns.append(spec)
                outputs.extend(f"{name}={category}" for category in categories)
    return {
        "kind": "csv",
        "input_shape": [len(outputs)],
        "columns": columns,
        "features": outputs,
        **scaling_keys(scaling, clip),
    }


def apply_csv(recipe: Recipe, raw: Any) -> Array:
    if not isinstance(raw, pd.DataFrame):
        raise DataError(f"preprocessing: a csv recipe needs a pandas DataFrame, got {type(raw).__name__}")
    require_columns([spec["name"] for spec in recipe["columns"]], raw)
    blocks: list[Array] = []
    for spec in recipe["columns"]:
        column = raw[spec["name"]]
        if spec["type"] == "numeric":
            values = numbers(column, spec["name"])
            values = np.where(np.isnan(values), spec["median"], values)[:, np.newaxis]
            blocks.append(scale_values(values, column_scaling(spec), recipe))
        else:
            # Unseen categories get code -1 and so a row of zeros.
            index = {category: code for code, category in enumerate(spec["categories"])}
            codes = np.asarray([index.get(label, -1) for label in category_labels(column)], dtype=np.int64)
            if spec.get("encoding") == "embedding":
                blocks.append((codes + 1.0)[:, np.newaxis])  # 0: unseen
                continue
            one_hot = np.zeros((len(codes), len(spec["categories"])), dtype=np.float64)
            seen = np.flatnonzero(codes >= 0)
            one_hot[seen, codes[seen]] = 1.0
            blocks.append(one_hot)
    return np.concatenate(blocks, axis=1).astype(np.float32)


def column_scaling(spec: Recipe) -> dict[str, Any]:
    """One numeric column's scaling as :func:`scale_values` takes it (version 1: mean and std)."""
    if "edges" in spec:
        return {"edges": [spec["edges"]]}
    return {"center": [spec.get("center", spec["mean"])], "scale": [spec.get("scale", spec["std"])]}


def raw_inputs(recipe: Recipe, raw: Any) -> dict[str, Array] | Array:
    """What a model that preprocesses its own inputs takes: the part of a recipe that stays outside.

    A csv recipe gives one ``(rows, 1)`` array per column, keyed by its name: float32 numbers
    (missing ones NaN, which the model imputes), or text (missing ones ``MISSING_CATEGORY``). A
    tabular recipe gives the float32 rows. Raises :class:`DataError` as
    :func:`apply_preprocessing` would.
    """
    if recipe.get("kind") == "csv":
        if not isinstance(raw, pd.DataFrame):
            raise DataError(f"preprocessing: a csv recipe needs a pandas DataFrame, got {type(raw).__name__}")
        require_columns([spec["name"] for spec in recipe["columns"]], raw)
        inputs: dict[str, Array] = {}
        for spec in recipe["columns"]:
            column = raw[spec["name"]]
            if spec["type"] == "numeric":
                inputs[spec["name"]] = numbers(column, spec["name"]).astype(np.float32)[:, np.newaxis]
            else:
                inputs[spec["name"]] = np.asarray(category_labels(column), dtype=str)[:, np.newaxis]
        return inputs
    return _numeric_rows(recipe, raw, np.float32)


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
