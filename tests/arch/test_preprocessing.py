"""A network behind its recipe's preprocessing takes raw rows and scores them as the recipe did:
in memory, from ``.keras`` and from the SavedModel, for every scaling, text and missing values
included."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from ressearch.arch import adapt_model, build_model
from ressearch.arch.preprocessing import input_names, with_raw_inputs
from ressearch.arch.saving import export_savedmodel, load_model
from ressearch.config import ArchitectureConfig
from ressearch.data import apply_preprocessing
from ressearch.data.recipes import raw_inputs
from tests.data.helpers import load, write_table


def _network(input_shape: tuple[int, ...], dataset=None) -> keras.Model:
    keras.utils.set_random_seed(0)
    config = ArchitectureConfig(
        input_shape=input_shape,
        outputs=1,
        block_type="basic",
        depths=(1,),
        widths=(8,),
        normalization="none",
        continuous_features=dataset.continuous_features if dataset is not None else None,
        categorical_columns=dataset.categorical_columns if dataset is not None else (),
        embedding_dim=4,
    )
    return build_model(config)


def _new_rows(path) -> pd.DataFrame:
    """Raw rows as a person would send them: every column, an unseen city, missing values."""
    rows = pd.read_csv(path).drop(columns="label").iloc[:40].copy()
    rows.loc[rows.index[0], "city"] = "Narvik"  # unseen
    rows.loc[rows.index[1], "city"] = np.nan
    rows.loc[rows.index[2], "size (m2)"] = np.nan
    rows.loc[rows.index[3], "empty"] = 12.0
    return rows


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scaling", "clip", "max_onehot"),
    [("standard", False, None), ("robust", True, None), ("quantile", False, None), ("robust", True, 4)],
)
def test_the_model_scores_raw_rows_as_the_recipe_did(tmp_path, scaling, clip, max_onehot):
    write_table(tmp_path / "rooms.csv")
    dataset = load(
        source=f"csv:{tmp_path / 'rooms.csv'}",
        target="label",
        scaling=scaling,
        clip=clip,
        max_onehot=max_onehot,
    )
    recipe = json.loads(json.dumps(dataset.preprocessing))
    network = _network(dataset.input_shape, dataset)
    # With max_onehot 4 the cities (4 and a missing one) and the 40 streets are embedded.
    embeddings = [layer for layer in network.layers if isinstance(layer, keras.layers.Embedding)]
    assert [layer.input_dim for layer in embeddings] == ([6, 41] if max_onehot else [])
    model = with_raw_inputs(network, recipe)

    rows = _new_rows(tmp_path / "rooms.csv")
    expected = network.predict(apply_preprocessing(recipe, rows), verbose=0)
    feed = {name: tf.constant(values) for name, values in raw_inputs(recipe, rows).items()}
    np.testing.assert_allclose(model.predict(feed, verbose=0), expected, rtol=1e-5, atol=1e-6)

    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(feed, verbose=0), expected, rtol=1e-5, atol=1e-6)

    served = tf.saved_model.load(str(export_savedmodel(loaded, tmp_path / "savedmodel")))
    np.testing.assert_allclose(served.serve(feed).numpy(), expected, rtol=1e-5, atol=1e-6)
    names = input_names(list(feed))
    signature = served.signatures["serving_default"]
    by_name = signature(**{names[key]: value for key, value in feed.items()})
    np.testing.assert_allclose(next(iter(by_name.values())).numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_tabular_rows_are_scaled_inside_the_model(tmp_path):
    dataset = load(source="builtin:wine", scaling="quantile", clip=True)
    recipe = dataset.preprocessing
    network = _network(dataset.input_shape)
    model = with_raw_inputs(network, recipe)
    from sklearn.datasets import load_wine

    rows = load_wine().data[:30]
    expected = network.predict(apply_preprocessing(recipe, rows), verbose=0)
    np.testing.assert_allclose(
        model.predict(raw_inputs(recipe, rows), verbose=0), expected, rtol=1e-5, atol=1e-6
    )


def test_images_stay_outside_the_model():
    with pytest.raises(ValueError, match="only csv and tabular recipes can live in a model"):
        with_raw_inputs(_network((4,)), {"kind": "image"})


@pytest.mark.slow
def test_an_ensemble_with_embeddings_scores_raw_rows_as_the_recipe_did(tmp_path):
    """TabM members, piecewise-linear numeric embeddings and embedded text columns together."""
    write_table(tmp_path / "rooms.csv")
    dataset = load(source=f"csv:{tmp_path / 'rooms.csv'}", target="label", scaling="quantile", max_onehot=4)
    config = ArchitectureConfig(
        input_shape=dataset.input_shape,
        outputs=1,
        depths=(1,),
        widths=(8,),
        ensemble_k=4,
        continuous_features=dataset.continuous_features,
        categorical_columns=dataset.categorical_columns,
        numeric_embedding="piecewise_linear",
        embedding_bins=8,
        embedding_dim=4,
    )
    network = build_model(config)
    adapt_model(network, dataset.x_train)
    rows = _new_rows(tmp_path / "rooms.csv")
    expected = network.predict(apply_preprocessing(dataset.preprocessing, rows), verbose=0)
    feed = {name: tf.constant(values) for name, values in raw_inputs(dataset.preprocessing, rows).items()}
    with_raw_inputs(network, dataset.preprocessing).save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(feed, verbose=0), expected, rtol=1e-5, atol=1e-6)
    served = tf.saved_model.load(str(export_savedmodel(loaded, tmp_path / "savedmodel")))
    np.testing.assert_allclose(served.serve(feed).numpy(), expected, rtol=1e-5, atol=1e-6)
