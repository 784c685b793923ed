"""A tiny real training run: a residual dense net's loss falls on built-in data."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from ressearch import ArchitectureConfig, build_model


@pytest.mark.slow
def test_residual_dense_net_learns_breast_cancer():
    x, y = load_breast_cancer(return_X_y=True)
    x = StandardScaler().fit_transform(x).astype("float32")
    keras.utils.set_random_seed(0)
    config = ArchitectureConfig(input_shape=(x.shape[1],), outputs=2, depths=(2,), widths=(16,), dropout=0.1)
    model = build_model(config)
    assert model.count_params() < 5000
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x, y, epochs=3, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    assert np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y) > 0.9
