"""A trained network with its table preprocessing inside: ``with_raw_inputs(network, recipe)``.

The recipe (a fitted, JSON-safe preprocessing recipe of rows of columns, as
:mod:`ressearch.data.recipes` writes it) becomes Keras layers with its fitted state: missing
numbers imputed (:class:`FillMissing`), standard and robust scaling as ``keras.layers.
Normalization`` with the recipe's center and scale, quantile scaling (:class:`QuantileScaling`),
the smooth clip (:class:`SmoothClip`), text one-hot through ``keras.layers.StringLookup`` (or
its index, for a column the network embeds); the columns laid out as the network was trained on
them. So the exported ``.keras`` model and its
SavedModel take raw columns, text included. Keras only: takes the recipe as a dict, never reads
data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from ressearch.arch.layers import Columns, FillMissing, QuantileScaling, SmoothClip

__all__ = ["RAW_INPUT_KINDS", "input_names", "with_raw_inputs"]

RAW_INPUT_KINDS: tuple[str, ...] = ("csv", "tabular")  # recipes whose steps the model can hold
_QUANTILE_LIMIT = 1e-3  # recipes that do not say (none yet): data.recipes.QUANTILE_LIMIT


def input_names(keys: Sequence[str]) -> dict[str, str]:
    """Each raw input's key and the name a SavedModel signature gives it: letters, digits and
    ``_``, unique (``"sepal width (cm)"`` is ``sepal_width_cm``).

    Example:
        >>> input_names(["sepal width (cm)", "sepal/width", "2nd"])
        {'sepal width (cm)': 'sepal_width_cm', 'sepal/width': 'sepal_width', '2nd': 'c_2nd'}
    """
    names: dict[str, str] = {}
    for key in keys:
        safe = re.sub(r"[^A-Za-z0-9_]+", "_", key).strip("_") or "column"
        if safe[0].isdigit():
            safe = f"c_{safe}"
        base, count = safe, 1
        while safe in names.values():
            count += 1
            safe = f"{base}_{count}"
        names[key] = safe
    return names


def _scaled(x: Any, recipe: Mapping[str, Any], scaling: Mapping[str, Any], name: str) -> Any:
    """The numeric columns ``x`` scaled (and clipped) as ``recipe`` says."""
    if "edges" in scaling:
        limit = float(recipe.get("quantile_limit", _QUANTILE_LIMIT))
        x = QuantileScaling(scaling["edges"], limit, name=f"{name}_quantile")(x)
    else:
        center = np.asarray(scaling["center"], dtype=np.float64)
        scale = np.asarray(scaling["scale"], dtype=np.float64)
        x = keras.layers.Normalization(mean=center, variance=scale**2, name=f"{name}_scale")(x)
    if recipe.get("clip"):
        x = SmoothClip(float(recipe["clip"]), name=f"{name}_clip")(x)
    return x


def _csv_scaling(numeric: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The numeric columns' scaling, stacked (version 1 recipes: their mean and std)."""
    if all("edges" in spec for spec in numeric):
        return {"edges": [spec["edges"] for spec in numeric]}
    return {
        "center": [spec.get("center", spec["mean"]) for spec in numeric],
        "scale": [spec.get("scale", spec["std"]) for spec in numeric],
    }


def _csv_inputs(recipe: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    names = input_names([spec["name"] for spec in recipe["columns"]])
    inputs: dict[str, Any] = {}
    numeric = [spec for spec in recipe["columns"] if spec["type"] == "numeric"]
    blocks: list[Any] = []
    place: dict[str, range] = {}  # where each column's values land in the blocks joined
    for spec in recipe["columns"]:
        dtype = "float32" if spec["type"] == "numeric" else "string"
        # Named as the column (a dict's keys must be its tensors' names); "/" is not allowed.
        name = spec["name"] if "/" not in spec["name"] else names[spec["name"]]
        inputs[spec["name"]] = keras.Input(shape=(1,), dtype=dtype, name=name)
    if numeric:
        x = [inputs[spec["name"]] for spec in numeric]
        x = x[0] if len(x) == 1 else keras.layers.Concatenate(name="numeric_columns")(x)
        x = FillMissing([spec["median"] for spec in numeric], name="numeric_fill")(x)
        blocks.append(_scaled(x, recipe, _csv_scaling(numeric), "numeric"))
        place.update((spec["name"], range(index, index + 1)) for index, spec in enumerate(numeric))
    for spec in recipe["columns"]:
        if spec["type"] == "numeric":
            continue
        name = names[spec["name"]]
        categories = list(spec["categories"])
        start = sum(len(columns) for columns in place.values())
        if (
            spec.get("encoding") == "embedding"
        ):  # the category's index from 1, 0 unseen: the network embeds it
            index = keras.layers.StringLookup(vocabulary=categories, num_oov_indices=1, name=f"{name}_lookup")
            blocks.append(keras.ops.cast(index(inputs[spec["name"]]), "float32"))
            place[spec["name"]] = range(start, start + 1)
            continue
        # Index 0 is the unseen categories' column, dropped: an unseen category is all zeros.
        lookup = keras.layers.StringLookup(
            vocabulary=categories, num_oov_indices=1, output_mode="one_hot", name=f"{name}_lookup"
        )
        one_hot = keras.ops.cast(lookup(inputs[spec["name"]]), "float32")
        blocks.append(Columns(list(range(1, len(categories) + 1)), name=f"{name}_one_hot")(one_hot))
        place[spec["name"]] = range(start, start + len(categories))
    x = blocks[0] if len(blocks) == 1 else keras.layers.Concatenate(name="raw_columns")(blocks)
    # The network takes the columns in the recipe's order: numeric ones were gathered first.
    layout = [index for spec in recipe["columns"] for index in place[spec["name"]]]
    if layout != sorted(layout):
        x = Columns(layout, name="recipe_order")(x)
    return inputs, x


def with_raw_inputs(network: keras.Model, recipe: Mapping[str, Any]) -> keras.Model:
    """``network`` (trained on preprocessed rows) behind the preprocessing ``recipe`` describes.

    A csv recipe gives a model of a dict of raw columns, each ``(batch, 1)``: float32 numbers
    (NaN where missing) or strings (missing text as the recipe's missing category); a tabular
    recipe a model of float32 rows. Its outputs are the network's.

    Raises:
        ValueError: the recipe is not of rows of columns (``RAW_INPUT_KINDS``).
    """
    if recipe.get("kind") not in RAW_INPUT_KINDS:
        raise ValueError(
            f"only {' and '.join(RAW_INPUT_KINDS)} recipes can live in a model, got {recipe.get('kind')!r}"
        )
    if recipe["kind"] == "csv":
        inputs, x = _csv_inputs(recipe)
    else:
        inputs = keras.Input(shape=tuple(recipe["input_shape"]), dtype="float32", name="inputs")
        scaling = recipe if "scaling" in recipe else {"center": recipe["mean"], "scale": recipe["std"]}
        x = _scaled(inputs, recipe, scaling, "numeric")
    return keras.Model(inputs, network(x), name=f"{network.name}_raw")
