"""Sampling: with the KerasTuner adapter (:mod:`ressearch.search.hypermodel`), the only code that
calls ``trial.suggest_*``.

:func:`sample` turns a trial into an :class:`ArchitectureConfig`, :func:`sample_train` into a
:class:`TrainConfig`. Which keys are sampled follows the config fields' ``Search`` markers and the
block registry: conv-only keys are not sampled for dense inputs, block-specific keys only for
the families that use them (``expansion`` for bottleneck), ``stochastic_depth`` only for
families with a shortcut, ``momentum`` only for the optimizers that use it. So parameter names
stay stable and a stored trial's ``params`` reproduce its config with a ``FixedTrial``.

Example:
    >>> import optuna
    >>> from ressearch.config import ArchitectureSpace
    >>> space = ArchitectureSpace.from_dict(
    ...     {"block_type": ["basic", "plain"], "depth": {"low": 1, "high": 3}})
    >>> config = sample(optuna.trial.FixedTrial({"block_type": "plain", "depth": 2}), space,
    ...                 input_shape=(16,), outputs=3)
    >>> config.block_type, config.depths
    ('plain', (2, 2, 2))
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from ressearch.config.architecture import ArchitectureConfig
from ressearch.config.base import Search
from ressearch.config.blocks import BlockFamily, get_block
from ressearch.config.presets import get_preset
from ressearch.config.space import STRUCTURE_KEYS, ArchitectureSpace, Choice, Fixed, Space, TrainSpace
from ressearch.config.training import TrainConfig

__all__ = ["Suggester", "applies", "sample", "sample_train", "stage_widths", "suggest"]


class Suggester(Protocol):
    """The part of ``optuna.Trial`` (and ``FixedTrial``, and KerasTuner's ``hp`` behind an adapter)
    that sampling uses."""

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...
    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...
    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...


def suggest(trial: Suggester, space: Space, key: str) -> Any:
    """The value of ``key`` for ``trial``: fixed values are not suggested, so not in params."""
    dimension = space.dimensions[key]
    if isinstance(dimension, Fixed):
        return dimension.value
    if isinstance(dimension, Choice):
        return trial.suggest_categorical(key, list(dimension.options))
    if space.key(key).kind == "int":
        step = int(dimension.step) if dimension.step is not None else 1
        return trial.suggest_int(key, int(dimension.low), int(dimension.high), step=step, log=dimension.log)
    return trial.suggest_float(key, dimension.low, dimension.high, step=dimension.step, log=dimension.log)


def applies(marker: Search, fields: dict[str, Any], *, rank: int, family: BlockFamily, key: str) -> bool:
    """Whether a key with ``marker`` shapes this network (or this training), given what is decided;
    a field it does not shape means nothing to the network."""
    if marker.ranks is not None and rank not in marker.ranks:
        return False
    if marker.block_specific and key not in family.uses:
        return False
    if marker.needs_shortcut and not family.has_shortcut:
        return False
    if marker.when is not None:
        other, values = marker.when
        return fields.get(other) in values
    return True


def sample(
    trial: Suggester,
    space: ArchitectureSpace,
    *,
    input_shape: tuple[int, ...],
    outputs: int,
    head: Literal["classification", "regression"] = "classification",
    output_scale: tuple[float, float] | None = None,
    continuous_features: tuple[int, ...] | None = None,
    categorical_columns: tuple[tuple[int, int], ...] = (),
) -> ArchitectureConfig:
    """Sample one architecture for data of ``input_shape`` with ``outputs`` outputs.

    ``output_scale`` is a regression target's training mean and standard deviation: the network
    learns the standardised target and its last layer maps predictions back to units.
    ``continuous_features`` are the positions of the continuous columns of tabular rows (None:
    all), the only ones a numeric embedding embeds; ``categorical_columns`` the text columns
    that enter as an index into an embedding (position and table size).
    Keys absent from the space keep the preset's value (``preset:``) or the config default.
    An impossible combination raises :class:`ConfigError`, which fails that trial alone.
    """
    rank = len(input_shape)
    preset = suggest(trial, space, "preset") if "preset" in space else None
    if preset is not None:
        base = get_preset(preset, input_shape=tuple(input_shape), outputs=outputs, head=head)
    else:
        base = ArchitectureConfig(input_shape=tuple(input_shape), outputs=outputs, head=head)
    fields = base.to_dict()
    if output_scale is not None:
        fields["output_mean"], fields["output_std"] = output_scale
    if continuous_features is not None:
        fields["continuous_features"] = list(continuous_features)
    if categorical_columns:
        fields["categorical_columns"] = [list(column) for column in categorical_columns]
    block_type = suggest(trial, space, "block_type") if "block_type" in space else base.block_type
    fields["block_type"] = block_type
    family = get_block(block_type)
    if block_type != base.block_type and base.preactivation is not None:
        fields["preactivation"] = None  # the preset's choice belonged to its own block type
    _sample_structure(trial, space, base, fields)
    # A key sampled only when another has some value comes after the others, whatever the order
    # of the study file, so that the value it depends on is decided (sorted is stable).
    for key in sorted(space.dimensions, key=lambda name: space.key(name).search.when is not None):
        if key in STRUCTURE_KEYS or key == "block_type":
            continue
        if applies(space.key(key).search, fields, rank=rank, family=family, key=key):
            fields[key] = suggest(trial, space, key)
    renamed = any(key in space for key in ("stages", "depth", "width", "width_growth", "block_type"))
    fields["name"] = base.name if preset is not None and not renamed else "resnet"
    return ArchitectureConfig.from_dict(fields)


def _sample_structure(
    trial: Suggester, space: ArchitectureSpace, base: ArchitectureConfig, fields: dict[str, Any]
) -> None:
    """``depths``/``widths`` from stages, depth, width, width_growth; ``head_units`` from the head keys."""
    if any(key in space for key in ("stages", "depth", "width", "width_growth")):
        growth_default = base.widths[1] / base.widths[0] if base.stages > 1 else 2.0
        stages = suggest(trial, space, "stages") if "stages" in space else base.stages
        depth = suggest(trial, space, "depth") if "depth" in space else base.depths[0]
        width = suggest(trial, space, "width") if "width" in space else base.widths[0]
        growth = suggest(trial, space, "width_growth") if "width_growth" in space else growth_default
        fields["depths"] = [depth] * stages
        fields["widths"] = stage_widths(width, growth, stages)
    if "head_layers" in space or "head_width" in space:
        layers = suggest(trial, space, "head_layers") if "head_layers" in space else 1
        width = suggest(trial, space, "head_width") if "head_width" in space and layers else 0
        fields["head_units"] = [width] * layers if layers else []


def stage_widths(width: int, growth: float, stages: int) -> list[int]:
    """The width of each stage: ``width * growth**stage``, rounded, at least 1.

    Example:
        >>> stage_widths(8, 1.5, 3)
        [8, 12, 18]
    """
    return [max(1, round(width * growth**stage)) for stage in range(stages)]


def sample_train(trial: Suggester, space: TrainSpace) -> TrainConfig:
    """Sample the training settings, in field order so that conditions see what they depend on."""
    fields: dict[str, Any] = TrainConfig().to_dict()
    chosen: dict[str, Any] = {}
    for key in TrainConfig.model_fields:
        if key not in space:
            continue
        marker = space.key(key).search
        if marker.when is not None and fields.get(marker.when[0]) not in marker.when[1]:
            continue
        fields[key] = chosen[key] = suggest(trial, space, key)
    return TrainConfig.from_dict(chosen)
