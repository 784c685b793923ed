"""The few layers Keras does not ship: option-A channel padding, DropBlock, stochastic depth, the
de-standardising output of a regression head, the numeric embeddings of tabular columns, and the
steps of a table's preprocessing that Keras lacks (imputing missing numbers, quantile scaling,
the smooth clip).

Written with ``keras.ops`` and ``keras.random`` only, and registered for serialization so that a
saved ``model.keras`` loads wherever ``ressearch`` is importable.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, get_args

import keras
import numpy as np
from keras import ops

from ressearch.config.architecture import BinsFrom

__all__ = [
    "ChannelPad",
    "Columns",
    "Destandardize",
    "DropBlock",
    "FillMissing",
    "QuantileScaling",
    "SmoothClip",
    "PeriodicEmbedding",
    "PiecewiseLinearEmbedding",
    "StochasticDepth",
]

_PACKAGE = "ressearch"

BINS_FROM: tuple[str, ...] = get_args(BinsFrom)  # where a piecewise-linear embedding's edges come from


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ChannelPad(keras.layers.Layer):
    """Zero-pads the last axis up to ``channels``: the identity shortcut of He et al.'s option A."""

    def __init__(self, channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels = int(channels)

    def call(self, inputs: Any) -> Any:
        missing = self.channels - inputs.shape[-1]
        if missing <= 0:
            return inputs
        before = missing // 2
        widths = [(0, 0)] * (len(inputs.shape) - 1) + [(before, missing - before)]
        return ops.pad(inputs, widths)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], max(self.channels, input_shape[-1] or 0))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "channels": self.channels}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DropBlock(keras.layers.Layer):
    """DropBlock (Ghiasi et al. 2018) for 1-D and 2-D feature maps, channels last.

    Drops contiguous ``block_size`` regions with a rate of about ``rate`` during training and
    rescales the kept units; the identity at inference.
    """

    def __init__(self, rate: float, block_size: int, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.block_size = int(block_size)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0.0:
            return inputs
        spatial = inputs.shape[1:-1]
        size = min([self.block_size, *[dim for dim in spatial if dim is not None]])
        area = 1.0
        valid = 1.0
        for dim in spatial:
            area *= dim
            valid *= max(dim - size + 1, 1)
        # The seed rate that makes the dropped fraction about `rate` once seeds grow into blocks.
        gamma = self.rate * area / (size ** len(spatial)) / valid
        noise = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator)
        seeds = ops.cast(noise < gamma, inputs.dtype)
        pool = (size,) * len(spatial)
        dropped = ops.max_pool(seeds, pool_size=pool, strides=1, padding="same")
        keep = 1.0 - dropped
        kept_fraction = ops.mean(keep)
        return inputs * keep / ops.maximum(kept_fraction, 1e-6)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rate": self.rate,
            "block_size": self.block_size,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StochasticDepth(keras.layers.Layer):
    """Drops a whole residual branch per sample with probability ``rate`` (Huang et al. 2016).

    Kept branches are scaled by ``1 / (1 - rate)`` during training, so inference is the identity.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator)
        mask = ops.cast(noise < keep, inputs.dtype)
        return inputs * mask / keep

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Destandardize(keras.layers.Layer):
    """``x * std + mean``: a regression net learns the standardised target, and predicts in units.

    The constants are part of the config, not weights: the layer has no parameters and a saved
    model predicts in the target's original units with no extra step.
    """

    def __init__(self, mean: float, std: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean = float(mean)
        self.std = float(std)

    def call(self, inputs: Any) -> Any:
        return inputs * self.std + self.mean

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Columns(keras.layers.Layer):
    """The input columns at ``indices`` (last axis), in that order."""

    def __init__(self, indices: list[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.indices = [int(index) for index in indices]

    def call(self, inputs: Any) -> Any:
        return ops.take(inputs, self.indices, axis=-1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], len(self.indices))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "indices": self.indices}


def _uniform(fan_in: int) -> keras.initializers.Initializer:
    bound = fan_in**-0.5
    return keras.initializers.RandomUniform(-bound, bound)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PeriodicEmbedding(keras.layers.Layer):
    """Periodic embeddings of continuous columns (Gorishniy et al. 2022, section 3.3).

    Column ``x`` becomes ``cos(2 pi f x)`` and ``sin(2 pi f x)`` for ``frequencies`` trainable
    frequencies ``f``, initialised from a normal of standard deviation ``sigma`` (truncated at two
    deviations). With ``units``, a linear layer and ReLU follow (PLR): one per column, or one
    shared by every column with ``lite``. Input ``(batch, columns)``; output ``(batch, columns,
    units)``, or ``(batch, columns, 2 * frequencies)`` without ``units``.

    The initial scale matters: large frequencies turn a column into noise before training
    starts, so ``sigma`` stays small (0.01 to 1 for standardised columns).
    """

    def __init__(
        self,
        frequencies: int,
        sigma: float,
        units: int | None = None,
        lite: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.frequencies = int(frequencies)
        self.sigma = float(sigma)
        self.units = None if units is None else int(units)
        self.lite = bool(lite)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        columns = int(input_shape[-1])  # type: ignore[arg-type]
        self.frequency = self.add_weight(
            shape=(columns, self.frequencies),
            initializer=keras.initializers.TruncatedNormal(stddev=self.sigma),
            name="frequency",
        )
        if self.units is None:
            return
        width = 2 * self.frequencies
        per_column = () if self.lite else (columns,)
        self.kernel = self.add_weight(
            shape=(*per_column, width, self.units), initializer=_uniform(width), name="kernel"
        )
        self.bias = self.add_weight(shape=(*per_column, self.units), initializer=_uniform(width), name="bias")

    def call(self, inputs: Any) -> Any:
        angles = (2.0 * math.pi) * ops.expand_dims(inputs, -1) * self.frequency
        x = ops.concatenate([ops.cos(angles), ops.sin(angles)], axis=-1)
        if self.units is None:
            return x
        if self.lite:
            x = ops.matmul(x, self.kernel) + self.bias
        else:
            x = ops.einsum("bcf,cfu->bcu", x, self.kernel) + self.bias
        return ops.relu(x)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        size = 2 * self.frequencies if self.units is None else self.units
        return (*input_shape, size)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "frequencies": self.frequencies,
            "sigma": self.sigma,
            "units": self.units,
            "lite": self.lite,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PiecewiseLinearEmbedding(keras.layers.Layer):
    """Piecewise-linear embeddings of continuous columns (Gorishniy et al. 2022, section 3.2).

    Each column has ``bins + 1`` bin edges, quantiles of its training values (set by
    :meth:`adapt`, held as a non-trainable weight so they save with the model). A value encodes
    as one number per bin: 1 for bins below it, 0 for bins above it, its position within its own
    bin; below the lowest edge and above the highest the encoding goes on linearly. Repeated
    quantiles (a column with few distinct values) give empty bins that encode as 0, so a constant
    column encodes as zeros. A linear layer per column maps the encoding to ``units``, added to a
    linear embedding of the value itself; the encoding's weights start at zero, so the layer
    starts as a linear embedding (the rtdl package's version "B"). Input ``(batch, columns)``;
    output ``(batch, columns, units)``. Until adapted, the edges are quantiles of a standard
    normal, which standardised columns roughly follow.

    ``bins_from="tree"`` takes the edges from the target instead (the paper's target-aware bins,
    from decision trees): per column, the split thresholds of a decision tree of at most ``bins``
    leaves fitted on that column alone against the training labels, so the edges fall where the
    label changes rather than where the rows are dense; a column the tree does not split encodes
    as zeros, as a constant one does.
    """

    def __init__(self, bins: int, units: int, bins_from: BinsFrom = "quantiles", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bins = int(bins)
        self.units = int(units)
        if bins_from not in BINS_FROM:
            raise ValueError(f"bins_from must be one of {', '.join(BINS_FROM)}, got {bins_from!r}")
        self.bins_from: BinsFrom = bins_from

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        columns = int(input_shape[-1])  # type: ignore[arg-type]
        normal = NormalDist()
        prior = [normal.inv_cdf(p) for p in np.linspace(0.01, 0.99, self.bins + 1)]
        self.edges = self.add_weight(
            shape=(columns, self.bins + 1),
            initializer=keras.initializers.Constant(np.tile(prior, (columns, 1))),
            trainable=False,
            name="edges",
        )
        self.value_kernel = self.add_weight(
            shape=(columns, self.units), initializer=_uniform(self.units), name="value_kernel"
        )
        self.bias = self.add_weight(
            shape=(columns, self.units), initializer=_uniform(self.units), name="bias"
        )
        self.kernel = self.add_weight(
            shape=(columns, self.bins, self.units), initializer="zeros", name="kernel"
        )

    def adapt(self, data: Any, target: Any = None, *, classify: bool = True) -> None:
        """Set the bin edges from ``data``, the training rows of the embedded columns: their
        quantiles, or (``bins_from="tree"``) the thresholds of a tree per column fitted on
        ``target``, the same rows' labels (class codes if ``classify``, else values)."""
        values = np.asarray(data, dtype=np.float64)
        if not self.built:
            self.build(values.shape)
        if self.bins_from == "quantiles":
            edges = np.quantile(values, np.linspace(0.0, 1.0, self.bins + 1), axis=0).T
        elif target is None:
            raise ValueError("bins_from='tree' needs the training rows' labels: adapt(data, target)")
        else:
            edges = tree_edges(values, np.asarray(target), self.bins, classify=classify)
        self.edges.assign(edges.astype(self.edges.dtype))

    def encode(self, inputs: Any) -> Any:
        """The piecewise-linear encoding: ``(batch, columns)`` to ``(batch, columns, bins)``."""
        edges = ops.cast(self.edges, inputs.dtype)
        left, width = edges[:, :-1], edges[:, 1:] - edges[:, :-1]
        filled = width > 0
        position = (ops.expand_dims(inputs, -1) - left) / ops.where(filled, width, 1.0)
        # The first and the last filled bin of a column stay open below and above.
        count = ops.cumsum(ops.cast(filled, "int32"), axis=-1)
        first = ops.logical_and(filled, count == 1)
        last = ops.logical_and(filled, count == count[:, -1:])
        low = ops.cast(ops.where(first, -np.inf, 0.0), inputs.dtype)
        high = ops.cast(ops.where(last, np.inf, 1.0), inputs.dtype)
        encoded = ops.minimum(ops.maximum(position, low), high)
        return ops.where(filled, encoded, 0.0)

    def call(self, inputs: Any) -> Any:
        value = ops.expand_dims(inputs, -1) * self.value_kernel + self.bias
        return value + ops.einsum("bck,cku->bcu", self.encode(inputs), self.kernel)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape, self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bins": self.bins, "units": self.units, "bins_from": self.bins_from}


def tree_edges(values: np.ndarray, target: np.ndarray, bins: int, *, classify: bool) -> np.ndarray:
    """``bins + 1`` edges per column of ``values`` (rows x columns), ``(columns, bins + 1)``: the
    column's lowest value, the thresholds of a decision tree of at most ``bins`` leaves fitted on
    the column alone against ``target``, and its highest value, repeated to fill the row (empty
    bins, which encode as zeros). Leaves hold at least ``rows / (4 * bins)`` rows, so that a few
    rows do not make a bin of their own. Deterministic: the tree's ties are broken by a fixed seed.
    """
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    rows, columns = values.shape
    target = target.reshape(rows, -1)
    target = target.ravel() if target.shape[1] == 1 else target
    leaf = max(1, rows // (4 * bins))
    tree_type = DecisionTreeClassifier if classify else DecisionTreeRegressor
    edges = np.empty((columns, bins + 1))
    for column in range(columns):
        x = values[:, column : column + 1]
        tree = tree_type(max_leaf_nodes=bins, min_samples_leaf=leaf, random_state=0).fit(x, target)
        splits = tree.tree_.threshold[tree.tree_.feature >= 0]
        low, high = float(x.min()), float(x.max())
        inner = np.unique(splits[(splits > low) & (splits < high)])
        row = np.concatenate([[low], inner, [high]])
        edges[column] = np.concatenate([row, np.full(bins + 1 - len(row), high)])
    return edges


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FillMissing(keras.layers.Layer):
    """Missing values (NaN) of each column take that column's entry of ``values`` (its training
    median): the imputation of a csv recipe, inside the model."""

    def __init__(self, values: list[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values = [float(value) for value in values]

    def call(self, inputs: Any) -> Any:
        return ops.where(ops.isnan(inputs), ops.cast(self.values, inputs.dtype), inputs)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "values": self.values}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class QuantileScaling(keras.layers.Layer):
    """Normal scores of each column through its training quantiles ``edges`` (columns x edges).

    The empirical distribution function, linear within each bin between two edges (a bin of
    width 0 counts half at its value), clipped to ``[limit, 1 - limit]`` and mapped through the
    inverse normal distribution: :func:`ressearch.data.recipes.quantile_scores` in Keras ops,
    computed in float64 so that the model gives the recipe's numbers.
    """

    def __init__(self, edges: list[list[float]], limit: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.edges = [[float(edge) for edge in column] for column in edges]
        self.limit = float(limit)

    def call(self, inputs: Any) -> Any:
        edges = ops.convert_to_tensor(np.asarray(self.edges, dtype=np.float64))
        left, width = edges[:, :-1], edges[:, 1:] - edges[:, :-1]
        offset = ops.expand_dims(ops.cast(inputs, "float64"), -1) - left
        filled = width > 0
        ramp = ops.clip(offset / ops.where(filled, width, 1.0), 0.0, 1.0)
        step = 0.5 * (ops.sign(offset) + 1.0)
        share = ops.clip(ops.mean(ops.where(filled, ramp, step), axis=-1), self.limit, 1.0 - self.limit)
        return ops.cast(math.sqrt(2.0) * ops.erfinv(2.0 * share - 1.0), inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "edges": self.edges, "limit": self.limit}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SmoothClip(keras.layers.Layer):
    """``x / sqrt(1 + (x / limit)^2)``: RealMLP's smooth clip (Holzmueller et al. 2024), about
    ``x`` near 0 and towards ``+-limit`` far out."""

    def __init__(self, limit: float = 3.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = float(limit)

    def call(self, inputs: Any) -> Any:
        return inputs / ops.sqrt(1.0 + ops.square(inputs / self.limit))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "limit": self.limit}
