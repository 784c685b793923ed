"""The fast training path: automatic defaults per device, and the same numerics on every switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.config import RuntimeConfig
from ressearch.data import DataConfig, load_dataset
from ressearch.training import train_trial
from ressearch.training.speed import DeviceFacts, Runtime, resolve_runtime

CPU_ONLY = DeviceFacts()
TENSOR_CORES = DeviceFacts(gpus=1, compute_capability=(9, 0))  # an H100/H200 (cannot exist here)
OLD_GPU = DeviceFacts(gpus=2, compute_capability=(6, 1))  # a Pascal card: no tensor cores


def test_every_automatic_default_is_float32_without_xla_or_grappler_in_a_cpu_only_process():
    """The real devices of a real process that sees no GPU (as on this machine, or a CPU worker)."""
    code = (
        "import json; from ressearch.config import RuntimeConfig;"
        "from ressearch.training.speed import device_facts, resolve_runtime;"
        "facts = device_facts(); runtime = resolve_runtime(RuntimeConfig(), facts);"
        "print(json.dumps([facts.gpus, runtime.precision, runtime.jit_compile,"
        " runtime.steps_per_execution, runtime.pipeline, runtime.on_device, runtime.graph_optimizer]))"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    expected = [0, "float32", False, 16, "tf.data", False, False]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected


def test_a_cpu_trains_through_a_pipeline_and_keeps_arrays_over_1_gib():
    """``auto`` on a CPU feeds the training rows through the pipeline (Keras made a new iterator
    over arrays every epoch); arrays over 1 GiB keep Keras' slicing there, where the pipeline's
    cache and shuffle buffer would copy them twice, unless the study file asks for tf.data."""
    import tensorflow as tf

    runtime = resolve_runtime(RuntimeConfig(), CPU_ONLY)
    x, y = np.arange(30, dtype=np.float32).reshape(10, 3), np.arange(10, dtype=np.float32)
    pipeline, none, feeding = runtime.fit_inputs(x, y, batch_size=4, seed=0)
    assert isinstance(pipeline, tf.data.Dataset) and none is None and feeding == {"shuffle": False}
    epochs = [
        [(row[0], label) for xs, ys in pipeline for row, label in zip(xs.numpy(), ys.numpy(), strict=True)]
        for _ in "ab"
    ]
    for rows in epochs:  # every row once an epoch, with its label, in batches of 4
        assert sorted(rows) == [(3.0 * i, float(i)) for i in range(10)]
    assert epochs[0] != epochs[1]  # reshuffled every epoch
    huge = np.zeros((1 << 28) + 1, dtype=np.float32)  # reserved, never touched
    assert runtime.fit_inputs(huge, huge[:1], batch_size=4, seed=0)[0] is huge
    asked = resolve_runtime(RuntimeConfig(pipeline="tf.data"), CPU_ONLY)
    assert (
        not asked.arrays_when_large and not resolve_runtime(RuntimeConfig(), TENSOR_CORES).arrays_when_large
    )


def test_automatic_defaults_on_gpus():
    fast = resolve_runtime(RuntimeConfig(), TENSOR_CORES)
    assert fast == Runtime("mixed_float16", True, 32, "tf.data", on_device=True, graph_optimizer=True)
    assert resolve_runtime(RuntimeConfig(), OLD_GPU).precision == "float32"  # no tensor cores
    assert resolve_runtime(RuntimeConfig(), OLD_GPU).jit_compile


def test_a_switch_set_in_the_study_file_wins_over_auto():
    config = RuntimeConfig(precision="float32", jit_compile=False, steps_per_execution=4, pipeline="arrays")
    assert resolve_runtime(config, TENSOR_CORES) == Runtime("float32", False, 4, "arrays", on_device=False)
    assert resolve_runtime(RuntimeConfig(pipeline="tf.data"), CPU_ONLY).on_device is False
    assert resolve_runtime(RuntimeConfig(graph_optimizer=True), CPU_ONLY).graph_optimizer is True
    assert resolve_runtime(RuntimeConfig(graph_optimizer=False), TENSOR_CORES).graph_optimizer is False


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(source="builtin:digits", max_rows=400, flatten=True), seed=0)


def _fit(digits, runtime: Runtime, epochs: int = 2):
    config = ArchitectureConfig(
        input_shape=digits.input_shape, outputs=digits.outputs, depths=(1,), widths=(32,)
    )
    return train_trial(config, TrainConfig(epochs=epochs, batch_size=32), digits, seed=0, runtime=runtime)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_to_the_losses_of_float32(digits, precision):
    """float16 keeps ~3 significant digits (bfloat16 ~2): losses agree within 2 % (5 % for
    bfloat16) after two epochs; the model's variables and output stay float32."""
    reference = _fit(digits, Runtime())
    mixed = _fit(digits, Runtime(precision=precision))
    tolerance = 0.02 if precision == "mixed_float16" else 0.05
    np.testing.assert_allclose(mixed.curve["loss"], reference.curve["loss"], rtol=tolerance)
    np.testing.assert_allclose(mixed.curve["val_loss"], reference.curve["val_loss"], rtol=tolerance)
    assert abs(mixed.metrics["val_accuracy"] - reference.metrics["val_accuracy"]) <= 0.05


@pytest.mark.slow
def test_xla_steps_per_execution_grappler_and_tf_data_give_the_same_training(digits):
    """The same maths, run differently: XLA and several steps per call, or no graph optimizer,
    leave the losses equal to float rounding; the tf.data pipeline shuffles in its own order, so
    it agrees loosely."""
    reference = _fit(digits, Runtime())
    fused = _fit(digits, Runtime(jit_compile=True, steps_per_execution=4))
    np.testing.assert_allclose(fused.curve["loss"], reference.curve["loss"], rtol=1e-3)
    bare = _fit(digits, Runtime(graph_optimizer=False))  # no Grappler: fusions only reorder rounding
    np.testing.assert_allclose(bare.curve["loss"], reference.curve["loss"], rtol=1e-3)
    piped = _fit(digits, Runtime(pipeline="tf.data"))
    assert piped.curve["loss"][-1] < piped.curve["loss"][0]
    np.testing.assert_allclose(piped.curve["val_loss"], reference.curve["val_loss"], rtol=0.15)


def test_a_trial_sets_the_graph_optimizer_its_runtime_asks_for(digits):
    """A process-wide TensorFlow switch: each trial sets it, so a trial without Grappler does not
    leave the next trial (another runtime, in the same worker) without it."""
    import tensorflow as tf

    _fit(digits, Runtime(graph_optimizer=False), epochs=1)
    assert tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer") is True
    _fit(digits, Runtime(), epochs=1)
    assert tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer") is False


def test_a_builders_own_fit_gets_the_arrays_on_a_cpu(digits):
    """A KerasTuner hypermodel's ``fit`` takes what Keras takes (it may pass ``batch_size``):
    the arrays, where ``auto`` picked the pipeline for a CPU."""
    seen = []

    def own_fit(model, x, y, **kwargs):
        seen.append((x, kwargs.get("batch_size")))
        return model.fit(x, y, **kwargs)

    config = ArchitectureConfig(
        input_shape=digits.input_shape, outputs=digits.outputs, depths=(1,), widths=(8,)
    )
    runtime = resolve_runtime(RuntimeConfig(), CPU_ONLY)
    train_trial(config, TrainConfig(epochs=1, batch_size=32), digits, seed=0, runtime=runtime, fit=own_fit)
    assert seen[0][0] is digits.x_train and seen[0][1] == 32


def test_the_validation_pass_scores_the_same_through_its_pipeline(digits):
    """``fit`` validates through a batched pipeline of the validation rows, in their order: the
    same batches as Keras cuts from the arrays (which a builder's own fit still gets), so the
    same metrics; only the cost of each pass's iterator differs."""
    piped = _fit(digits, Runtime(), epochs=2)
    config = ArchitectureConfig(
        input_shape=digits.input_shape, outputs=digits.outputs, depths=(1,), widths=(32,)
    )
    arrays = train_trial(
        config,
        TrainConfig(epochs=2, batch_size=32),
        digits,
        seed=0,
        runtime=Runtime(),
        fit=lambda model, *args, **kwargs: model.fit(*args, **kwargs),
    )
    for name in ("val_loss", "val_accuracy"):
        np.testing.assert_allclose(piped.curve[name], arrays.curve[name], rtol=1e-6)
    np.testing.assert_allclose(piped.curve["loss"], arrays.curve["loss"], rtol=1e-6)
    import tensorflow as tf

    assert isinstance(Runtime().validation_inputs(digits.x_val, digits.y_val, batch_size=32), tf.data.Dataset)
    # Validation rows over 1 GiB stay arrays (zeros: reserved, never touched).
    huge = np.zeros((1 << 28) + 1, dtype=np.float32)
    assert Runtime().validation_inputs(huge, huge[:1], batch_size=32)[0] is huge
