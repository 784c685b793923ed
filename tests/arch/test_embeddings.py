"""Numeric embeddings of tabular columns: the encoding, the bins from training rows, learning on a
real table, a constant column, and the save/load round trip of every kind."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ressearch import ArchitectureConfig, build_model
from ressearch.arch import PeriodicEmbedding, PiecewiseLinearEmbedding, adapt_model
from ressearch.arch.saving import load_model
from ressearch.data import DataConfig, load_dataset

EMBEDDINGS = {
    "periodic": {"numeric_embedding": "periodic", "embedding_frequencies": 8, "embedding_sigma": 0.1},
    "plr": {"numeric_embedding": "plr", "embedding_frequencies": 8, "embedding_dim": 4},
    "plr_lite": {
        "numeric_embedding": "plr",
        "embedding_frequencies": 8,
        "embedding_dim": 4,
        "embedding_lite": True,
    },
    "piecewise_linear": {"numeric_embedding": "piecewise_linear", "embedding_bins": 8, "embedding_dim": 4},
}


def numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


@pytest.fixture(scope="module")
def table():
    """breast_cancer (30 continuous columns, standardised) with a one-hot pair added at the end,
    which the embedding must leave alone, and a constant column, which it must survive."""
    dataset = load_dataset(DataConfig(source="builtin:breast_cancer", max_rows=300), seed=0)

    def widen(x: np.ndarray) -> np.ndarray:
        one_hot = np.eye(2, dtype="float32")[(x[:, 0] > 0).astype(int)]
        return np.concatenate([x, np.zeros((len(x), 1), "float32"), one_hot], axis=1)

    return dataset, widen(dataset.x_train), widen(dataset.x_val)


def test_piecewise_linear_encoding_by_hand():
    layer = PiecewiseLinearEmbedding(bins=3, units=2)
    # Column 0: edges 0, 1, 2, 4; column 1: constant; column 2: two values, so one filled bin.
    layer.adapt(np.array([[0.0, 7.0, 0.0], [1.0, 7.0, 0.0], [2.0, 7.0, 1.0], [4.0, 7.0, 1.0]]))
    np.testing.assert_allclose(numpy(layer.edges)[0], [0.0, 1.0, 2.0, 4.0])
    rows = np.array([[-1.0, 7.0, 0.5], [1.5, 9.0, 2.0], [6.0, 0.0, -1.0]], "float32")
    encoded = numpy(layer.encode(rows))
    # Below the lowest edge the first bin goes on linearly, above the highest the last one.
    np.testing.assert_allclose(encoded[:, 0], [[-1.0, 0.0, 0.0], [1.0, 0.5, 0.0], [1.0, 1.0, 2.0]])
    assert not encoded[:, 1].any()  # a constant column: every bin is empty
    # Edges 0, 0, 1, 1: one filled bin, min-max scaling open on both sides; the empty bins give 0.
    np.testing.assert_allclose(numpy(layer.edges)[2], [0.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(encoded[:, 2], [[0.0, 0.5, 0.0], [0.0, 2.0, 0.0], [0.0, -1.0, 0.0]])


def test_periodic_frequencies_start_at_their_scale_and_plr_shares_its_layer_when_lite():
    x = np.zeros((4, 10), "float32")
    wide, lite = PeriodicEmbedding(64, 0.05, units=8), PeriodicEmbedding(64, 0.05, units=8, lite=True)
    plain = PeriodicEmbedding(64, 0.05)
    assert plain(x).shape == (4, 10, 128) and wide(x).shape == lite(x).shape == (4, 10, 8)
    assert 0.03 < numpy(plain.frequency).std() < 0.06  # N(0, sigma) truncated at two deviations
    assert wide.count_params() == 10 * 64 + 10 * (128 * 8 + 8)
    assert lite.count_params() == 10 * 64 + 128 * 8 + 8
    # cos(0) = 1, sin(0) = 0 for every frequency.
    np.testing.assert_allclose(numpy(plain(x))[0, 0], [1.0] * 64 + [0.0] * 64)


def test_bins_come_from_the_training_rows_of_the_embedded_columns_only(table):
    _, x_train, _ = table
    config = ArchitectureConfig(
        input_shape=(33,),
        outputs=1,
        depths=(1,),
        widths=(8,),
        continuous_features=tuple(range(31)),
        **EMBEDDINGS["piecewise_linear"],
    )
    model = build_model(config)
    layer = model.get_layer("embed")
    assert layer.edges.shape == (31, 9)
    adapt_model(model, x_train)
    expected = np.quantile(x_train[:, :31].astype("float64"), np.linspace(0, 1, 9), axis=0).T
    np.testing.assert_allclose(numpy(layer.edges), expected, rtol=1e-6)
    assert [weight.name for weight in layer.non_trainable_weights] == ["edges"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(EMBEDDINGS))
def test_each_embedding_learns_a_real_table_and_round_trips(kind, table, tmp_path):
    dataset, x_train, x_val = table
    config = ArchitectureConfig(
        input_shape=(33,),
        outputs=1,
        depths=(1,),
        widths=(8,),
        continuous_features=tuple(range(31)),  # the last two columns are one-hot
        **EMBEDDINGS[kind],
    )
    keras.utils.set_random_seed(0)
    model = build_model(config)
    assert model.get_layer("embed_others").indices == [31, 32]
    assert model.count_params() < 15_000
    adapt_model(model, x_train)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, dataset.y_train, epochs=3, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"]).all()  # the constant column broke nothing
    _, accuracy = model.evaluate(x_val, dataset.y_val, verbose=0)
    chance = max(dataset.y_val.mean(), 1 - dataset.y_val.mean())
    assert accuracy > chance + 0.1, (accuracy, chance)

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    expected = model.predict(x_val, verbose=0)
    np.testing.assert_array_equal(loaded.predict(x_val, verbose=0), expected)
    # Config and weights alone rebuild it exactly: the bin edges are weights.
    rebuilt = build_model(config)
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_array_equal(rebuilt.predict(x_val, verbose=0), expected)


def test_a_constant_column_does_not_break_the_bins(table):
    _, x_train, x_val = table
    x_train, x_val = x_train[:, 28:31].copy(), x_val[:, 28:31].copy()
    x_train[:, 1] = 3.0  # constant in the training rows, and not in the validation rows
    config = ArchitectureConfig(
        input_shape=(3,), outputs=1, depths=(1,), widths=(4,), **EMBEDDINGS["piecewise_linear"]
    )
    model = build_model(config)
    adapt_model(model, x_train)
    assert np.isfinite(numpy(model.get_layer("embed").edges)).all()
    predictions = model.predict(x_val, verbose=0)
    assert np.isfinite(predictions).all()
