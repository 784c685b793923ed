"""Numeric embeddings of tabular columns: the encoding, the bins from training rows, learning on a
real table, a constant column, and the save/load round trip of every kind."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ressearch import ArchitectureConfig, build_model
from ressearch.arch import PeriodicEmbedding, PiecewiseLinearEmbedding, adapt_model
from ressearch.arch.layers import tree_edges
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
    "piecewise_linear_tree": {
        "numeric_embedding": "piecewise_linear",
        "embedding_bins": 8,
        "embedding_dim": 4,
        "embedding_bins_from": "tree",
    },
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


def wide_config(kind: str) -> ArchitectureConfig:
    """A tiny net for the table's 33 columns that embeds the first 31 (the last two are one-hot)."""
    return ArchitectureConfig(
        input_shape=(33,),
        outputs=1,
        depths=(1,),
        widths=(8,),
        continuous_features=tuple(range(31)),
        **EMBEDDINGS[kind],
    )


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


def test_tree_bins_fall_where_the_label_changes_and_quantile_bins_do_not():
    rng = np.random.default_rng(0)
    x = np.stack([rng.uniform(0, 10, 400), np.full(400, 2.0), rng.uniform(0, 1, 400)], axis=1)
    classes = (x[:, 0] > 3.7).astype(int)  # the label changes at 3.7 and nowhere else
    layer = PiecewiseLinearEmbedding(bins=4, units=2, bins_from="tree")
    layer.adapt(x, classes)
    edges = numpy(layer.edges).astype("float64")
    assert edges.shape == (3, 5)
    assert np.isclose(edges[0], 3.7, atol=0.1).sum() == 1  # one edge on the change
    quantiles = np.quantile(x[:, 0], np.linspace(0, 1, 5))
    assert not np.isclose(quantiles, 3.7, atol=0.5).any()
    np.testing.assert_allclose(edges[0, [0, -1]], [x[:, 0].min(), x[:, 0].max()], rtol=1e-6)
    assert (np.diff(edges, axis=1) >= 0).all()  # sorted; unused bins are empty at the top
    assert (edges[1] == 2.0).all()  # a constant column: no split, every bin empty
    assert not numpy(layer.encode(x.astype("float32")))[:, 1].any()
    # Regression: a tree of values, splitting where the value jumps.
    values = np.where(x[:, 2] > 0.62, 5.0, -1.0) + rng.normal(0, 0.1, 400)
    edges = tree_edges(x, values, 4, classify=False)
    assert np.isclose(edges[2], 0.62, atol=0.02).sum() == 1
    # No labels, no tree bins: an error, not quantiles in disguise.
    with pytest.raises(ValueError, match="labels"):
        PiecewiseLinearEmbedding(bins=4, units=2, bins_from="tree").adapt(x)
    with pytest.raises(ValueError, match="bins_from"):
        PiecewiseLinearEmbedding(bins=4, units=2, bins_from="trees")


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
    config = wide_config("piecewise_linear")
    model = build_model(config)
    layer = model.get_layer("embed")
    assert layer.edges.shape == (31, 9)
    adapt_model(model, x_train)
    expected = np.quantile(x_train[:, :31].astype("float64"), np.linspace(0, 1, 9), axis=0).T
    np.testing.assert_allclose(numpy(layer.edges), expected, rtol=1e-6)
    assert [weight.name for weight in layer.non_trainable_weights] == ["edges"]


def test_tree_bins_come_from_the_training_rows_and_labels_only(table):
    dataset, x_train, _ = table
    config = wide_config("piecewise_linear_tree")
    model = build_model(config)
    adapt_model(model, x_train, dataset.y_train)
    expected = tree_edges(x_train[:, :31].astype("float64"), dataset.y_train, 8, classify=True)
    np.testing.assert_allclose(numpy(model.get_layer("embed").edges), expected, rtol=1e-6)
    # Other labels, other edges: the labels are read, and only the ones given.
    adapt_model(model, x_train, 1 - dataset.y_train[::-1])
    assert not np.allclose(numpy(model.get_layer("embed").edges), expected)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(EMBEDDINGS))
def test_each_embedding_learns_a_real_table_and_round_trips(kind, table, tmp_path):
    dataset, x_train, x_val = table
    config = wide_config(kind)
    keras.utils.set_random_seed(0)
    model = build_model(config)
    assert model.get_layer("embed_others").indices == [31, 32]
    assert model.count_params() < 15_000
    adapt_model(model, x_train, dataset.y_train)
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
