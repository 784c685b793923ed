"""Search spaces as data: the ``space:`` and ``train:`` sections of a study file.

A space maps keys to dimensions: a scalar fixes a value, a list is a categorical choice, a
mapping ``{low, high, log?, step?}`` is a range. The keys are derived from the config models:
every field of :class:`ArchitectureConfig` / :class:`TrainConfig` is a key unless its
:class:`~ressearch.config.base.Search` marker says something else decides it, so a new config
field is sampleable by construction. A few structural keys (``stages``, ``depth``, ``width``, ...)
shape several fields at once. A section may also be a name (``space: tabular``), or start from
one (``{extends: tabular, ...}``): :mod:`ressearch.config.named`. Parsing only: sampling is
:mod:`ressearch.search.space`.

Example:
    >>> space = ArchitectureSpace.from_dict(
    ...     {"block_type": ["basic", "plain"], "depth": {"low": 1, "high": 3}})
    >>> space.dimensions["depth"]
    Range(low=1, high=3, log=False, step=None)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, TypeAdapter, ValidationError

from ressearch.config.architecture import ArchitectureConfig
from ressearch.config.base import Kind, Search, describe_validation_error, field_kind, search_marker
from ressearch.config.blocks import get_block
from ressearch.config.named import NAMED_SPACES, NAMED_TRAIN, named_section
from ressearch.config.presets import get_preset
from ressearch.config.training import TrainConfig
from ressearch.errors import ConfigError

__all__ = [
    "STRUCTURE_KEYS",
    "ArchitectureSpace",
    "Choice",
    "Dimension",
    "Fixed",
    "Key",
    "Range",
    "Space",
    "TrainSpace",
    "config_keys",
]


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
class Key:
    """One key of a space: its value kind, how a value is checked, and when it is sampled."""

    kind: Kind
    validate: Callable[[Any], Any]  # returns the value, or raises ValidationError/ValueError
    search: Search = field(default_factory=Search)


def _field_key(model: type[BaseModel], name: str, kind: Kind) -> Key:
    info = model.model_fields[name]
    annotation: Any = info.annotation
    if info.metadata:
        annotation = Annotated[annotation, *info.metadata]
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    return Key(kind, adapter.validate_python, search_marker(model, name))


def config_keys(model: type[BaseModel]) -> dict[str, Key]:
    """A space key for every field of ``model`` that its marker does not exclude.

    Raises:
        ConfigError: a field is sampled (no ``Search(sampled=False)``) but is not a scalar, so
            it cannot be a key: mark it, or give it structural keys.
    """
    keys = {}
    for name in model.model_fields:
        marker = search_marker(model, name)
        if not marker.sampled:
            continue
        kind = field_kind(model, name)
        if kind is None:
            raise ConfigError(
                f"{model.__name__}.{name}: not a scalar, so not a space key; mark it "
                "Search(sampled=False, reason=...) and derive it from other keys"
            )
        keys[name] = _field_key(model, name, kind)
    return keys


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


# Keys that shape several config fields at once (depths, widths, head_units) or pick a preset.
STRUCTURE_KEYS: dict[str, Key] = {
    "preset": Key("str", _preset_name),
    "stages": Key("int", _bounded_int(1, 8)),
    "depth": Key("int", _bounded_int(1, 200)),
    "width": Key("int", _bounded_int(1, 4096)),
    "width_growth": Key("float", _positive_float),
    "head_layers": Key("int", _bounded_int(0, 8)),
    "head_width": Key("int", _bounded_int(1, 16384)),
}


def _close_keys(key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Space:
    """A validated mapping from keys to dimensions (fixed value, choice or range)."""

    section: ClassVar[str] = "space"
    model: ClassVar[type[BaseModel]]
    named: ClassVar[dict[str, dict[str, Any]]] = {}  # sections a study file can give by name
    _keys: ClassVar[dict[str, Key]] = {}

    def __init__(self, dimensions: Mapping[str, Dimension], inherited: frozenset[str] = frozenset()) -> None:
        self.dimensions: dict[str, Dimension] = dict(dimensions)
        # The keys a named section gave (`space: tabular`), not the study file itself.
        self.inherited = frozenset(inherited) & set(self.dimensions)

    @classmethod
    def keys(cls) -> list[str]:
        """Every key this kind of space accepts."""
        return sorted(cls._keys)

    @classmethod
    def key(cls, name: str) -> Key:
        return cls._keys[name]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str | None) -> Self:
        """Validate a ``space:``/``train:`` section; problems raise :class:`ConfigError`.

        A name (``tabular``), or a mapping with ``extends: NAME``, expands first
        (:mod:`ressearch.config.named`).
        """
        if data is None:
            return cls({})
        overrides = set(data) if isinstance(data, Mapping) else set()
        expanded = named_section(cls.section, cls.named, data)
        # The named section's own keys, where an override made them meaningless (`extends:
        # tabular` with `numeric_embedding: none` leaves no bins to sample), go with it.
        inherited = set(expanded) - overrides if expanded is not data else set()
        data = expanded
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
        for key in sorted(inherited):
            if key in space and space._never_used(key) is not None:
                del space.dimensions[key]
        space.inherited = frozenset(inherited) & set(space.dimensions)
        space._check()
        return space

    def without(self, key: str) -> Self:
        """A copy without ``key`` (a named key that means nothing for the study's task)."""
        dimensions = {name: value for name, value in self.dimensions.items() if name != key}
        return type(self)(dimensions, self.inherited)

    def keeping_named_keys_of(self, stored: Space) -> Self:
        """A copy whose keys from a named section take their values in ``stored``, the section
        as a study was created with it (absent there: absent here): a later change to a name's
        keys never changes a study that exists already. Keys the study file wrote stay."""
        dimensions = {
            key: value for key, value in self.dimensions.items() if key not in self.inherited or key in stored
        }
        for key in self.inherited & set(stored.dimensions):
            dimensions[key] = stored.dimensions[key]
        return type(self)(dimensions, self.inherited)

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

    def _never_used(self, key: str) -> tuple[str, tuple[Any, ...]] | None:
        """The key and values ``key`` depends on, where that key can never take them (so
        ``key`` would never be sampled); None where ``key`` can be used."""
        when = self.key(key).search.when
        if when is None:
            return None
        other, values = when
        default = (self.model.model_fields[other].default,)
        possible = self.possible(other) if other in self else default
        if possible is not None and not set(possible) & set(values):
            return other, tuple(values)
        return None

    def _check(self) -> None:
        """Cross-key checks: a key sampled only when another has some value must be able to be."""
        for key in self.dimensions:
            never = self._never_used(key)
            if never is not None:
                other, values = never
                wanted = " or ".join(map(str, values))
                raise ConfigError(
                    f"{self.section}.{key}: used only when {other} is {wanted}, and this section's "
                    f"{other} is never {wanted}: set {other}, or drop {key}"
                )

    def __contains__(self, key: object) -> bool:
        return key in self.dimensions

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and type(other) is type(self) and other.dimensions == self.dimensions

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"


class ArchitectureSpace(Space):
    """The ``space:`` section: what architectures a study may sample."""

    section = "space"
    model = ArchitectureConfig
    named = NAMED_SPACES
    _keys: ClassVar[dict[str, Key]] = {**STRUCTURE_KEYS, **config_keys(ArchitectureConfig)}

    def _check(self) -> None:
        super()._check()
        if "block_type" in self:
            names = list(self.possible("block_type") or ())
        else:  # the presets' own block types (or the default)
            presets = self.possible("preset") or ()
            names = [get_preset(name).block_type for name in presets] or [
                ArchitectureConfig.model_fields["block_type"].default
            ]
        families = [get_block(name) for name in names]
        levels = self.possible("ror_levels") or ()
        without = [family.name for family in families if not family.has_shortcut]
        if without and 3 in levels:
            raise ConfigError(
                f"space.ror_levels: 3 keeps the block shortcuts as the third level and block_type "
                f"{without[0]!r} has none; drop 3 from ror_levels or {without[0]!r} from block_type"
            )


class TrainSpace(Space):
    """The ``train:`` section: how each trial trains."""

    section = "train"
    model = TrainConfig
    named = NAMED_TRAIN
    _keys: ClassVar[dict[str, Key]] = config_keys(TrainConfig)


def _parse_dimension(where: str, key: Key, spec: Any) -> Dimension:
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
        return _parse_range(where, key, spec, checked)
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


def _parse_range(where: str, key: Key, spec: Mapping[str, Any], checked: Callable[..., Any]) -> Range:
    allowed = {"low", "high", "log", "step"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key in a range; a range takes low, high, log, step")
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
