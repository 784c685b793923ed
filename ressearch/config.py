"""The one description of a model: frozen, validated, JSON-safe configs.

:class:`ArchitectureConfig` describes a residual network completely; :func:`ressearch.build_model`
turns it into a Keras model and nothing else is needed to rebuild it. :class:`TrainConfig`
describes how one trial trains it. Both round-trip exactly through ``to_dict``/``from_dict`` and
JSON, and carry a schema version. This module knows nothing of Optuna, Keras or the CLI.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ressearch.errors import ConfigError

__all__ = [
    "ACTIVATIONS",
    "BLOCK_TYPES",
    "OPTIMIZERS",
    "SCHEMA_VERSION",
    "ArchitectureConfig",
    "FrozenConfig",
    "TrainConfig",
    "describe_validation_error",
]

SCHEMA_VERSION: Literal[1] = 1

BlockType = Literal["basic", "preact", "bottleneck", "plain"]
BLOCK_TYPES: tuple[str, ...] = ("basic", "preact", "bottleneck", "plain")
Activation = Literal["relu", "gelu", "swish", "elu", "selu", "leaky_relu"]
ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "swish", "elu", "selu", "leaky_relu")
Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "sgd", "rmsprop")

PositiveInt = Annotated[int, Field(gt=0)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]


def describe_validation_error(error: ValidationError, *, prefix: str = "") -> str:
    """One line for the first problem pydantic found: where it is, what was given, what is allowed."""
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    where = ".".join(part for part in (prefix, location) if part) or prefix or "value"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    if first["type"] == "missing":
        return f"{where}: required key is missing"
    received = first.get("input")
    if first["type"].startswith("value_error") or received is None or isinstance(received, dict):
        return f"{where}: {message}"
    return f"{where}: {message}, got {received!r}"


class FrozenConfig(BaseModel):
    """Base of every config: frozen, unknown keys rejected, JSON round trip, one-line errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-safe dict; :meth:`from_dict` of it gives an equal config."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Validate ``data``; a bad value raises :class:`ConfigError` naming the field."""
        if not isinstance(data, dict):
            raise ConfigError(f"{cls._label}: expected a mapping, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise ConfigError(describe_validation_error(error, prefix=cls._label)) from None

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{cls._label}: not valid JSON ({error})") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> Self:
        """A validated copy with ``changes`` applied."""
        return type(self).from_dict({**self.to_dict(), **changes})

    _label: ClassVar[str] = "config"


class ArchitectureConfig(FrozenConfig):
    """Everything that defines one residual network, apart from its weights.

    The input rank picks the layer family: ``(features,)`` builds dense blocks (tabular rows),
    ``(length, channels)`` Conv1D blocks (sequences), ``(height, width, channels)`` Conv2D blocks.

    Example:
        >>> from ressearch import ArchitectureConfig, build_model
        >>> config = ArchitectureConfig(input_shape=(8, 8, 1), outputs=10, depths=(1, 1), widths=(8, 16))
        >>> build_model(config).count_params() > 0
        True
    """

    _label: ClassVar[str] = "architecture"

    schema_version: Literal[1] = SCHEMA_VERSION
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=64)] = "resnet"
    input_shape: Annotated[tuple[PositiveInt, ...], Field(min_length=1, max_length=3)]
    outputs: PositiveInt
    head: Literal["classification", "regression"] = "classification"

    # Stages: one entry each. A stage after the first halves the resolution (conv inputs).
    depths: Annotated[tuple[PositiveInt, ...], Field(min_length=1)] = (2, 2, 2)
    widths: Annotated[tuple[PositiveInt, ...], Field(min_length=1)] = (16, 32, 64)

    block_type: BlockType = "basic"
    # None: the block type decides (preact: True; basic, bottleneck, plain: False).
    preactivation: bool | None = None
    # Weight layers one shortcut spans ("add layer L to layer L+n"). A bottleneck of n >= 2 is
    # 1x1 reduce, n-2 kxk layers, 1x1 expand; of n = 1, a single kxk layer.
    skip_length: PositiveInt = 2
    # Bottleneck only: block output width / inner width (4 for the ResNet 1x1-3x3-1x1 block;
    # below 1 gives the wide hidden layer of the tabular ResNet, e.g. 0.5 for a factor of 2).
    expansion: Annotated[float, Field(gt=0.0, le=64.0)] = 4.0
    # identity: option A, zero-padded channels and strided subsampling; projection: option B,
    # a 1x1 weight layer wherever the shape changes.
    shortcut: Literal["identity", "projection"] = "projection"
    kernel_size: PositiveInt = 3
    downsample: Literal["stride", "maxpool"] = "stride"

    stem_width: PositiveInt | None = None  # None: the first stage's width
    stem_kernel_size: PositiveInt = 3
    stem_strides: PositiveInt = 1
    stem_pool: bool = False

    activation: Activation = "relu"
    normalization: Literal["batch", "layer", "none"] = "batch"
    # Keras' default 0.99 needs hundreds of steps per epoch; small studies need about 0.9.
    batchnorm_momentum: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.9

    dropout: Rate = 0.0  # between the weight layers of a block
    dropblock_rate: Rate = 0.0  # conv inputs only, after each block
    dropblock_size: PositiveInt = 3
    stochastic_depth: Rate = 0.0  # drop rate of the last block; linear from 0 over depth

    # RoR: 1 adds a root shortcut around all stages, 2 also one around each stage, 3 also keeps
    # the ordinary block shortcuts as the third level.
    ror_levels: Literal[0, 1, 2, 3] = 0

    head_units: tuple[PositiveInt, ...] = ()
    head_dropout: Rate = 0.0

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(self.depths) != len(self.widths):
            raise ValueError(
                f"depths and widths need one entry per stage, got {len(self.depths)} depths "
                f"and {len(self.widths)} widths"
            )
        if self.block_type == "basic" and self.preactivation:
            raise ValueError("block_type 'basic' is post-activation: use block_type 'preact'")
        if self.block_type == "preact" and self.preactivation is False:
            raise ValueError("block_type 'preact' is pre-activation: use block_type 'basic'")
        if self.block_type == "plain" and self.ror_levels == 3:
            raise ValueError(
                "ror_levels 3 keeps the block shortcuts as its third level and block_type "
                "'plain' has none: use ror_levels 0, 1 or 2"
            )
        if self.block_type == "plain" and self.stochastic_depth > 0:
            raise ValueError("stochastic_depth drops residual branches and block_type 'plain' has none")
        if self.rank == 1 and self.dropblock_rate > 0:
            raise ValueError("dropblock_rate applies to conv inputs (rank 2 or 3), not to dense inputs")
        return self

    @property
    def rank(self) -> int:
        """1 for vectors (dense), 2 for sequences (Conv1D), 3 for images (Conv2D)."""
        return len(self.input_shape)

    @property
    def stages(self) -> int:
        return len(self.depths)

    @property
    def uses_preactivation(self) -> bool:
        if self.preactivation is not None:
            return self.preactivation
        return self.block_type == "preact"

    @property
    def has_shortcuts(self) -> bool:
        return self.block_type != "plain"

    @property
    def first_width(self) -> int:
        return self.stem_width if self.stem_width is not None else self.widths[0]


class TrainConfig(FrozenConfig):
    """How one trial trains its network."""

    _label: ClassVar[str] = "train"

    schema_version: Literal[1] = SCHEMA_VERSION
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 64
    optimizer: Optimizer = "adam"
    learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.9  # sgd and rmsprop
    schedule: Literal["constant", "cosine"] = "constant"
    warmup_epochs: Annotated[int, Field(ge=0)] = 0
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    early_stopping_patience: PositiveInt | None = None
    clipnorm: Annotated[float, Field(gt=0.0)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.warmup_epochs and self.schedule != "cosine":
            raise ValueError("warmup_epochs is part of the cosine schedule: set schedule: cosine")
        if self.warmup_epochs >= self.epochs and self.warmup_epochs > 0:
            raise ValueError(f"warmup_epochs must be below epochs, got {self.warmup_epochs=}, {self.epochs=}")
        return self
