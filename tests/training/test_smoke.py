"""A tiny real training run: a residual dense net's loss falls on built-in data."""

from __future__ import annotations

import keras
import pytest

from ressearch import ArchitectureConfig, TrainConfig, build_model
from ressearch.data import DataConfig, load_dataset
from ressearch.training import train_trial


@pytest.mark.slow
def test_residual_dense_net_learns_breast_cancer():
    dataset = load_dataset(DataConfig(source="builtin:breast_cancer"), seed=0)
    assert dataset.input_shape == (30,) and dataset.outputs == 1
    config = ArchitectureConfig(
        input_shape=dataset.input_shape, outputs=dataset.outputs, depths=(2,), widths=(16,), dropout=0.1
    )
    model = build_model(config)
    assert model.count_params() < 5000
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.Add)] == [
        "stage1_block1_add",
        "stage1_block2_add",
    ]
    train = TrainConfig(epochs=3, batch_size=64, learning_rate=1e-2)
    result = train_trial(config, train, dataset, seed=0)
    losses = result.curve["loss"]
    assert result.epochs == len(losses) == 3
    assert losses[-1] < 0.7 * losses[0]
    assert result.metrics["val_accuracy"] > 0.9
    assert result.model_params == model.count_params()
