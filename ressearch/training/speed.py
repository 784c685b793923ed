"""The fast training path: a study's ``runtime:`` switches resolved for the devices in sight.

``resolve_runtime`` turns every ``auto`` into a concrete choice from what TensorFlow sees (the
worker's ``CUDA_VISIBLE_DEVICES`` is set before TensorFlow loads), and ``Runtime`` applies it:
the Keras dtype policy and TensorFlow's graph optimizer before the model is built,
``jit_compile`` and ``steps_per_execution`` when it is compiled, and the batches ``fit`` gets
(``fit_inputs``).

    CPU only          float32, no XLA, 16 steps per execution, tf.data, no Grappler
    GPU, tensor cores mixed_float16, XLA, 32 steps per execution, tf.data on the device, Grappler
    GPU, older        float32, XLA, 32 steps per execution, tf.data on the device, Grappler

Grappler (TensorFlow's graph optimizer) rewrites every compiled function when it is first
called. On this project's 2-core CPU a tabular trial's first epoch took a fifth less time
without it (3.79 -> 3.00 s; a conv ResNet's 3.40 -> 2.89 s, benchmarks/first_step.py) and
later epochs no longer; on a GPU its fusions and layout changes are what the kernels are tuned
for, so it stays on there (not measured: the GPU machine lent to this project has no
TensorFlow, and its wheels are too large to carry there).

Keras only (and TensorFlow for the device facts and the pipeline): no Optuna, no storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from ressearch.config.runtime import RuntimeConfig

__all__ = ["DeviceFacts", "Runtime", "device_facts", "resolve_runtime"]

_TENSOR_CORES = (7, 0)  # Volta and newer run float16 matrix maths on tensor cores
# Batches per call into the compiled step: fewer Python round trips per epoch. On this project's
# 2-core CPU, 16 gave dense nets 10-40 % more samples/s and conv nets 2-20 % (throughput.py).
_CPU_STEPS_PER_EXECUTION = 16
_GPU_STEPS_PER_EXECUTION = 32
_ON_DEVICE_BYTES = 1 << 30  # training arrays up to 1 GiB are kept in GPU memory


@dataclass(frozen=True)
class DeviceFacts:
    """What the runtime depends on: the GPUs this process sees and their compute capabilities."""

    gpus: int = 0
    compute_capability: tuple[int, int] | None = None  # of the first GPU


def device_facts() -> DeviceFacts:
    """The GPUs TensorFlow sees in this process (none on a CPU-only machine)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return DeviceFacts()
    details = tf.config.experimental.get_device_details(gpus[0])
    capability = details.get("compute_capability")
    return DeviceFacts(len(gpus), tuple(capability) if capability else None)


@dataclass(frozen=True)
class Runtime:
    """A runtime with every switch decided; the defaults are Keras' own (no switch on)."""

    precision: str = "float32"
    jit_compile: bool = False
    steps_per_execution: int = 1
    pipeline: str = "arrays"
    on_device: bool = False  # tf.data: the arrays copied to the GPU once, not every epoch
    # tf.data chosen by ``auto`` on a CPU: training arrays over 1 GiB keep Keras' slicing (the
    # pipeline's cache and shuffle buffer would each hold another copy of them in memory).
    arrays_when_large: bool = False
    graph_optimizer: bool = True  # TensorFlow's Grappler, on unless turned off

    def apply_precision(self) -> None:
        """Set the Keras dtype policy for the next models built (the output layer stays float32)."""
        keras.mixed_precision.set_dtype_policy(self.precision)

    def apply_graph_optimizer(self) -> None:
        """Turn TensorFlow's graph optimizer on or off for the functions compiled from now on
        (a process-wide switch, read when a function is first called)."""
        import tensorflow as tf

        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": not self.graph_optimizer})

    def compile_options(self) -> dict[str, Any]:
        return {"jit_compile": self.jit_compile, "steps_per_execution": self.steps_per_execution}

    def apply_to_compiled(self, model: keras.Model) -> None:
        """XLA and steps per execution for a model compiled elsewhere (a KerasTuner hypermodel
        compiles its own): Keras reads both when ``fit`` first builds its train step."""
        model.jit_compile = self.jit_compile
        model.steps_per_execution = self.steps_per_execution

    def fit_inputs(
        self, x: np.ndarray, y: np.ndarray, *, batch_size: int, seed: int
    ) -> tuple[Any, Any, dict[str, Any]]:
        """``x``, ``y`` and the ``fit`` arguments that go with them: the arrays as they are, or a
        cached, shuffled (reshuffled each epoch), batched and prefetched ``tf.data`` pipeline.
        On a CPU the pipeline saves Keras' making a new iterator over the arrays every epoch
        (about 8 ms here: four fixed arrests trials, 100 epochs, 25.4 -> 25.1 s and 24.0 -> 22.6 s, README,
        "Where a trial's time goes")."""
        large = x.nbytes + y.nbytes > _ON_DEVICE_BYTES
        if self.pipeline == "arrays" or (self.arrays_when_large and large):
            return x, y, {"batch_size": batch_size, "shuffle": True}
        import tensorflow as tf

        device = "/GPU:0" if self.on_device and not large else "/CPU:0"
        with tf.device(device):
            tensors = (tf.constant(x), tf.constant(y))
        pipeline = (
            tf.data.Dataset.from_tensor_slices(tensors)
            .cache()
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        return pipeline, None, {"shuffle": False}  # the pipeline reshuffles every epoch itself

    def validation_inputs(self, x: np.ndarray, y: np.ndarray, *, batch_size: int) -> Any:
        """The validation rows for ``fit``'s pass at the end of each epoch: a ``tf.data`` pipeline
        of the same batches, in the same order, that Keras would cut from the arrays (so the same
        metrics), or the arrays themselves where they are over 1 GiB. Keras makes a new iterator
        over arrays for every pass, about 9 ms on this machine's CPU against 0.4 ms for the
        pipeline's (README, "Where a trial's time goes")."""
        if x.nbytes + y.nbytes > _ON_DEVICE_BYTES:
            return x, y
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)

    def describe(self) -> str:
        """One line for the run's start-up output."""
        xla = "XLA" if self.jit_compile else "no XLA"
        where = ", on the device" if self.on_device else ""
        grappler = "" if self.graph_optimizer else ", no Grappler"
        return (
            f"{self.precision}, {xla}, steps_per_execution={self.steps_per_execution}, "
            f"{self.pipeline}{where}{grappler}"
        )


def resolve_runtime(config: RuntimeConfig, facts: DeviceFacts | None = None) -> Runtime:
    """Every ``auto`` of ``config`` decided for ``facts`` (by default the devices in sight).

    Example:
        >>> resolve_runtime(RuntimeConfig(), DeviceFacts()).describe()
        'float32, no XLA, steps_per_execution=16, tf.data, no Grappler'

        >>> resolve_runtime(RuntimeConfig(), DeviceFacts(gpus=1, compute_capability=(9, 0))).precision
        'mixed_float16'
    """
    facts = device_facts() if facts is None else facts
    gpu = facts.gpus > 0
    tensor_cores = gpu and facts.compute_capability is not None and facts.compute_capability >= _TENSOR_CORES
    precision = config.precision
    if precision == "auto":
        precision = "mixed_float16" if tensor_cores else "float32"
    jit = config.jit_compile if config.jit_compile != "auto" else gpu
    steps = config.steps_per_execution
    if steps == "auto":
        steps = _GPU_STEPS_PER_EXECUTION if gpu else _CPU_STEPS_PER_EXECUTION
    pipeline = "tf.data" if config.pipeline == "auto" else config.pipeline
    graph_optimizer = config.graph_optimizer if config.graph_optimizer != "auto" else gpu
    return Runtime(
        precision=precision,
        jit_compile=bool(jit),
        steps_per_execution=int(steps),
        pipeline=pipeline,
        on_device=gpu and pipeline == "tf.data",
        arrays_when_large=config.pipeline == "auto" and not gpu,
        graph_optimizer=bool(graph_optimizer),
    )
