"""The counted train and test functions: Keras' numbers to the bit, in a smaller trace."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.data import DataConfig, load_dataset
from ressearch.training import fit as fitting
from ressearch.training.steps import counted_steps, keras_steps

pytestmark = pytest.mark.slow


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype("float32")
    return x, (x[:, :1] + x[:, 1:2] > 0).astype("float32")


def _fitted(counted: bool) -> tuple[keras.Model, dict[str, list[float]], int]:
    """A small classifier fitted 3 epochs on 300 rows in batches of 32 (10 a epoch, so calls of
    4, 4 and 2 steps), validated on 70 rows (3 batches); its history and the counter's count."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy"),
            keras.metrics.AUC(from_logits=True, name="auc"),
        ],
        steps_per_execution=4,
    )
    x, y = _data()
    counter = counted_steps(model, train_steps=10, validation_steps=3) if counted else None
    history = model.fit(
        x[:300],
        y[:300],
        batch_size=32,
        epochs=3,
        shuffle=False,
        validation_data=(x[:70] * 0.5, y[:70]),
        callbacks=[counter] if counter else [],
        verbose=0,
    )
    done = counter.train.done if counter else 0
    if counter:
        keras_steps(model)
    return model, history.history, done


def test_counted_steps_train_and_validate_to_the_bit_as_keras_does():
    model, history, done = _fitted(counted=True)
    keras_model, keras_history, _ = _fitted(counted=False)
    assert done == 10  # the last epoch ran its 10 batches, in calls of 4, 4 and 2
    assert history == keras_history  # loss, accuracy, AUC and their val_ twins, every epoch
    for got, expected in zip(model.weights, keras_model.weights, strict=True):
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert history["loss"][-1] < history["loss"][0]


def test_after_fit_keras_own_functions_evaluate_other_rows():
    model, history, _ = _fitted(counted=True)
    assert model.train_function is None and model.test_function is None
    x, y = _data()
    keras.utils.set_random_seed(1)
    logs = model.evaluate(
        x[:70] * 0.5, y[:70], batch_size=7, verbose=0, return_dict=True
    )  # 10 batches, not 3
    assert logs["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-5)


def _graph(function: object) -> tuple[int, int]:
    """The functions in a traced tf.function's graph (its own and those it calls) and their inputs."""
    concrete = function._list_all_concrete_functions()[0]  # type: ignore[attr-defined]
    library = concrete.graph.as_graph_def().library.function
    return len(library) + 1, len(concrete.graph.inputs) + sum(len(f.signature.input_arg) for f in library)


def test_the_counted_train_function_traces_fewer_functions_and_captures():
    """Keras' wrapper runs each step inside a tf.cond (and fetches inside another), each a
    function of its own whose inputs capture the variables again: the counted train function's
    graph has half the functions and fewer inputs."""
    keras_model, _, _ = _fitted(counted=False)
    cells = [cell.cell_contents for cell in keras_model.train_function.__closure__]
    (keras_step,) = [cell for cell in cells if getattr(cell, "__name__", "") == "multi_step_on_iterator"]
    model, _, _ = _fitted(counted=True)
    (keras_functions, keras_inputs), (functions, inputs) = (
        _graph(keras_step),
        _graph(model._ressearch_counted_steps[0]._run),
    )
    assert functions * 2 <= keras_functions, (functions, keras_functions)  # 4 against 8 here
    assert inputs < 0.8 * keras_inputs, (inputs, keras_inputs)  # 108 against 155


def test_one_step_an_execution_keeps_keras_own():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(loss="mse")  # steps_per_execution 1: no loop to spare
    assert counted_steps(model, train_steps=5) is None
    assert model.train_function is None


def test_a_trial_trains_through_them_traced_once():
    """train_trial installs them for Keras' fit: every epoch runs the counted function, whose loop
    was traced once (not Keras' own, which it falls back to for an iterator not tf.data's)."""
    dataset = load_dataset(DataConfig(source="builtin:breast_cancer"), seed=0)
    config = ArchitectureConfig(
        input_shape=dataset.input_shape, outputs=dataset.outputs, depths=(1,), widths=(8,)
    )
    train = TrainConfig(epochs=2, batch_size=64)
    seen: list[object] = []

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.train_function)

    result = fitting.train_trial(
        config,
        train,
        dataset,
        seed=0,
        callbacks=[Spy()],
        runtime=fitting.Runtime(steps_per_execution=4, pipeline="tf.data"),
    )
    assert len(seen) == 2 and seen[0] is seen[1] and type(seen[0]).__name__ == "_ExactSteps"
    assert seen[0]._run.experimental_get_tracing_count() == 1  # type: ignore[attr-defined]
    assert seen[0]._keras is None  # type: ignore[attr-defined]
    assert 0.5 < result.metrics["val_accuracy"] <= 1.0
