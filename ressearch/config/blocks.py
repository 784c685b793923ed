"""The open registry of block families: what a block stacks and the rules it carries.

A :class:`BlockFamily` is data: the weight layers one block stacks (its ``plan``), whether a
shortcut spans them, whether its activation order is fixed, which block-specific config fields
it reads and which input ranks it supports. Config validation and the search space ask the
registry, so adding a family is one new module that calls :func:`register_block`; a family that
is not a stack of weight layers passes its own ``build`` (Keras code, imported by that module
only). The registry lives here, below the Keras layers, because validating a config must not
import Keras.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ressearch.errors import ConfigError

if TYPE_CHECKING:
    from ressearch.config.architecture import ArchitectureConfig

__all__ = [
    "BLOCKS",
    "BlockFamily",
    "LayerPlan",
    "block_names",
    "bottleneck_plan",
    "get_block",
    "register_block",
    "uniform_plan",
    "unregister_block",
]

LayerPlan = list[tuple[int, int]]  # (width, kernel size) of each weight layer


def uniform_plan(config: ArchitectureConfig, width: int) -> LayerPlan:
    """``skip_length`` weight layers of ``width`` and the config's kernel size."""
    return [(width, config.kernel_size)] * config.skip_length


def bottleneck_plan(config: ArchitectureConfig, width: int) -> LayerPlan:
    """1x1 reduce, ``skip_length - 2`` kxk layers, 1x1 expand; one kxk layer when skip_length is 1."""
    if config.skip_length == 1:
        # One weight layer has nothing to squeeze: it is the block's single kxk layer.
        return [(width, config.kernel_size)]
    inner = max(1, round(width / config.expansion))
    middle = [(inner, config.kernel_size)] * (config.skip_length - 2)
    return [(inner, 1), *middle, (width, 1)]


@dataclass(frozen=True)
class BlockFamily:
    """A block type and its rules.

    Attributes:
        name: the ``block_type`` value that selects it.
        description: one line for listings.
        has_shortcut: False for plain blocks: no RoR level 3, no stochastic depth.
        preactivation: True or False where the family fixes the order (preact, basic); None
            where the config's ``preactivation`` field chooses (default post-activation).
        uses: block-specific config fields it reads (e.g. ``expansion``); the space samples
            those only for this family.
        ranks: input ranks it builds for: 1 dense, 2 Conv1D, 3 Conv2D.
        plan: the weight layers of one block, from the config and the block's width.
        build: optional ``build(kit, x, *, width, strides, drop_path, name) -> tensor`` that
            replaces the generic stack of ``plan``'s layers (``ressearch.arch.blocks``).
    """

    name: str
    description: str
    has_shortcut: bool = True
    preactivation: bool | None = None
    uses: frozenset[str] = field(default_factory=frozenset)
    ranks: tuple[int, ...] = (1, 2, 3)
    plan: Callable[[ArchitectureConfig, int], LayerPlan] = uniform_plan
    build: Callable[..., Any] | None = None


_REGISTRY: dict[str, BlockFamily] = {}
BLOCKS: Mapping[str, BlockFamily] = MappingProxyType(_REGISTRY)


def register_block(family: BlockFamily, *, replace: bool = False) -> BlockFamily:
    """Add ``family`` to the registry; an existing name needs ``replace=True``."""
    if not family.name.isidentifier():
        raise ConfigError(f"block family name must be an identifier, got {family.name!r}")
    if family.name in _REGISTRY and not replace:
        raise ConfigError(f"block type {family.name!r} is already registered; pass replace=True")
    if not family.ranks or not set(family.ranks) <= {1, 2, 3}:
        raise ConfigError(f"block type {family.name!r}: ranks must be some of 1, 2, 3, got {family.ranks}")
    _REGISTRY[family.name] = family
    return family


def unregister_block(name: str) -> None:
    """Remove a family (tests register toy families and take them out again)."""
    _REGISTRY.pop(name, None)


def block_names() -> list[str]:
    """Registered block types, in registration order."""
    return list(_REGISTRY)


def get_block(name: str) -> BlockFamily:
    """The block family called ``name``; an unknown name lists the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown block type {name!r}: known are {', '.join(sorted(_REGISTRY))}") from None


for _family in (
    BlockFamily("basic", "He et al. 2015: weight-BN-ReLU, add, ReLU", preactivation=False),
    BlockFamily("preact", "He et al. 2016: BN-ReLU-weight, add", preactivation=True),
    BlockFamily(
        "bottleneck",
        "1x1 reduce, kxk, 1x1 expand (dense: the tabular ResNet's wide hidden layer)",
        uses=frozenset({"expansion", "preactivation"}),
        plan=bottleneck_plan,
    ),
    BlockFamily(
        "plain", "the basic block with no shortcut", has_shortcut=False, uses=frozenset({"preactivation"})
    ),
):
    register_block(_family)
