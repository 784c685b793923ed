"""Numeric scaling (standard, robust, quantile, smooth clip) is fitted on the training rows only,
and constant or empty columns scale to zeros without an error."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ressearch.data import apply_preprocessing
from ressearch.data.recipes import fit_scaling, quantile_scores, smooth_clip
from tests.data.helpers import data_error, load, write_table

SCALINGS = ["standard", "robust", "quantile"]


def _numeric(recipe: dict) -> dict[str, dict]:
    return {spec["name"]: spec for spec in recipe["columns"] if spec["type"] == "numeric"}


@pytest.mark.parametrize("scaling", SCALINGS)
@pytest.mark.parametrize("clip", [False, True])
def test_scaling_is_fitted_on_the_training_rows_only(tmp_path, scaling, clip):
    frame = write_table(tmp_path / "rooms.csv")
    dataset = load(source=f"csv:{tmp_path / 'rooms.csv'}", target="label", scaling=scaling, clip=clip)
    # The validation rows' numbers made wild: the split (which follows the labels) stays, and
    # every fitted statistic and every training row must stay too.
    wild = frame.copy()
    wild.loc[dataset.val_rows, "size (m2)"] = 1e9
    wild.loc[dataset.val_rows, "rooms"] = -1e9
    wild.loc[dataset.val_rows, "constant"] = 42.0
    wild.loc[dataset.val_rows, "empty"] = 5.0
    wild.to_csv(tmp_path / "wild.csv", index=False)
    leaked = load(source=f"csv:{tmp_path / 'wild.csv'}", target="label", scaling=scaling, clip=clip)

    recipe, other = dataset.preprocessing, leaked.preprocessing
    assert recipe["scaling"] == scaling and recipe["clip"] == (3.0 if clip else None)
    assert {k: v for k, v in other.items() if k != "source"} == {
        k: v for k, v in recipe.items() if k != "source"
    }
    np.testing.assert_array_equal(leaked.x_train, dataset.x_train)
    assert not np.array_equal(leaked.x_val, dataset.x_val)  # the wild values did arrive
    # The recipe reproduces the arrays from raw rows.
    raw = pd.read_csv(tmp_path / "rooms.csv").drop(columns="label")
    again = apply_preprocessing(json.loads(json.dumps(recipe)), raw.iloc[dataset.val_rows])
    np.testing.assert_array_equal(again, dataset.x_val)


@pytest.mark.parametrize("scaling", SCALINGS)
def test_constant_and_empty_columns_scale_to_zeros(tmp_path, scaling):
    write_table(tmp_path / "rooms.csv")
    dataset = load(source=f"csv:{tmp_path / 'rooms.csv'}", target="label", scaling=scaling)
    features = dataset.preprocessing["features"]
    for name in ("constant", "empty"):
        column = features.index(name)
        assert np.all(dataset.x_train[:, column] == 0.0), name
        assert np.all(dataset.x_val[:, column] == 0.0), name
    assert _numeric(dataset.preprocessing)["empty"]["median"] == 0.0
    assert np.isfinite(dataset.x_train).all() and np.isfinite(dataset.x_val).all()


def test_robust_scaling_and_the_smooth_clip_tame_an_outlier(tmp_path):
    write_table(tmp_path / "rooms.csv")
    source = f"csv:{tmp_path / 'rooms.csv'}"
    size = {}
    for scaling, clip in [("standard", False), ("robust", False), ("robust", True), ("quantile", False)]:
        dataset = load(source=source, target="label", scaling=scaling, clip=clip)
        column = dataset.preprocessing["features"].index("size (m2)")
        size[scaling, clip] = np.concatenate([dataset.x_train, dataset.x_val])[:, column]

    def spread(values: np.ndarray) -> float:  # of the ordinary sizes, the middle 80 %
        return float(np.percentile(values, 90) - np.percentile(values, 10))

    # The outlier swamps the standard deviation: the ordinary sizes are squeezed together.
    assert spread(size["standard", False]) < 0.01
    assert spread(size["robust", False]) > 1.0 and spread(size["quantile", False]) > 2.0
    assert size["robust", False].max() > 1000 and np.abs(size["robust", True]).max() <= 3.0
    assert np.abs(size["quantile", False]).max() < 3.1


def test_fitted_scalings_by_hand():
    values = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [10.0, 5.0]])
    assert fit_scaling(values, "standard")["scale"][1] == 1.0  # constant: divided by 1
    robust = fit_scaling(values, "robust")
    assert robust == {"center": [2.5, 5.0], "scale": [3.0, 1.0]}  # quartiles 1.75 and 4.75
    edges = np.asarray(fit_scaling(values, "quantile")["edges"])
    assert edges.shape == (2, 101) and edges[0, 0] == 1.0 and edges[0, -1] == 10.0
    scores = quantile_scores(values, edges)
    assert np.all(np.diff(scores[:, 0]) > 0) and np.all(scores[:, 1] == 0.0)
    assert smooth_clip(np.array([0.0, 3.0, 1e6])).round(4).tolist() == [0.0, 2.1213, 3.0]


@pytest.mark.parametrize("scaling", SCALINGS)
def test_tabular_arrays_take_the_scaling_too(scaling):
    dataset = load(source="builtin:breast_cancer", scaling=scaling, clip=True)
    recipe = dataset.preprocessing
    assert recipe["kind"] == "tabular" and recipe["scaling"] == scaling and recipe["clip"] == 3.0
    assert np.abs(dataset.x_train).max() < 3.0


def test_scaling_of_images_is_a_one_line_error():
    assert "scaling and clip apply to rows of columns (csv, tabular)" in data_error(
        source="builtin:digits", scaling="robust"
    )


def test_version_1_recipes_still_apply(tmp_path):
    write_table(tmp_path / "rooms.csv")
    dataset = load(source=f"csv:{tmp_path / 'rooms.csv'}", target="label")
    recipe = dataset.preprocessing
    # What version 1 wrote: means and standard deviations, no scaling keys.
    old = {key: value for key, value in recipe.items() if key not in ("scaling", "clip")}
    old["version"] = 1
    old["columns"] = [
        {key: value for key, value in spec.items() if key not in ("center", "scale")}
        for spec in recipe["columns"]
    ]
    raw = pd.read_csv(tmp_path / "rooms.csv").drop(columns="label")
    np.testing.assert_array_equal(apply_preprocessing(old, raw.iloc[dataset.val_rows]), dataset.x_val)


def test_text_columns_above_max_onehot_become_one_index_column(tmp_path):
    write_table(tmp_path / "rooms.csv")
    dataset = load(source=f"csv:{tmp_path / 'rooms.csv'}", target="label", max_onehot=5)
    recipe = dataset.preprocessing
    features = recipe["features"]
    # city (4 cities and a missing one) stays one-hot; street (40) is one index column.
    assert [name for name in features if name.startswith("city=")] == [
        "city=Bergen",
        "city=Oslo",
        "city=Stavanger",
        "city=Tromsø",
        "city=__missing__",
    ]
    street = features.index("street")
    assert dataset.categorical_columns == ((street, 41),)
    assert street not in dataset.continuous_features
    assert set(dataset.x_train[:, street]) <= set(range(1, 41)) and len(features) == dataset.input_shape[0]
    # An unseen street is index 0.
    rows = pd.read_csv(tmp_path / "rooms.csv").drop(columns="label").iloc[:2].copy()
    rows["street"] = ["street 3", "nowhere"]
    x = apply_preprocessing(recipe, rows)
    assert x[:, street].tolist() == [recipe["columns"][3]["categories"].index("street 3") + 1, 0]
