from __future__ import annotations

import re

import pytest

from ressearch import ConfigError, build_model, get_preset
from ressearch.config.presets import PRESETS

# Published parameter counts for 32x32x3 input and 10 outputs.
PAPERS = {
    "resnet20": 0.27e6,  # He et al. 2015
    "resnet56": 0.85e6,
    "resnet110": 1.7e6,
    "preact-resnet164": 1.7e6,  # He et al. 2016
    "wrn-40-4": 8.9e6,  # Zagoruyko & Komodakis 2016
    "wrn-28-10": 36.5e6,
}


@pytest.mark.parametrize(("name", "published"), sorted(PAPERS.items()))
def test_parameter_counts_match_the_papers(name, published):
    params = build_model(get_preset(name)).count_params()
    assert abs(params - published) / published < 0.03, f"{name}: {params:,} vs {published:,.0f}"


def test_ror_adds_level_shortcuts_to_the_same_wide_resnet():
    plain_wrn = build_model(get_preset("wrn-16-2"))
    ror = build_model(get_preset("ror-3-wrn-16-2"))
    names = {layer.name for layer in ror.layers}
    assert {"root_ror_add", "stage1_ror_add", "stage2_ror_add", "stage3_ror_add"} <= names
    assert 0 < ror.count_params() - plain_wrn.count_params() < 0.02 * plain_wrn.count_params()


def test_seed_resnet_and_plain_twin_differ_only_in_shortcuts():
    resnet, plain = get_preset("seed-resnet"), get_preset("seed-plain")
    assert resnet.depths == plain.depths == (2, 5, 5, 2)
    assert resnet.widths == plain.widths == (64, 128, 256, 512)
    assert (resnet.block_type, plain.block_type) == ("basic", "plain")


@pytest.mark.parametrize("name", [preset.example for preset in PRESETS if preset.example != "wrn-28-10"])
def test_every_preset_builds_for_other_data(name):
    shape = (20,) if name == "tabular-resnet" else (16, 16, 1)
    model = build_model(get_preset(name, input_shape=shape, outputs=4))
    assert model.output_shape == (None, 4)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("resnet21", "6n+2"),
        ("preact-resnet100", "9n+2"),
        ("wrn-27-2", "6n+4"),
        ("vgg16", "unknown preset 'vgg16': known are resnet56, preact-resnet164"),
    ],
)
def test_bad_preset_names_say_what_is_allowed(name, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        get_preset(name)
