"""The ``runtime:`` section of a study file: how trials use the hardware, not what they train.

Every switch defaults to ``auto``, which ``ressearch.training.speed.resolve_runtime`` turns into
what is right for the devices a worker sees: on a CPU-only machine float32, no XLA, 16 steps
per execution, Keras' own array feeding and no Grappler graph optimizer; on a GPU mixed
precision (where it has tensor cores), XLA, several steps per execution, a ``tf.data`` pipeline
with the data kept on the device, and Grappler on. A runtime changes speed, not the search: a
study can be resumed with another one.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from ressearch.config.base import FrozenConfig

__all__ = ["Precision", "RuntimeConfig"]

Precision = Literal["float32", "mixed_float16", "mixed_bfloat16"]


class RuntimeConfig(FrozenConfig):
    """How trials run on the hardware; ``auto`` everywhere by default.

    Example:
        >>> RuntimeConfig(precision="float32", steps_per_execution=8).jit_compile
        'auto'
    """

    _label: ClassVar[str] = "runtime"

    # float32, or mixed precision: float16 (GPUs with tensor cores; Keras scales the loss) or
    # bfloat16 (no loss scaling needed); the output layer stays float32 either way.
    precision: Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"] = "auto"
    jit_compile: Literal["auto"] | bool = "auto"  # XLA-compile the train and test steps
    # Batches run per call into the compiled step: fewer Python round trips for small models.
    steps_per_execution: Literal["auto"] | Annotated[int, Field(ge=1, le=1024)] = "auto"
    # How batches reach the model: Keras' own slicing of arrays, or a tf.data pipeline (cached,
    # shuffled, batched, prefetched; the arrays kept on the GPU where they fit).
    pipeline: Literal["auto", "arrays", "tf.data"] = "auto"
    # TensorFlow's graph optimizer (Grappler: constant folding, op fusion, layout changes), run on
    # every compiled function as it is first called. On a CPU it costs more than it saves for
    # the small models of a search (benchmarks/first_step.py): auto turns it off there.
    graph_optimizer: Literal["auto"] | bool = "auto"
