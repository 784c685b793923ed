"""The fused Adam update: Keras' Adam and AdamW, to float32 round-off, in under a third of the graph."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ressearch import TrainConfig
from ressearch.data import DataConfig, load_dataset
from ressearch.training import optimizers
from ressearch.training.compile import compile_model
from ressearch.training.optimizers import fuse_adam, is_fused

pytestmark = pytest.mark.slow


def _regression() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 5)).astype("float32")
    return x, (x @ np.arange(1, 6, dtype="float32") + rng.normal(scale=0.1, size=256)).reshape(-1, 1)


def _trained(optimizer: keras.optimizers.Optimizer) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    keras.utils.set_random_seed(0)
    layers = [keras.Input((5,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    model = keras.Sequential(layers)
    model.compile(optimizer, "mse")
    x, y = _regression()
    history = model.fit(x, y, epochs=4, batch_size=32, shuffle=False, verbose=0)
    return (
        [weight.numpy() for weight in model.weights],
        [variable.numpy() for variable in optimizer.variables],
        history.history["loss"],
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.optimizers.AdamW(learning_rate=1e-2, weight_decay=0.05, clipnorm=1.0),
        lambda: keras.optimizers.AdamW(learning_rate=1e-2, weight_decay=0.0),
        lambda: keras.optimizers.Adam(learning_rate=5e-2, clipnorm=0.1),
        lambda: keras.optimizers.AdamW(
            learning_rate=keras.optimizers.schedules.CosineDecay(1e-2, 32), weight_decay=0.01, clipnorm=1.0
        ),
        lambda: keras.optimizers.AdamW(learning_rate=1e-2, weight_decay=0.01, use_ema=True, ema_momentum=0.9),
    ],
    ids=["adamw-clipnorm", "adamw-no-decay", "adam-small-clip", "adamw-schedule", "adamw-ema"],
)
def test_the_fused_update_trains_as_keras_does(make, monkeypatch):
    """32 steps from the same start: the same weights, moments, step count and losses as Keras'
    own update, to float32 round-off (the fused kernel orders a few multiplications its own way)."""
    plain = _trained(make())
    fused_optimizer = fuse_adam(make())
    assert is_fused(fused_optimizer)
    traced = []
    step_scalars = optimizers._step_scalars
    monkeypatch.setattr(optimizers, "_step_scalars", lambda *args: traced.append(1) or step_scalars(*args))
    fused = _trained(fused_optimizer)
    assert traced  # fit's train step went through the fused update, not Keras' own
    for keras_values, fused_values in zip(plain[:2], fused[:2], strict=True):
        assert len(keras_values) == len(fused_values)
        for expected, got in zip(keras_values, fused_values, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fused[2], plain[2], rtol=1e-4)
    assert fused[2][-1] < 0.8 * fused[2][0]  # and it does learn


def test_the_fused_update_traces_under_a_third_of_the_operations():
    def operations(optimizer: keras.optimizers.Optimizer) -> int:
        variables = [keras.Variable(np.ones((8, 8), "float32")) for _ in range(10)]
        optimizer.build(variables)

        @tf.function
        def step(grads):
            optimizer.apply(grads, variables)

        grads = [tf.ones((8, 8)) for _ in variables]
        return len(step.get_concrete_function(grads).graph.get_operations())

    keras_ops = operations(keras.optimizers.AdamW(weight_decay=0.01, clipnorm=1.0))
    fused_ops = operations(fuse_adam(keras.optimizers.AdamW(weight_decay=0.01, clipnorm=1.0)))
    assert fused_ops * 3 < keras_ops  # 189 against 648 here, (fused_ops, keras_ops)


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.optimizers.Adam(amsgrad=True),
        lambda: keras.optimizers.AdamW(global_clipnorm=1.0),
        lambda: keras.optimizers.AdamW(clipvalue=0.5),
        lambda: keras.optimizers.Adam(use_ema=True, ema_overwrite_frequency=10),
        lambda: keras.optimizers.Adam(gradient_accumulation_steps=2),
        lambda: keras.optimizers.SGD(),
    ],
    ids=["amsgrad", "global-clipnorm", "clipvalue", "ema-overwrite", "accumulation", "sgd"],
)
def test_what_the_fused_update_does_not_cover_keeps_keras_own(make):
    assert not is_fused(fuse_adam(make()))


def test_an_embeddings_sparse_gradient_takes_keras_path():
    """An Embedding layer's gradient holds the rows of the batch (repeats included); Keras clips
    those rows as they are, so a step with one goes Keras' way: the same weights as Keras'."""

    def trained(optimizer: keras.optimizers.Optimizer) -> list[np.ndarray]:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((3,), dtype="int32"),
                keras.layers.Embedding(50, 4),
                keras.layers.Flatten(),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer, "mse")
        x = np.random.default_rng(0).integers(0, 50, (128, 3))
        model.fit(x, x.sum(axis=1, keepdims=True) / 50.0, epochs=2, batch_size=32, verbose=0)
        return [weight.numpy() for weight in model.weights]

    plain = trained(keras.optimizers.AdamW(1e-2, weight_decay=0.01, clipnorm=1.0))
    fused = trained(fuse_adam(keras.optimizers.AdamW(1e-2, weight_decay=0.01, clipnorm=1.0)))
    for expected, got in zip(plain, fused, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_compiled_trial_uses_it_and_saves_a_plain_keras_adamw(tmp_path):
    """The study's AdamW and Adam are fused; the saved model's optimizer is Keras' own class, so
    the file loads with Keras alone, compile included."""
    dataset = load_dataset(DataConfig(source="builtin:breast_cancer", max_rows=120), seed=0)
    for name in ("adamw", "adam"):
        output = keras.layers.Dense(1, activation="sigmoid")
        model = keras.Sequential([keras.Input(dataset.input_shape), output])
        compile_model(model, TrainConfig(optimizer=name, weight_decay=1e-3, clipnorm=1.0), dataset)
        assert is_fused(model.optimizer)
    model.fit(dataset.x_train, dataset.y_train, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer) is keras.optimizers.Adam and not is_fused(loaded.optimizer)
