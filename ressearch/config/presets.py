"""Named architectures from the papers and the seed tutorials, as configs (no special code).

Parametric names follow the papers: ``resnet{6n+2}`` (He et al. 2015, CIFAR, option A),
``preact-resnet{9n+2}`` (He et al. 2016, bottleneck), ``wrn-D-K`` (Zagoruyko & Komodakis 2016),
``ror-3-wrn-D-K`` (Zhang et al., RoR). Every preset defaults to 32x32x3 input and 10 outputs;
``get_preset(name, input_shape=..., outputs=...)`` adapts it to other data. Presets are
configs by name, no Keras and no file IO; they live in the config layer because a study file's
``space.preset`` is validated against them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ressearch.config.architecture import ArchitectureConfig
from ressearch.errors import ConfigError

__all__ = ["PRESETS", "Preset", "get_preset", "list_presets"]

CIFAR_SHAPE = (32, 32, 3)


@dataclass(frozen=True)
class Preset:
    """A family of named configs: a pattern, an example name and a function from the match."""

    pattern: str
    example: str
    description: str
    make: Callable[[re.Match[str]], dict[str, Any]]


def _blocks_per_stage(name: str, layers: int, per_block: int, extra: int, examples: str) -> int:
    """n in ``layers = per_block * n + extra`` (three stages of n blocks), or a ConfigError."""
    n, rest = divmod(layers - extra, per_block)
    if rest or n < 1:
        raise ConfigError(
            f"preset {name}: the depth must be {per_block}n+{extra} with n >= 1 ({examples}, ...)"
        )
    return n


def _resnet(match: re.Match[str]) -> dict[str, Any]:
    n = _blocks_per_stage(match.group(0), int(match["layers"]), 6, 2, "20, 32, 44, 56, 110")
    return {
        "depths": (n, n, n),
        "widths": (16, 32, 64),
        "block_type": "basic",
        "shortcut": "identity",
    }


def _preact_resnet(match: re.Match[str]) -> dict[str, Any]:
    n = _blocks_per_stage(match.group(0), int(match["layers"]), 9, 2, "164, 1001")
    return {
        "depths": (n, n, n),
        "widths": (64, 128, 256),
        "stem_width": 16,
        "block_type": "bottleneck",
        "preactivation": True,
        "skip_length": 3,
        "expansion": 4.0,
        "shortcut": "projection",
    }


def _wrn(depth: int, k: int, name: str) -> dict[str, Any]:
    if k < 1:
        raise ConfigError(f"preset {name}: the widening factor K must be >= 1")
    n = _blocks_per_stage(name, depth, 6, 4, "16, 28, 40")
    return {
        "depths": (n, n, n),
        "widths": (16 * k, 32 * k, 64 * k),
        "stem_width": 16,
        "block_type": "preact",
        "shortcut": "projection",
    }


def _wide(match: re.Match[str]) -> dict[str, Any]:
    return _wrn(int(match["depth"]), int(match["k"]), match.group(0))


def _ror_wide(match: re.Match[str]) -> dict[str, Any]:
    return {**_wrn(int(match["depth"]), int(match["k"]), match.group(0)), "ror_levels": 3}


def _tabular(match: re.Match[str]) -> dict[str, Any]:
    # Gorishniy et al. 2021: d=256, hidden factor 2, 4 blocks, BN, dropout; AdamW in training.
    return {
        "input_shape": (32,),
        "outputs": 2,
        "depths": (4,),
        "widths": (256,),
        "block_type": "bottleneck",
        "preactivation": True,
        "skip_length": 2,
        "expansion": 0.5,
        "dropout": 0.2,
        "shortcut": "projection",
    }


def _seed(match: re.Match[str]) -> dict[str, Any]:
    # The Keras functional-API tutorial in the seeds: stem conv of 64, then 2-5-5-2 blocks of
    # 64/128/256/512 filters, 1x1 projections when downsampling; its plain twin has no shortcuts.
    return {
        "depths": (2, 5, 5, 2),
        "widths": (64, 128, 256, 512),
        "block_type": "plain" if match["kind"] == "plain" else "basic",
        "shortcut": "projection",
    }


PRESETS: tuple[Preset, ...] = (
    Preset(r"resnet(?P<layers>\d+)", "resnet56", "He et al. 2015 CIFAR ResNet, option A shortcuts", _resnet),
    Preset(
        r"preact-resnet(?P<layers>\d+)",
        "preact-resnet164",
        "He et al. 2016 pre-activation bottleneck ResNet",
        _preact_resnet,
    ),
    Preset(r"wrn-(?P<depth>\d+)-(?P<k>\d+)", "wrn-28-10", "Zagoruyko & Komodakis wide ResNet", _wide),
    Preset(
        r"ror-3-wrn-(?P<depth>\d+)-(?P<k>\d+)",
        "ror-3-wrn-40-2",
        "Zhang et al. RoR-3 on a wide ResNet",
        _ror_wide,
    ),
    Preset(r"tabular-resnet", "tabular-resnet", "Gorishniy et al. 2021 ResNet for tabular rows", _tabular),
    Preset(r"seed-(?P<kind>resnet)", "seed-resnet", "the seeds' Keras tutorial ResNet (2-5-5-2)", _seed),
    Preset(r"seed-(?P<kind>plain)", "seed-plain", "its plain twin: the same net with no shortcuts", _seed),
)


def list_presets() -> list[Preset]:
    """Every preset family, in the order they are documented."""
    return list(PRESETS)


def get_preset(
    name: str,
    *,
    input_shape: tuple[int, ...] | None = None,
    outputs: int | None = None,
    **overrides: Any,
) -> ArchitectureConfig:
    """The config called ``name``, adapted to ``input_shape``/``outputs`` and ``overrides``.

    Example:
        >>> get_preset("wrn-28-10").widths
        (160, 320, 640)
    """
    for preset in PRESETS:
        match = re.fullmatch(preset.pattern, name)
        if match:
            fields: dict[str, Any] = {"input_shape": CIFAR_SHAPE, "outputs": 10}
            fields.update(preset.make(match))
            fields["name"] = name
            if input_shape is not None:
                fields["input_shape"] = tuple(input_shape)
            if outputs is not None:
                fields["outputs"] = outputs
            fields.update(overrides)
            return ArchitectureConfig.from_dict(fields)
    examples = ", ".join(preset.example for preset in PRESETS)
    raise ConfigError(f"unknown preset {name!r}: known are {examples} (numbers may vary as in the papers)")
