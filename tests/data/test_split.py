"""The split: stratified, deterministic, subsampled, weighted; a rare class falls back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.class_weight import compute_class_weight

from tests.data.helpers import load


def test_split_is_stratified_and_deterministic():
    first = load(source="builtin:iris")
    again = load(source="builtin:iris")
    other = load(source="builtin:iris", seed=1)
    for name in ("x_train", "y_train", "x_val", "y_val"):
        assert getattr(first, name).tobytes() == getattr(again, name).tobytes()
    assert not np.array_equal(first.x_val, other.x_val)
    assert first.summary["stratified"] is True
    assert np.bincount(first.y_val).tolist() == [10, 10, 10]
    assert np.bincount(other.y_val).tolist() == [10, 10, 10]


def test_max_rows_subsamples_with_stratification():
    dataset = load(source="builtin:iris", max_rows=30)
    assert dataset.summary["rows_loaded"] == 150 and dataset.summary["rows_used"] == 30
    assert np.bincount(np.concatenate([dataset.y_train, dataset.y_val])).tolist() == [10, 10, 10]
    assert load(source="builtin:iris", max_rows=30).x_val.tobytes() == dataset.x_val.tobytes()


def test_class_weight_balanced_follows_the_training_labels():
    dataset = load(source="builtin:wine", class_weight="balanced")
    expected = compute_class_weight("balanced", classes=np.arange(3), y=dataset.y_train)
    assert dataset.class_weight == pytest.approx(dict(enumerate(expected)))
    assert load(source="builtin:wine").class_weight is None


def test_a_class_with_one_row_falls_back_to_an_unstratified_split(tmp_path):
    labels = ["a"] * 10 + ["b"] * 9 + ["c"]
    pd.DataFrame({"x": range(20), "y": labels}).to_csv(tmp_path / "rare.csv", index=False)
    dataset = load(source=f"csv:{tmp_path / 'rare.csv'}", target="y")
    assert dataset.summary["stratified"] is False
    assert "class 'c' has 1 row" in dataset.summary["notes"][0]


def test_merge_validation_trains_on_every_row_and_fits_the_recipe_on_them(tmp_path):
    """A refit's data: the same rows, the validation rows after the training ones, none left to
    validate on, and the recipe's statistics learnt from all the rows it trains on."""
    from ressearch.config.data import DataConfig
    from ressearch.data import load_dataset

    config = DataConfig(source="builtin:wine", max_rows=120)
    split = load_dataset(config, seed=0)
    merged = load_dataset(config, seed=0, merge_validation=True)
    assert (len(merged.y_train), len(merged.y_val), merged.x_val.shape[1:]) == (120, 0, split.x_val.shape[1:])
    assert merged.summary["n_train"] == 120 and merged.summary["n_val"] == 0
    assert merged.y_train.tolist() == [*split.y_train.tolist(), *split.y_val.tolist()]
    # Standardised with the mean and deviation of all 120 rows: each column has mean 0 on them.
    np.testing.assert_allclose(merged.x_train.mean(axis=0), 0.0, atol=1e-5)
    assert not np.allclose(split.preprocessing["mean"], merged.preprocessing["mean"])
