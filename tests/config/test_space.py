"""Parsing the space: and train: sections: scalars, choices, ranges, and one-line errors."""

from __future__ import annotations

import pytest

from ressearch import ConfigError
from ressearch.config.space import ArchitectureSpace, Choice, Fixed, Range, TrainSpace
from tests.helpers import one_line
from tests.search.test_space import ISSUE_SPACE


def test_parse_scalars_lists_and_ranges():
    space = ArchitectureSpace.from_dict(ISSUE_SPACE)
    assert space.dimensions["block_type"] == Choice(("basic", "preact", "bottleneck", "plain"))
    assert space.dimensions["width"] == Range(16, 128, log=True)
    assert space.dimensions["dropout"] == Range(0.0, 0.5)
    assert ArchitectureSpace.from_dict({"shortcut": "identity"}).dimensions["shortcut"] == Fixed("identity")
    assert ArchitectureSpace.from_dict(space.to_dict()) == space


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"blok_type": ["basic"]}, "space.blok_type: unknown key (did you mean 'block_type'?)"),
        ({"width": {"low": 128, "high": 16}}, "space.width: `low <= high` must hold, got low=128, high=16"),
        ({"block_type": ["basic", "dense"]}, "space.block_type[1]: Input should be 'basic', 'preact'"),
        ({"block_type": {"low": 1, "high": 2}}, "space.block_type: a range needs a numeric key"),
        ({"width": {"low": 0, "high": 8, "log": True}}, "space.width.low: must be an integer from 1"),
        ({"dropout": {"low": 0.0, "high": 0.5, "log": True}}, "space.dropout.low: a log range needs low > 0"),
        ({"depth": {"low": 1.5, "high": 3}}, "space.depth.low: must be an integer for this key"),
        ({"depth": {"low": 1}}, "space.depth: a range needs both low and high"),
        ({"depth": {"low": 1, "high": 3, "stpe": 1}}, "space.depth.stpe: unknown key in a range"),
        ({"skip_length": []}, "space.skip_length: a list of choices cannot be empty"),
        ({"dropout": 1.2}, "space.dropout: Input should be less than 1"),
        ({"preset": "resnet21"}, "space.preset: preset resnet21: the depth must be 6n+2"),
        ({"block_type": ["plain"], "ror_levels": [0, 3]}, "space.ror_levels: 3 keeps the block shortcuts"),
        ({"numeric_embedding": ["plr", "fourier"]}, "space.numeric_embedding[1]: Input should be 'none'"),
        ({"embedding_bins": [1, 8]}, "space.embedding_bins[0]: Input should be greater than or equal to 2"),
        ({"embedding_dim": {"low": 4, "high": 4096}}, "space.embedding_dim.high: Input should be less than"),
        ({"embedding_sigma": 0.0}, "space.embedding_sigma: Input should be greater than 0"),
        ({"ensemble_k": [1, 0]}, "space.ensemble_k[1]: Input should be greater than or equal to 1"),
        ({"ensemble_k": {"low": 1, "high": 32.5}}, "space.ensemble_k.high: must be an integer for this key"),
        (
            {"numeric_embedding": ["none", "periodic"], "embedding_bins": 16},
            "space.embedding_bins: used only when numeric_embedding is piecewise_linear, and this "
            "section's numeric_embedding is never piecewise_linear",
        ),
    ],
)
def test_bad_spaces_are_one_clear_line(section, message):
    with pytest.raises(ConfigError) as raised:
        ArchitectureSpace.from_dict(section)
    assert message in one_line(raised.value)


def test_train_space_rejects_architecture_keys():
    with pytest.raises(ConfigError, match="train.width: unknown key"):
        TrainSpace.from_dict({"width": 3})
