"""The custom layers: option-A channel padding, DropBlock and stochastic depth."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ressearch.arch.layers import (
    ChannelPad,
    DropBlock,
    FillMissing,
    QuantileScaling,
    SmoothClip,
    StochasticDepth,
)


def numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


def test_channel_pad_pads_both_sides_with_zeros():
    x = np.arange(2 * 4 * 3, dtype="float32").reshape(2, 4, 3) + 1.0
    y = numpy(ChannelPad(8)(x))
    assert y.shape == (2, 4, 8)
    # 5 missing channels: 2 before, 3 after, so the input sits in the middle.
    np.testing.assert_array_equal(y[..., 2:5], x)
    assert not y[..., :2].any() and not y[..., 5:].any()
    images = np.ones((1, 3, 3, 2), "float32")
    padded = numpy(ChannelPad(4)(images))
    np.testing.assert_array_equal(padded[0, 0, 0], [0.0, 1.0, 1.0, 0.0])


def test_channel_pad_never_narrows():
    x = np.random.default_rng(0).normal(size=(2, 5)).astype("float32")
    for channels in (3, 5):
        layer = ChannelPad(channels)
        np.testing.assert_array_equal(numpy(layer(x)), x)
        assert layer.compute_output_shape((None, 5)) == (None, 5)
    inputs = keras.Input(shape=(6, 4))
    assert keras.Model(inputs, ChannelPad(2)(inputs)).output_shape == (None, 6, 4)
    assert keras.Model(inputs, ChannelPad(7)(inputs)).output_shape == (None, 6, 7)


@pytest.mark.parametrize(
    "make",
    [lambda: DropBlock(0.3, 3, seed=0), lambda: StochasticDepth(0.3, seed=0)],
    ids=["dropblock", "stochastic_depth"],
)
def test_identity_at_inference(make):
    layer = make()
    x = np.random.default_rng(1).normal(size=(8, 6, 6, 2)).astype("float32")
    np.testing.assert_array_equal(numpy(layer(x, training=False)), x)
    np.testing.assert_array_equal(numpy(layer(x)), x)
    # In training the same layer does change its input: the identity above is not vacuous.
    assert not np.array_equal(numpy(layer(x, training=True)), x)


@pytest.mark.parametrize("rate", [0.1, 0.25])
def test_dropblock_drops_about_its_rate_in_blocks_and_keeps_the_mean(rate):
    x = np.ones((32, 16, 16, 4), "float32")
    y = numpy(DropBlock(rate, 3, seed=7)(x, training=True))
    dropped = y == 0.0
    assert abs(dropped.mean() - rate) < 0.05, dropped.mean()
    # Kept units are scaled so that the batch keeps its expected value.
    np.testing.assert_allclose(y.mean(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(y[~dropped], 1.0 / (1.0 - dropped.mean()), rtol=1e-5)
    # Contiguous blocks, not single units: every dropped unit has a dropped neighbour.
    padded = np.pad(dropped, ((0, 0), (1, 1), (1, 1), (0, 0)))
    neighbours = padded[:, :-2, 1:-1] | padded[:, 2:, 1:-1] | padded[:, 1:-1, :-2] | padded[:, 1:-1, 2:]
    assert (neighbours[dropped]).all()


def test_dropblock_on_sequences():
    x = np.ones((64, 40, 3), "float32")
    y = numpy(DropBlock(0.2, 5, seed=3)(x, training=True))
    assert abs((y == 0.0).mean() - 0.2) < 0.05
    np.testing.assert_allclose(y.mean(), 1.0, rtol=1e-5)


def test_stochastic_depth_drops_whole_samples_at_its_rate_and_keeps_the_mean():
    rate = 0.3
    x = np.ones((4000, 3, 2), "float32")
    y = numpy(StochasticDepth(rate, seed=11)(x, training=True))
    per_sample = y.reshape(len(y), -1)
    # A sample is dropped whole or kept whole, and kept ones are scaled by 1 / (1 - rate).
    dropped = (per_sample == 0.0).all(axis=1)
    kept = np.isclose(per_sample, 1.0 / (1.0 - rate)).all(axis=1)
    assert (dropped | kept).all()
    assert abs(dropped.mean() - rate) < 0.04, dropped.mean()
    assert abs(y.mean() - 1.0) < 0.05, y.mean()


@pytest.mark.parametrize(
    "make",
    [
        lambda: ChannelPad(6, name="pad"),
        lambda: DropBlock(0.2, 5, seed=4, name="db"),
        lambda: StochasticDepth(0.1, seed=9, name="sd"),
        lambda: FillMissing([1.5, -2.0], name="fill"),
        lambda: QuantileScaling([[0.0, 1.0, 2.0]], 1e-3, name="quantile"),
        lambda: SmoothClip(3.0, name="clip"),
    ],
    ids=["channel_pad", "dropblock", "stochastic_depth", "fill_missing", "quantile_scaling", "smooth_clip"],
)
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer)).get_config() == (
        config
    )


def test_saved_model_with_every_custom_layer_loads_and_predicts_the_same(tmp_path):
    inputs = keras.Input(shape=(8, 8, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
    x = DropBlock(0.2, 3, seed=1, name="dropblock")(x)
    x = StochasticDepth(0.3, seed=2, name="droppath")(x)
    x = ChannelPad(6, name="pad")(x)
    model = keras.Model(inputs, x)
    path = tmp_path / "layers.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for name, kind in (("dropblock", DropBlock), ("droppath", StochasticDepth), ("pad", ChannelPad)):
        assert type(loaded.get_layer(name)) is kind
        assert loaded.get_layer(name).get_config() == model.get_layer(name).get_config()
    x = np.random.default_rng(2).normal(size=(4, 8, 8, 2)).astype("float32")
    expected = numpy(model(x, training=False))
    assert expected.shape == (4, 8, 8, 6) and np.abs(expected).sum() > 0
    np.testing.assert_array_equal(numpy(loaded(x, training=False)), expected)


def test_destandardize_maps_standardised_outputs_to_units_and_has_no_weights(tmp_path):
    from ressearch import ArchitectureConfig, build_model
    from ressearch.arch import Destandardize

    layer = Destandardize(150.0, 70.0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(np.array([[0.0], [1.0], [-2.0]]))), [[150.0], [220.0], [10.0]]
    )
    assert Destandardize.from_config(layer.get_config()).get_config() == layer.get_config()

    plain = ArchitectureConfig(input_shape=(5,), outputs=1, head="regression", depths=(1,), widths=(4,))
    scaled = plain.replace(output_mean=150.0, output_std=70.0)
    model, unscaled = build_model(scaled), build_model(plain)
    assert isinstance(model.get_layer("predictions"), Destandardize)
    assert "standardised" not in [layer.name for layer in unscaled.layers]
    assert model.count_params() == unscaled.count_params()  # the constants are config, not weights
    path = tmp_path / "regression.keras"
    model.save(path)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    np.testing.assert_allclose(
        keras.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0)
    )


def test_table_preprocessing_layers():
    filled = FillMissing([1.5, -2.0])(np.array([[np.nan, 3.0], [4.0, np.nan]], dtype="float32"))
    np.testing.assert_array_equal(numpy(filled), [[1.5, 3.0], [4.0, -2.0]])
    clipped = numpy(SmoothClip(3.0)(np.array([[0.0, 3.0, 1e6]], dtype="float32")))
    np.testing.assert_allclose(clipped, [[0.0, 3.0 / np.sqrt(2.0), 3.0]], rtol=1e-6)
    # Quantile scores: the median edge scores 0, far below the edges the clipped low score.
    scores = numpy(
        QuantileScaling([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]], 1e-3)(
            np.array([[1.0, 5.0], [-9.0, 4.0]], dtype="float32")
        )
    )
    np.testing.assert_allclose(scores, [[0.0, 0.0], [-3.0902, -3.0902]], atol=1e-4)
