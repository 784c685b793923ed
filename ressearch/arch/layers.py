"""The few layers Keras does not ship: option-A channel padding, DropBlock, stochastic depth, and
the de-standardising output of a regression head.

Written with ``keras.ops`` and ``keras.random`` only, and registered for serialization so that a
saved ``model.keras`` loads wherever ``ressearch`` is importable.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["ChannelPad", "Destandardize", "DropBlock", "StochasticDepth"]

_PACKAGE = "ressearch"


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
