"""Residual blocks, one vocabulary for dense, Conv1D and Conv2D inputs.

A block family is data in the registry (:mod:`ressearch.config.blocks`): which weight layers a
block stacks (width, kernel) and whether a shortcut spans them. :func:`residual_block` builds
any family, pre- or post-activation, with dropout between weight layers and stochastic depth on
the residual branch, or hands over to the family's own ``build``. :class:`LayerKit` hands out
the rank-specific layers, with deterministic names, so that blocks never branch on the input
rank themselves. Only ``keras.layers``/``keras.ops``.
"""

from __future__ import annotations

from typing import Any

import keras

from ressearch.arch.ensemble import BatchEnsembleDense, Scaling
from ressearch.arch.layers import ChannelPad, StochasticDepth
from ressearch.config.architecture import ArchitectureConfig

__all__ = ["LayerKit", "residual_block"]

Tensor = Any


class LayerKit:
    """Rank-specific layers for one architecture, applied to tensors under explicit names."""

    def __init__(self, config: ArchitectureConfig) -> None:
        self.config = config
        self.rank = config.rank
        self.members = config.ensemble_k  # dense layers shared by this many networks (TabM)
        self._use_bias = config.normalization == "none"

    def weight(
        self, x: Tensor, width: int, *, kernel: int, strides: int, name: str, first: bool = False
    ) -> Tensor:
        """A weight layer; ``first``: the network's first one, where ensemble members part."""
        if self.rank == 1 and self.members > 1:
            scaling, chunks = self._first_scaling() if first else ("ones", None)
            layer: keras.layers.Layer = BatchEnsembleDense(
                width, self.members, self._use_bias, scaling, chunks, "he_normal", name=name
            )
        elif self.rank == 1:
            layer = keras.layers.Dense(
                width, use_bias=self._use_bias, kernel_initializer="he_normal", name=name
            )
        else:
            conv = keras.layers.Conv1D if self.rank == 2 else keras.layers.Conv2D
            layer = conv(
                width,
                kernel,
                strides=strides,
                padding="same",
                use_bias=self._use_bias,
                kernel_initializer="he_normal",
                name=name,
            )
        return layer(x)

    def _first_scaling(self) -> tuple[Scaling, list[int] | None]:
        """TabM: random signs per input column; after a numeric embedding, a normal draw per
        column, shared by the units that embed it (the embedding's outputs come first, the
        embedded text columns last)."""
        config = self.config
        embedded = config.embedded_columns
        categorical = len(config.categorical_columns)
        if not embedded and not categorical:
            return "random_signs", None
        size = config.embedding_dim
        if config.numeric_embedding == "periodic":
            size = 2 * config.embedding_frequencies
        others = config.input_shape[0] - len(embedded) - categorical
        return "normal", [size] * len(embedded) + [1] * others + [config.embedding_dim] * categorical

    def dense(self, x: Tensor, units: int, name: str) -> Tensor:
        """A dense layer with a bias and the configured activation (the head's hidden layers)."""
        if self.members == 1:
            return keras.layers.Dense(units, activation=self.config.activation, name=name)(x)
        x = BatchEnsembleDense(units, self.members, kernel_initializer="glorot_uniform", name=name)(x)
        return self.act(x, f"{name}_act")

    def norm(self, x: Tensor, name: str) -> Tensor:
        if self.config.normalization == "batch":
            return keras.layers.BatchNormalization(momentum=self.config.batchnorm_momentum, name=name)(x)
        if self.config.normalization == "layer":
            return keras.layers.LayerNormalization(name=name)(x)
        return x

    def act(self, x: Tensor, name: str) -> Tensor:
        return keras.layers.Activation(self.config.activation, name=name)(x)

    def norm_act(self, x: Tensor, name: str) -> Tensor:
        return self.act(self.norm(x, f"{name}_bn"), f"{name}_act")

    def dropout(self, x: Tensor, rate: float, name: str) -> Tensor:
        return keras.layers.Dropout(rate, name=name)(x) if rate > 0 else x

    def subsample(self, x: Tensor, strides: int, name: str) -> Tensor:
        if strides == 1 or self.rank == 1:
            return x
        pool = keras.layers.MaxPooling1D if self.rank == 2 else keras.layers.MaxPooling2D
        return pool(pool_size=1, strides=strides, padding="same", name=name)(x)

    def max_pool(self, x: Tensor, name: str) -> Tensor:
        pool = keras.layers.MaxPooling1D if self.rank == 2 else keras.layers.MaxPooling2D
        return pool(pool_size=3, strides=2, padding="same", name=name)(x)

    def add(self, tensors: list[Tensor], name: str) -> Tensor:
        return keras.layers.Add(name=name)(tensors)

    def shortcut(self, x: Tensor, width: int, *, strides: int, name: str) -> Tensor:
        """Match ``x`` to ``width`` channels and ``strides``: identity, option A or option B.

        Option A cannot narrow a tensor, so a shortcut to fewer channels is always a projection.
        """
        if self.rank == 1:
            strides = 1
        in_width = x.shape[-1]
        if in_width == width and strides == 1:
            return x
        if self.config.shortcut == "identity" and width >= in_width:
            x = self.subsample(x, strides, f"{name}_subsample")
            return ChannelPad(width, name=f"{name}_pad")(x)
        y = self.weight(x, width, kernel=1, strides=strides, name=f"{name}_proj")
        if self.config.uses_preactivation:
            return y
        return self.norm(y, f"{name}_bn")


def residual_block(
    kit: LayerKit,
    x: Tensor,
    *,
    width: int,
    strides: int,
    drop_path: float,
    name: str,
) -> Tensor:
    """One block of the configured family: its weight layers and, where it has one, a shortcut."""
    config = kit.config
    family = config.family
    if family.build is not None:
        return family.build(kit, x, width=width, strides=strides, drop_path=drop_path, name=name)
    plan = family.plan(config, width)
    stride_at = next((i for i, (_, kernel) in enumerate(plan) if kernel > 1), 0)
    if kit.rank == 1:
        strides = 1
    preact = config.uses_preactivation
    shortcut_source = x
    h = x
    if preact:
        h = kit.norm_act(x, f"{name}_pre")
        # He et al. 2016: a projection shortcut reads the pre-activated input.
        if x.shape[-1] != width or strides > 1:
            shortcut_source = h
    last = len(plan) - 1
    for i, (layer_width, kernel) in enumerate(plan):
        if i > 0:
            if preact:
                h = kit.norm_act(h, f"{name}_{i}")
            h = kit.dropout(h, config.dropout, f"{name}_drop{i}")
        h = kit.weight(
            h,
            layer_width,
            kernel=kernel,
            strides=strides if i == stride_at else 1,
            name=f"{name}_conv{i + 1}" if kit.rank > 1 else f"{name}_dense{i + 1}",
        )
        if not preact:
            h = kit.norm(h, f"{name}_bn{i + 1}")
            if i < last:
                h = kit.act(h, f"{name}_act{i + 1}")
    if not family.has_shortcut:
        return h if preact else kit.act(h, f"{name}_out")
    if drop_path > 0:
        h = StochasticDepth(drop_path, name=f"{name}_droppath")(h)
    shortcut = kit.shortcut(shortcut_source, width, strides=strides, name=f"{name}_shortcut")
    out = kit.add([shortcut, h], f"{name}_add")
    return out if preact else kit.act(out, f"{name}_out")
