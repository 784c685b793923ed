"""Averaging trained models into one: the mean of their outputs, saved and loaded as one file."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ressearch.arch.average import average_models
from ressearch.arch.saving import load_model
from ressearch.errors import ConfigError
from tests.helpers import one_line


def member(inputs: int, outputs: int, seed: int) -> keras.Model:
    """A small trained-looking model, named alike as models loaded from files often are."""
    keras.utils.set_random_seed(seed)
    x = keras.Input((inputs,))
    hidden = keras.layers.Dense(4, activation="relu", name="hidden")(x)
    return keras.Model(x, keras.layers.Dense(outputs, activation="softmax", name="out")(hidden), name="net")


def test_the_average_is_the_mean_of_the_members_and_survives_a_save(tmp_path):
    members = [member(3, 2, seed) for seed in range(3)]
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    expected = np.mean([model.predict(x, verbose=0) for model in members], axis=0)
    averaged = average_models(members)
    np.testing.assert_allclose(averaged.predict(x, verbose=0), expected, rtol=1e-6)
    averaged.save(tmp_path / "mean.keras")
    np.testing.assert_allclose(load_model(tmp_path / "mean.keras").predict(x, verbose=0), expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("models", "expected"),
    [
        (lambda: [member(3, 2, 0)], "an average needs at least two models, got 1"),
        (lambda: [member(3, 2, 0), member(4, 2, 1)], "the models to average take or give different shapes"),
        (lambda: [member(3, 2, 0), member(3, 3, 1)], "the models to average take or give different shapes"),
    ],
)
def test_models_that_cannot_be_averaged_are_one_line(models, expected):
    with pytest.raises(ConfigError) as raised:
        average_models(models())
    assert expected in one_line(raised.value)
