"""The base of every config: frozen pydantic models, one-line errors, and search markers.

:class:`Search` is field metadata that says how the search space treats a config field: sampled
as it is (no marker), sampled only for some inputs or block families, or not sampled at all
because something else decides it (the data, other space keys). The space reads these markers,
so a new config field is sampleable by construction. Pydantic only: no Keras, no Optuna.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ressearch.errors import ConfigError

__all__ = [
    "SCHEMA_VERSION",
    "FrozenConfig",
    "PositiveInt",
    "Rate",
    "Search",
    "describe_validation_error",
    "field_kind",
    "search_marker",
]

SCHEMA_VERSION: Literal[1] = 1

PositiveInt = Annotated[int, Field(gt=0)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]

Kind = Literal["int", "float", "str", "bool"]


@dataclass(frozen=True)
class Search:
    """How the search space treats a config field (field metadata; no marker: always sampled).

    Attributes:
        sampled: False where the field is never a space key: ``reason`` says what decides it.
        ranks: input ranks the field applies to (conv-only fields: ``(2, 3)``); elsewhere the key
            is ignored, so stored params stay those that shaped the network.
        block_specific: sampled only for block families that list the field in ``uses``.
        needs_shortcut: sampled only for block families with a shortcut.
        when: ``(field, values)``: sampled only when that (earlier) field has one of ``values``.
        reason: why the field is not sampled, or a note for the reader.
    """

    sampled: bool = True
    ranks: tuple[int, ...] | None = None
    block_specific: bool = False
    needs_shortcut: bool = False
    when: tuple[str, tuple[Any, ...]] | None = None
    reason: str = ""


_ALWAYS = Search()


def search_marker(model: type[BaseModel], name: str) -> Search:
    """The :class:`Search` marker of field ``name`` of ``model`` (no marker: always sampled)."""
    for item in model.model_fields[name].metadata:
        if isinstance(item, Search):
            return item
    return _ALWAYS


def _scalar_types(annotation: Any) -> list[Any]:
    """The scalar types behind an annotation: unwraps Annotated, Optional and Literal."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _scalar_types(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        found = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                found.extend(_scalar_types(arg))
        return found
    if origin is Literal:
        return [type(value) for value in typing.get_args(annotation)]
    return [annotation]


def field_kind(model: type[BaseModel], name: str) -> Kind | None:
    """``int``, ``float``, ``str`` or ``bool`` for a scalar field; None for tuples and the like."""
    kinds = set(_scalar_types(model.model_fields[name].annotation))
    for kind, python in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if kinds == {python}:
            return kind  # type: ignore[return-value]
    return None


def describe_validation_error(error: ValidationError, *, prefix: str = "") -> str:
    """One line for the first problem pydantic found: where it is, what was given, what is allowed.

    A value that fits none of a union's types (``auto`` or a boolean, ``auto`` or a number) is
    one problem, named by its key and saying every form allowed, not only the first.
    """
    errors = error.errors(include_url=False)
    first = errors[0]
    loc = tuple(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    branches = [
        other
        for other in errors
        if len(other["loc"]) == len(loc) > 1
        and tuple(other["loc"][:-1]) == loc[:-1]
        and isinstance(other["loc"][-1], str)
        and other.get("input") == first.get("input")
    ]
    if len(branches) > 1 and isinstance(loc[-1], str):  # the last part names a union's member type
        loc = loc[:-1]
        message = "Input should be " + " or ".join(
            dict.fromkeys(branch["msg"].removeprefix("Input should be ") for branch in branches)
        )
    location = ".".join(str(part) for part in loc)
    where = ".".join(part for part in (prefix, location) if part) or prefix or "value"
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

    _label: ClassVar[str] = "config"

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
