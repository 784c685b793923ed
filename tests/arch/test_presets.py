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


def _inputs(layer_config: dict) -> list[str]:
    """The names of the layers whose outputs a layer of ``model.get_config()`` reads, in order."""
    found: list[str] = []

    def walk(value) -> None:
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                found.append(value["config"]["keras_history"][0])
            else:
                for item in value.values():
                    walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(layer_config["inbound_nodes"])
    return found


def _graph(model) -> dict[str, tuple[str, list[str]]]:
    """Layer name -> (class name, names of its input layers), in graph order."""
    return {layer["name"]: (layer["class_name"], _inputs(layer)) for layer in model.get_config()["layers"]}


def test_seed_resnet_and_plain_twin_differ_only_in_shortcuts():
    resnet, plain = get_preset("seed-resnet"), get_preset("seed-plain")
    assert resnet.depths == plain.depths == (2, 5, 5, 2)
    assert resnet.widths == plain.widths == (64, 128, 256, 512)
    assert (resnet.block_type, plain.block_type) == ("basic", "plain")
    assert resnet.replace(block_type="plain", name="seed-plain") == plain

    small = {"input_shape": (16, 16, 1), "outputs": 3}
    resnet_model = build_model(get_preset("seed-resnet", **small))
    plain_model = build_model(get_preset("seed-plain", **small))
    with_shortcuts, without = _graph(resnet_model), _graph(plain_model)
    blocks = [
        f"stage{stage}_block{block}"
        for stage, depth in enumerate(resnet.depths, 1)
        for block in range(1, depth + 1)
    ]
    # The shortcut machinery: an Add per block, and a projection (1x1 conv + BN) wherever the
    # width changes, at the first block of stages 2-4.
    extra = {f"{block}_add": "Add" for block in blocks}
    for stage in (2, 3, 4):
        extra |= {
            f"stage{stage}_block1_shortcut_proj": "Conv2D",
            f"stage{stage}_block1_shortcut_bn": "BatchNormalization",
        }
    assert {name: kind for name, (kind, _) in with_shortcuts.items() if name not in without} == extra
    assert set(without) <= set(with_shortcuts)
    # Everything else is the same layer, in the same order, with the same settings.
    assert [name for name in with_shortcuts if name not in extra] == list(without)
    for name in without:
        assert resnet_model.get_layer(name).get_config() == plain_model.get_layer(name).get_config(), name
    # And wired the same, but for where each block ends: the plain block's output activation
    # reads its last BN; the residual one reads the sum of the block's input (projected where
    # the width changes) and that BN.
    for name, (kind, inputs) in without.items():
        if name.removesuffix("_out") not in blocks:
            assert with_shortcuts[name] == (kind, inputs), name
    for index, block in enumerate(blocks):
        block_input = f"{blocks[index - 1]}_out" if index else "stem_act"
        assert without[f"{block}_out"][1] == [f"{block}_bn2"]
        assert with_shortcuts[f"{block}_out"][1] == [f"{block}_add"]
        shortcut = block_input
        if f"{block}_shortcut_proj" in extra:
            assert with_shortcuts[f"{block}_shortcut_proj"][1] == [block_input]
            assert with_shortcuts[f"{block}_shortcut_bn"][1] == [f"{block}_shortcut_proj"]
            shortcut = f"{block}_shortcut_bn"
        assert with_shortcuts[f"{block}_add"][1] == [shortcut, f"{block}_bn2"]
    projections = sum(resnet_model.get_layer(name).count_params() for name in extra)
    assert resnet_model.count_params() - plain_model.count_params() == projections > 0


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
