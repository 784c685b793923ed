"""Search spaces as data, and the only code that calls ``trial.suggest_*``.

A space maps keys to dimensions: a scalar fixes a value, a list is a categorical choice, a
mapping ``{low, high, log?, step?}`` is a range. :func:`sample` turns a trial into an
:class:`ArchitectureConfig`, :func:`sample_train` into a :class:`TrainConfig`. Parameters that
belong to one block type (``expansion`` to bottleneck blocks, ``stochastic_depth`` to blocks with
shortcuts) or to conv inputs (``dropblock_*``, ``kernel_size``, ...) are sampled only there, so
parameter names stay stable and a stored trial's ``params`` reproduce its config.

Example:
    >>> import optuna
    >>> space = ArchitectureSpace.from_dict(
    ...     {"block_type": ["basic", "plain"], "depth": {"low": 1, "high": 3}})
    >>> config = sample(optuna.trial.FixedTrial({"block_type": "plain", "depth": 2}), space,
    ...                 input_shape=(16,), outputs=3)
    >>> config.block_type, config.depths
    ('plain', (2, 2, 2))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Protocol, Self

from pydantic import BaseModel, TypeAdapter, ValidationError

from ressearch.config import ArchitectureConfig, TrainConfig, describe_validation_error
from ressearch.errors import ConfigError
from ressearch.presets import get_preset

__all__ = [
    "ArchitectureSpace",
    "Choice",
    "Fixed",
    "Range",
    "Space",
    "TrainSpace",
    "sample",
    "sample_train",
]

Kind = Literal["int", "float", "str", "bool"]


class Suggester(Protocol):
    """The part of ``optuna.Trial`` (and ``FixedTrial``) that sampling uses."""

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...
    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...
    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...


@dataclass(frozen=True)
class Fixed:
    value: Any

    def to_spec(self) -> Any:
        return self.value


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]

    def to_spec(self) -> Any:
        return list(self.options)


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def to_spec(self) -> Any:
        spec: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            spec["log"] = True
        if self.step is not None:
            spec["step"] = self.step
        return spec


Dimension = Fixed | Choice | Range


@dataclass(frozen=True)
class _Key:
    kind: Kind
    validate: Callable[[Any], Any]  # returns the value, or raises ValidationError/ValueError


def _field_key(model: type[BaseModel], name: str, kind: Kind) -> _Key:
    field = model.model_fields[name]
    annotation: Any = field.annotation
    if field.metadata:
        annotation = Annotated[annotation, *field.metadata]
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    return _Key(kind, adapter.validate_python)


def _bounded_int(low: int, high: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return check


def _positive_float(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError("must be a number above 0")
    return value


def _preset_name(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a preset name such as resnet20 or wrn-16-4 (see `ressearch presets`)")
    get_preset(value)  # raises ConfigError naming the known presets
    return value


def _arch_keys() -> dict[str, _Key]:
    keys = {
        "preset": _Key("str", _preset_name),
        "stages": _Key("int", _bounded_int(1, 8)),
        "depth": _Key("int", _bounded_int(1, 200)),
        "width": _Key("int", _bounded_int(1, 4096)),
        "width_growth": _Key("float", _positive_float),
        "head_layers": _Key("int", _bounded_int(0, 8)),
        "head_width": _Key("int", _bounded_int(1, 16384)),
    }
    kinds: dict[str, Kind] = {
        "block_type": "str",
        "preactivation": "bool",
        "skip_length": "int",
        "expansion": "float",
        "shortcut": "str",
        "kernel_size": "int",
        "downsample": "str",
        "stem_width": "int",
        "stem_kernel_size": "int",
        "stem_strides": "int",
        "stem_pool": "bool",
        "activation": "str",
        "normalization": "str",
        "batchnorm_momentum": "float",
        "dropout": "float",
        "dropblock_rate": "float",
        "dropblock_size": "int",
        "stochastic_depth": "float",
        "ror_levels": "int",
        "head_dropout": "float",
    }
    keys.update({name: _field_key(ArchitectureConfig, name, kind) for name, kind in kinds.items()})
    return keys


def _train_keys() -> dict[str, _Key]:
    kinds: dict[str, Kind] = {
        "epochs": "int",
        "batch_size": "int",
        "optimizer": "str",
        "learning_rate": "float",
        "weight_decay": "float",
        "momentum": "float",
        "schedule": "str",
        "warmup_epochs": "int",
        "label_smoothing": "float",
        "early_stopping_patience": "int",
        "clipnorm": "float",
    }
    return {name: _field_key(TrainConfig, name, kind) for name, kind in kinds.items()}


def _close_keys(key: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Space:
    """A validated mapping from keys to dimensions (fixed value, choice or range)."""

    section: ClassVar[str] = "space"
    _keys: ClassVar[dict[str, _Key]] = {}

    def __init__(self, dimensions: Mapping[str, Dimension]) -> None:
        self.dimensions: dict[str, Dimension] = dict(dimensions)

    @classmethod
    def keys(cls) -> list[str]:
        """Every key this kind of space accepts."""
        return sorted(cls._keys)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        """Validate a ``space:``/``train:`` section; problems raise :class:`ConfigError`."""
        if data is None:
            return cls({})
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{cls.section}: expected a mapping of keys to values, got {type(data).__name__}"
            )
        dimensions = {}
        for key, spec in data.items():
            where = f"{cls.section}.{key}"
            if key not in cls._keys:
                hint = _close_keys(str(key), cls._keys)
                raise ConfigError(f"{where}: unknown key{hint}; known are {', '.join(cls.keys())}")
            dimensions[key] = _parse_dimension(where, cls._keys[key], spec)
        space = cls(dimensions)
        space._check()
        return space

    def to_dict(self) -> dict[str, Any]:
        """The section as a study file writes it."""
        return {key: dimension.to_spec() for key, dimension in self.dimensions.items()}

    def possible(self, key: str) -> tuple[Any, ...] | None:
        """The values ``key`` can take, or None where it is a range or absent."""
        dimension = self.dimensions.get(key)
        if isinstance(dimension, Fixed):
            return (dimension.value,)
        if isinstance(dimension, Choice):
            return dimension.options
        return None

    def _check(self) -> None:
        """Cross-key checks; the base space has none."""

    def suggest(self, trial: Suggester, key: str) -> Any:
        """The value of ``key`` for ``trial``: fixed values are not suggested, so not in params."""
        dimension = self.dimensions[key]
        if isinstance(dimension, Fixed):
            return dimension.value
        if isinstance(dimension, Choice):
            return trial.suggest_categorical(key, list(dimension.options))
        if self._keys[key].kind == "int":
            step = int(dimension.step) if dimension.step is not None else 1
            return trial.suggest_int(
                key, int(dimension.low), int(dimension.high), step=step, log=dimension.log
            )
        return trial.suggest_float(key, dimension.low, dimension.high, step=dimension.step, log=dimension.log)

    def __contains__(self, key: object) -> bool:
        return key in self.dimensions

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and type(other) is type(self) and other.dimensions == self.dimensions

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"


class ArchitectureSpace(Space):
    """The ``space:`` section: what architectures a study may sample."""

    section = "space"
    _keys = _arch_keys()

    def _check(self) -> None:
        types = self.possible("block_type") or ()
        levels = self.possible("ror_levels") or ()
        if "plain" in types and 3 in levels:
            raise ConfigError(
                "space.ror_levels: 3 keeps the block shortcuts as the third level and block_type "
                "'plain' has none; drop 3 from ror_levels or 'plain' from block_type"
            )


class TrainSpace(Space):
    """The ``train:`` section: how each trial trains."""

    section = "train"
    _keys = _train_keys()


def _parse_dimension(where: str, key: _Key, spec: Any) -> Dimension:
    def checked(value: Any, label: str = "") -> Any:
        try:
            return key.validate(value)
        except ValidationError as error:
            raise ConfigError(describe_validation_error(error, prefix=where + label)) from None
        except ConfigError as error:
            raise ConfigError(f"{where}{label}: {error}") from None
        except ValueError as error:
            raise ConfigError(f"{where}{label}: {error}, got {value!r}") from None

    if isinstance(spec, Mapping):
        allowed = {"low", "high", "log", "step"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}: unknown key in a range; a range takes low, high, log, step"
            )
        if key.kind not in ("int", "float"):
            raise ConfigError(f"{where}: a range needs a numeric key; give a value or a list of choices")
        if "low" not in spec or "high" not in spec:
            raise ConfigError(f"{where}: a range needs both low and high, got {dict(spec)}")
        low, high = spec["low"], spec["high"]
        for bound, value in (("low", low), ("high", high)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"{where}.{bound}: must be a number, got {value!r}")
            if key.kind == "int" and not isinstance(value, int):
                raise ConfigError(f"{where}.{bound}: must be an integer for this key, got {value!r}")
            checked(value, f".{bound}")
        if low > high:
            raise ConfigError(f"{where}: `low <= high` must hold, got low={low}, high={high}")
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"{where}.log: must be true or false, got {log!r}")
        step = spec.get("step")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, int | float) or step <= 0:
                raise ConfigError(f"{where}.step: must be a number above 0, got {step!r}")
            if key.kind == "int" and not isinstance(step, int):
                raise ConfigError(f"{where}.step: must be an integer for this key, got {step!r}")
            if log and (key.kind == "float" or step != 1):
                raise ConfigError(f"{where}: log and step cannot be combined")
        if log and low <= 0:
            raise ConfigError(f"{where}.low: a log range needs low > 0, got {low}")
        if key.kind == "float":
            return Range(float(low), float(high), log, None if step is None else float(step))
        return Range(low, high, log, step)
    if isinstance(spec, list | tuple):
        if not spec:
            raise ConfigError(f"{where}: a list of choices cannot be empty")
        for index, option in enumerate(spec):
            if isinstance(option, list | tuple | Mapping):
                raise ConfigError(f"{where}[{index}]: a choice must be a single value, got {option!r}")
            checked(option, f"[{index}]")
        if len(set(map(repr, spec))) != len(spec):
            raise ConfigError(f"{where}: the list of choices repeats a value, got {list(spec)}")
        return Choice(tuple(spec))
    return Fixed(checked(spec))


_STRUCTURE = ("stages", "depth", "width", "width_growth")
_CONV_ONLY = (
    "kernel_size",
    "downsample",
    "stem_kernel_size",
    "stem_strides",
    "stem_pool",
    "dropblock_rate",
    "dropblock_size",
)
_DIRECT = (
    "preactivation",
    "skip_length",
    "shortcut",
    "kernel_size",
    "downsample",
    "stem_width",
    "stem_kernel_size",
    "stem_strides",
    "stem_pool",
    "activation",
    "normalization",
    "batchnorm_momentum",
    "dropout",
    "dropblock_rate",
    "dropblock_size",
    "ror_levels",
    "head_dropout",
)


def sample(
    trial: Suggester,
    space: ArchitectureSpace,
    *,
    input_shape: tuple[int, ...],
    outputs: int,
    head: Literal["classification", "regression"] = "classification",
) -> ArchitectureConfig:
    """Sample one architecture for data of ``input_shape`` with ``outputs`` outputs.

    Keys absent from the space keep the preset's value (``preset:``) or the config default.
    Conv-only keys are not sampled for dense inputs; ``expansion`` only for bottleneck blocks;
    ``stochastic_depth`` only for blocks with shortcuts. An impossible combination raises
    :class:`ConfigError`, which fails that trial alone.
    """
    rank = len(input_shape)
    preset = space.suggest(trial, "preset") if "preset" in space else None
    if preset is not None:
        base = get_preset(preset, input_shape=tuple(input_shape), outputs=outputs, head=head)
    else:
        base = ArchitectureConfig(input_shape=tuple(input_shape), outputs=outputs, head=head)
    fields = base.to_dict()
    block_type = space.suggest(trial, "block_type") if "block_type" in space else base.block_type
    fields["block_type"] = block_type
    if block_type != base.block_type and base.preactivation is not None:
        fields["preactivation"] = None  # the preset's choice belonged to its own block type
    if any(key in space for key in _STRUCTURE):
        growth_default = base.widths[1] / base.widths[0] if base.stages > 1 else 2.0
        stages = space.suggest(trial, "stages") if "stages" in space else base.stages
        depth = space.suggest(trial, "depth") if "depth" in space else base.depths[0]
        width = space.suggest(trial, "width") if "width" in space else base.widths[0]
        growth = space.suggest(trial, "width_growth") if "width_growth" in space else growth_default
        fields["depths"] = [depth] * stages
        fields["widths"] = [max(1, round(width * growth**stage)) for stage in range(stages)]
    for key in _DIRECT:
        if key in space and not (rank == 1 and key in _CONV_ONLY):
            fields[key] = space.suggest(trial, key)
    if "expansion" in space and block_type == "bottleneck":
        fields["expansion"] = space.suggest(trial, "expansion")
    if "stochastic_depth" in space and block_type != "plain":
        fields["stochastic_depth"] = space.suggest(trial, "stochastic_depth")
    if "head_layers" in space or "head_width" in space:
        layers = space.suggest(trial, "head_layers") if "head_layers" in space else 1
        width = space.suggest(trial, "head_width") if "head_width" in space and layers else 0
        fields["head_units"] = [width] * layers if layers else []
    renamed = any(key in space for key in (*_STRUCTURE, "block_type"))
    fields["name"] = base.name if preset is not None and not renamed else "resnet"
    return ArchitectureConfig.from_dict(fields)


def sample_train(trial: Suggester, space: TrainSpace) -> TrainConfig:
    """Sample the training settings; ``momentum`` only for the optimizers that use it."""
    fields: dict[str, Any] = {}
    optimizer = space.suggest(trial, "optimizer") if "optimizer" in space else TrainConfig().optimizer
    fields["optimizer"] = optimizer
    for key in space.dimensions:
        if key == "optimizer" or (key == "momentum" and optimizer not in ("sgd", "rmsprop")):
            continue
        fields[key] = space.suggest(trial, key)
    return TrainConfig.from_dict(fields)
