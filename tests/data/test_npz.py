"""npz sources: tabular rows, sequences, images and bad archives."""

from __future__ import annotations

import numpy as np
import pytest

from ressearch.data import (
    apply_preprocessing,
)
from tests.data.helpers import assert_same_rows, data_error, load

# --- npz ---------------------------------------------------------------------------------------------


def test_npz_tabular_float_targets_are_a_regression(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(50, 4))
    np.savez(tmp_path / "t.npz", x=x, y=x.sum(axis=1))
    dataset = load(source=f"npz:{tmp_path / 't.npz'}")
    assert (dataset.task, dataset.input_shape, dataset.preprocessing["kind"]) == (
        "regression",
        (4,),
        "tabular",
    )
    np.testing.assert_allclose(dataset.x_train.mean(axis=0), 0.0, atol=1e-5)
    assert_same_rows(dataset, apply_preprocessing(dataset.preprocessing, x))
    # The target is kept in its units; its training mean and std are in the recipe for the model.
    mean, std = dataset.target_scale
    assert mean == pytest.approx(float(dataset.y_train.mean()), rel=1e-6)
    assert std == pytest.approx(float(dataset.y_train.std()), rel=1e-6)
    assert dataset.preprocessing["target_scale"] == {"mean": mean, "std": std}


def test_npz_uint8_images_are_scaled_and_sequences_standardised(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 6, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "img.npz", x=images, y=np.repeat([0, 1], 10))
    dataset = load(source=f"npz:{tmp_path / 'img.npz'}")
    assert (dataset.task, dataset.input_shape, dataset.outputs) == ("classification", (6, 6, 3), 1)
    assert dataset.x_train.min() >= 0.0 and dataset.x_train.max() <= 1.0
    assert_same_rows(dataset, images.astype(np.float32) / np.float32(255))
    assert load(source=f"npz:{tmp_path / 'img.npz'}", flatten=True).input_shape == (108,)

    sequences = rng.normal(5.0, 3.0, size=(30, 10, 2))
    np.savez(tmp_path / "seq.npz", x=sequences, y=np.repeat([0, 1, 2], 10))
    dataset = load(source=f"npz:{tmp_path / 'seq.npz'}")
    assert (dataset.input_shape, dataset.preprocessing["kind"], dataset.outputs) == ((10, 2), "sequence", 3)
    np.testing.assert_allclose(dataset.x_train.mean(axis=(0, 1)), 0.0, atol=1e-5)


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"x": np.zeros((10, 3)), "labels": np.zeros(10)}, "has no array 'y'; it has arrays 'labels', 'x'"),
        ({"y": np.zeros(10)}, "has no array 'x'; it has arrays 'y'"),
        (
            {"x": np.zeros((10, 3)), "y": np.zeros(9)},
            "arrays 'x' and 'y' in {path} differ in length: 10 rows",
        ),
        ({"x": np.zeros((4, 2, 2, 2, 2)), "y": np.zeros(4)}, "array 'x' in {path} has rank 5"),
        (
            {"x": np.full((4, 2), np.nan), "y": np.arange(4)},
            "array 'x' in {path} holds 8 missing (NaN) values",
        ),
    ],
)
def test_bad_npz_names_the_array(tmp_path, arrays, expected):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    assert expected.format(path=path) in data_error(source=f"npz:{path}")


def test_a_file_that_is_not_npz_is_named(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_text("x,y\n1,2\n")
    assert f"data.source: {path} is not a readable .npz file" in data_error(source=f"npz:{path}")
    assert "npz file" in data_error(source=f"npz:{tmp_path / 'absent.npz'}")
