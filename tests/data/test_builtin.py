"""The built-in sets: shapes, tasks, standardisation, the digits images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import datasets as sk_datasets

from ressearch.data import (
    BUILTIN_DATASETS,
    apply_preprocessing,
)
from tests.data.helpers import assert_same_rows, load

# --- built-in sets -------------------------------------------------------------------------------------

BUILTIN_EXPECTED = {
    # name: (input_shape, task, num_classes, outputs, rows)
    "breast_cancer": ((30,), "classification", 2, 1, 569),
    "diabetes": ((10,), "regression", 0, 1, 442),
    "digits": ((8, 8, 1), "classification", 10, 10, 1797),
    "iris": ((4,), "classification", 3, 3, 150),
    "wine": ((13,), "classification", 3, 3, 178),
}


def test_every_builtin_dataset_is_covered():
    assert set(BUILTIN_EXPECTED) == set(BUILTIN_DATASETS)


@pytest.mark.parametrize("name", BUILTIN_DATASETS)
def test_builtin_datasets_load_with_their_shapes_and_tasks(name):
    input_shape, task, num_classes, outputs, rows = BUILTIN_EXPECTED[name]
    dataset = load(source=f"builtin:{name}")
    assert (dataset.input_shape, dataset.task, dataset.num_classes, dataset.outputs) == (
        input_shape,
        task,
        num_classes,
        outputs,
    )
    assert len(dataset.x_train) + len(dataset.x_val) == rows
    assert len(dataset.x_val) == int(np.ceil(0.2 * rows))
    assert dataset.x_train.dtype == dataset.x_val.dtype == np.float32
    assert dataset.y_train.dtype == (np.float32 if task == "regression" else np.int64)
    assert dataset.y_train.ndim == dataset.y_val.ndim == 1
    assert dataset.summary["input_shape"] == list(input_shape)
    assert (dataset.summary["n_train"], dataset.summary["n_val"]) == (
        len(dataset.y_train),
        len(dataset.y_val),
    )
    # Both the recipe and the summary survive JSON unchanged.
    for part in (dataset.preprocessing, dataset.summary):
        assert json.loads(json.dumps(part)) == part


@pytest.mark.parametrize("name", ["breast_cancer", "diabetes", "iris", "wine"])
def test_tabular_builtins_are_standardised_with_training_statistics(name):
    dataset = load(source=f"builtin:{name}")
    np.testing.assert_allclose(dataset.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(dataset.x_train.std(axis=0), 1.0, atol=1e-4)
    assert not np.allclose(dataset.x_val.mean(axis=0), 0.0, atol=1e-5)  # not refitted on validation
    raw = getattr(sk_datasets, f"load_{name}")().data
    assert_same_rows(dataset, apply_preprocessing(json.loads(json.dumps(dataset.preprocessing)), raw))


def test_digits_are_images_in_unit_range_or_flat_vectors():
    images = load(source="builtin:digits")
    flat = load(source="builtin:digits", flatten=True)
    assert images.input_shape == (8, 8, 1) and flat.input_shape == (64,)
    assert images.x_train.min() == 0.0 and images.x_train.max() == 1.0
    assert np.array_equal(images.x_train.reshape(len(images.x_train), -1), flat.x_train)
    assert np.array_equal(images.y_val, flat.y_val)
    assert_same_rows(images, apply_preprocessing(images.preprocessing, sk_datasets.load_digits().images))


def test_classification_has_no_target_scale_and_diabetes_has_its_training_one():
    assert load(source="builtin:iris").target_scale is None
    diabetes = load(source="builtin:diabetes")
    mean, std = diabetes.target_scale
    assert mean == pytest.approx(float(diabetes.y_train.mean()), rel=1e-6)
    assert std == pytest.approx(float(diabetes.y_train.std()), rel=1e-6)
    assert 140 < mean < 165 and 65 < std < 85  # the units stay: the split's targets are not rescaled
    assert diabetes.y_val.min() >= 25 and diabetes.y_val.max() <= 346
