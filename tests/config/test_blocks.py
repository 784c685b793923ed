"""The block registry: lookups, registration rules, and the rules the built-in families carry."""

from __future__ import annotations

import pytest

from ressearch import ArchitectureConfig, ConfigError
from ressearch.config.blocks import (
    BLOCKS,
    BlockFamily,
    block_names,
    bottleneck_plan,
    get_block,
    register_block,
    uniform_plan,
    unregister_block,
)
from tests.helpers import one_line

BUILT_INS = ["basic", "preact", "bottleneck", "plain"]


def config(**fields) -> ArchitectureConfig:
    return ArchitectureConfig.from_dict({"input_shape": (12,), "outputs": 3, **fields})


def test_unknown_block_type_lists_the_known_ones():
    with pytest.raises(ConfigError) as raised:
        get_block("resnext")
    assert (
        one_line(raised.value) == "unknown block type 'resnext': known are basic, bottleneck, plain, preact"
    )
    with pytest.raises(ConfigError) as raised:
        config(block_type="resnext")
    assert one_line(raised.value) == (
        "architecture.block_type: Input should be 'basic', 'preact', 'bottleneck' or 'plain', got 'resnext'"
    )


def test_registering_a_taken_name_needs_replace():
    with pytest.raises(ConfigError) as raised:
        register_block(BlockFamily("basic", "another basic block"))
    assert one_line(raised.value) == "block type 'basic' is already registered; pass replace=True"
    assert get_block("basic").description.startswith("He et al. 2015")
    first = register_block(BlockFamily("twin", "first"))
    try:
        with pytest.raises(ConfigError, match="block type 'twin' is already registered"):
            register_block(BlockFamily("twin", "second"))
        assert get_block("twin") is first
        second = register_block(BlockFamily("twin", "second", has_shortcut=False), replace=True)
        assert get_block("twin") is second
        assert block_names() == [*BUILT_INS, "twin"]
    finally:
        unregister_block("twin")
    assert block_names() == BUILT_INS


@pytest.mark.parametrize(
    ("family", "message"),
    [
        (BlockFamily("toy", "no ranks", ranks=()), "block type 'toy': ranks must be some of 1, 2, 3, got ()"),
        (
            BlockFamily("toy", "rank 4", ranks=(3, 4)),
            "block type 'toy': ranks must be some of 1, 2, 3, got (3, 4)",
        ),
        (BlockFamily("toy", "rank 0", ranks=(0,)), "ranks must be some of 1, 2, 3, got (0,)"),
        (BlockFamily("my-block", "not a name"), "block family name must be an identifier, got 'my-block'"),
    ],
)
def test_bad_families_are_refused_and_not_registered(family, message):
    with pytest.raises(ConfigError) as raised:
        register_block(family)
    assert message in one_line(raised.value)
    assert family.name not in BLOCKS
    assert block_names() == BUILT_INS


def test_blocks_is_a_read_only_live_view():
    with pytest.raises(TypeError):
        BLOCKS["toy"] = BlockFamily("toy", "sneaked in")  # type: ignore[index]
    with pytest.raises(TypeError):
        del BLOCKS["basic"]  # type: ignore[attr-defined]
    assert list(BLOCKS) == BUILT_INS
    register_block(BlockFamily("toy", "registered properly"))
    try:
        assert BLOCKS["toy"].description == "registered properly"
    finally:
        unregister_block("toy")
    assert "toy" not in BLOCKS
    unregister_block("toy")  # removing an absent family is harmless


@pytest.mark.parametrize(
    ("block_type", "fixed", "other"),
    [("basic", False, "preact"), ("preact", True, "basic")],
)
def test_basic_and_preact_fix_the_activation_order(block_type, fixed, other):
    family = get_block(block_type)
    assert family.preactivation is fixed and family.has_shortcut
    assert config(block_type=block_type).uses_preactivation is fixed
    assert config(block_type=block_type, preactivation=fixed).uses_preactivation is fixed
    with pytest.raises(ConfigError) as raised:
        config(block_type=block_type, preactivation=not fixed)
    order = "pre" if fixed else "post"
    assert one_line(raised.value) == (
        f"architecture: block_type {block_type!r} is {order}-activation: use block_type {other!r}"
    )


def test_bottleneck_uses_expansion_and_either_order():
    family = get_block("bottleneck")
    assert family.uses == {"expansion", "preactivation"} and family.plan is bottleneck_plan
    assert family.preactivation is None and family.has_shortcut
    assert config(block_type="bottleneck").uses_preactivation is False
    assert config(block_type="bottleneck", preactivation=True).uses_preactivation is True
    # 1x1 reduce by the expansion, kxk layers, 1x1 expand back to the block's width.
    assert family.plan(config(block_type="bottleneck", skip_length=3), 64) == [(16, 1), (16, 3), (64, 1)]
    assert family.plan(config(block_type="bottleneck", expansion=0.5), 8) == [(16, 1), (8, 1)]
    assert family.plan(config(block_type="bottleneck", skip_length=1, kernel_size=5), 8) == [(8, 5)]
    for other in ("basic", "preact", "plain"):
        assert "expansion" not in get_block(other).uses
        assert get_block(other).plan is uniform_plan


def test_plain_has_no_shortcut():
    family = get_block("plain")
    assert not family.has_shortcut and family.preactivation is None
    assert not config(block_type="plain").has_shortcuts
    assert all(get_block(name).has_shortcut for name in ("basic", "preact", "bottleneck"))
    for changes, message in (
        (
            {"ror_levels": 3},
            "ror_levels 3 keeps the block shortcuts as its third level and block_type 'plain'",
        ),
        (
            {"stochastic_depth": 0.1},
            "stochastic_depth drops residual branches and block_type 'plain' has none",
        ),
    ):
        with pytest.raises(ConfigError) as raised:
            config(block_type="plain", **changes)
        assert message in one_line(raised.value)
    assert config(block_type="plain", ror_levels=2).ror_levels == 2


def test_every_built_in_builds_for_every_rank():
    for name in BUILT_INS:
        assert get_block(name).ranks == (1, 2, 3)
        for shape in ((12,), (16, 3), (8, 8, 1)):
            assert config(block_type=name, input_shape=shape).rank == len(shape)
