from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from ressearch import ArchitectureConfig, ConfigError, build_model
from ressearch.config.blocks import BLOCKS, get_block

SHAPES = {"dense": (12,), "conv1d": (16, 3), "conv2d": (8, 8, 2)}


def tiny(input_shape, **fields) -> ArchitectureConfig:
    base = {"input_shape": input_shape, "outputs": 3, "depths": (1, 2), "widths": (4, 8)}
    return ArchitectureConfig.from_dict({**base, **fields})


def forward(model, *, training: bool) -> np.ndarray:
    shape = model.input_shape[1:]
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    return keras.ops.convert_to_numpy(model(x, training=training))


@pytest.mark.parametrize(
    ("block_type", "rank_name", "ror_levels"),
    list(itertools.product(sorted(BLOCKS), sorted(SHAPES), [0, 1, 2, 3])),
)
def test_forward_pass_every_block_type_rank_and_ror_level(block_type, rank_name, ror_levels):
    shape = SHAPES[rank_name]
    regularisers = {"dropout": 0.1}
    if block_type != "plain":
        regularisers["stochastic_depth"] = 0.2
    if len(shape) > 1:
        regularisers["dropblock_rate"] = 0.1
    if block_type == "plain" and ror_levels == 3:
        with pytest.raises(ConfigError, match="block_type 'plain' has none"):
            tiny(shape, block_type=block_type, ror_levels=ror_levels)
        return
    config = tiny(shape, block_type=block_type, ror_levels=ror_levels, **regularisers)
    model = build_model(config)
    for training in (False, True):
        y = forward(model, training=training)
        assert y.shape == (2, 3)
        assert np.isfinite(y).all()
        np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)  # softmax head
    adds = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert ("root_ror_add" in adds) == (ror_levels >= 1)
    assert ("stage2_ror_add" in adds) == (ror_levels >= 2)
    block_adds = [name for name in adds if name.startswith("stage") and "ror" not in name]
    assert len(block_adds) == (0 if block_type == "plain" else 3)


@pytest.mark.parametrize("rank_name", sorted(SHAPES))
@pytest.mark.parametrize(
    "fields",
    [
        {"skip_length": 1},
        {"skip_length": 3, "shortcut": "identity"},
        {"block_type": "bottleneck", "skip_length": 2, "expansion": 0.5},
        {"block_type": "bottleneck", "skip_length": 4, "shortcut": "identity"},
        {"downsample": "maxpool", "ror_levels": 2, "shortcut": "identity"},
        {"normalization": "layer", "activation": "gelu", "head_units": (6,), "head_dropout": 0.2},
        {"normalization": "none", "stem_strides": 2, "stem_pool": True, "stem_width": 5},
        {"widths": (8, 4), "shortcut": "identity"},  # option A cannot narrow: a projection
    ],
)
def test_variants_build_and_run(rank_name, fields):
    model = build_model(tiny(SHAPES[rank_name], **fields))
    y = forward(model, training=True)
    assert y.shape == (2, 3) and np.isfinite(y).all()


def test_skip_length_sets_weight_layers_per_block():
    for n in (1, 2, 3):
        model = build_model(tiny((12,), skip_length=n, depths=(2,), widths=(4,)))
        block = [layer for layer in model.layers if layer.name.startswith("stage1_block1_dense")]
        assert len(block) == n


def test_same_config_gives_same_graph_and_count():
    config = tiny((8, 8, 2), block_type="preact", ror_levels=3, dropblock_rate=0.1, stochastic_depth=0.1)
    first, second = build_model(config), build_model(config)
    assert [layer.name for layer in first.layers] == [layer.name for layer in second.layers]
    assert len({layer.name for layer in first.layers}) == len(first.layers)
    assert first.count_params() == second.count_params()
    rebuilt = build_model(ArchitectureConfig.from_json(config.to_json()))
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in first.layers]
    assert rebuilt.count_params() == first.count_params()


def test_heads_binary_and_regression():
    keras.utils.set_random_seed(0)  # unseeded weights once gave a logit past float32's sigmoid: 1.0
    binary = build_model(tiny((12,), outputs=1))
    assert binary.layers[-1].get_config()["activation"] == "sigmoid"
    y = forward(binary, training=False)
    assert y.shape == (2, 1) and ((y >= 0) & (y <= 1)).all()
    regression = build_model(tiny((12,), outputs=2, head="regression"))
    assert regression.layers[-1].get_config()["activation"] == "linear"


def test_saved_model_with_custom_layers_loads_and_predicts_the_same(tmp_path):
    config = tiny((8, 8, 2), shortcut="identity", dropblock_rate=0.1, stochastic_depth=0.1)
    model = build_model(config)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(forward(loaded, training=False), forward(model, training=False), rtol=1e-6)


def test_unknown_block_lists_known_ones():
    with pytest.raises(
        ConfigError, match="unknown block type 'dense': known are basic, bottleneck, plain, preact"
    ):
        get_block("dense")
