"""Adam and AdamW with a smaller update graph: the same optimizer, traced in fewer operations.

Keras 3 on TensorFlow builds Adam's update one variable at a time, each through
``tf.distribute``'s update machinery: about 60 graph operations a variable with ``clipnorm``
and weight decay (a ``tabular`` trial's 25 variables: 1,553 of the ~3,700 operations of its
train step). Every trial traces its train step anew, and tracing costs about 0.3 ms an
operation on this machine's CPU, so the optimizer alone was a large part of each trial's start.

:func:`fuse_adam` gives one optimizer instance an update that computes the step's scalars once
and updates each variable with TensorFlow's fused Adam kernel (``ResourceApplyAdam``: the same
formulas as Keras' ``Adam.update_step``), after the same per-variable ``clipnorm`` and the same
decoupled weight decay: about 11 operations a variable. The optimizer stays the Keras class it
was (its config, its variables, its saved form), so a saved model loads without ressearch; only
the graph it traces is smaller; a moving average of the weights (``use_ema``) is Keras' own,
updated after the step as Keras does. Anything the short path does not cover (gradient
accumulation, EMA written into the weights every N steps, ``global_clipnorm``, ``clipvalue``,
AMSGrad, a distribution strategy, the sparse gradient of an embedding layer, whose slices Keras
clips as they are) keeps Keras' own path.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

__all__ = ["fuse_adam", "is_fused"]

_FUSED = "_ressearch_fused_adam"


def fuse_adam(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """``optimizer`` (changed in place and returned) with the fused update, when it is an Adam
    or AdamW the fused update covers; any other optimizer is returned unchanged.

    Example:
        >>> is_fused(fuse_adam(keras.optimizers.AdamW(clipnorm=1.0)))
        True
        >>> is_fused(fuse_adam(keras.optimizers.Adam(amsgrad=True)))
        False
    """
    if not isinstance(optimizer, keras.optimizers.Adam) or optimizer.amsgrad:
        return optimizer
    if optimizer.gradient_accumulation_steps or (optimizer.use_ema and optimizer.ema_overwrite_frequency):
        return optimizer
    if optimizer.global_clipnorm or optimizer.clipvalue:
        return optimizer
    fused = types.MethodType(_make_apply(optimizer._backend_apply_gradients), optimizer)
    object.__setattr__(optimizer, "_backend_apply_gradients", fused)
    object.__setattr__(optimizer, _FUSED, True)
    return optimizer


def is_fused(optimizer: keras.optimizers.Optimizer) -> bool:
    """Whether :func:`fuse_adam` gave ``optimizer`` the fused update."""
    return bool(getattr(optimizer, _FUSED, False))


def _make_apply(keras_path: Any) -> Any:
    def apply(self: keras.optimizers.Adam, grads: Sequence[Any], variables: Sequence[Any]) -> None:
        if tf.distribute.has_strategy():
            return keras_path(grads, variables)  # Keras' path sums the replicas' gradients
        if any(isinstance(grad, tf.IndexedSlices) for grad in grads):
            return keras_path(grads, variables)  # an embedding's rows: Keras clips the slices
        scalars: dict[tf.DType, tuple[Any, ...]] = {}
        for grad, variable in zip(grads, variables, strict=True):
            value = variable.value if isinstance(variable, keras.Variable) else variable
            dtype = value.dtype
            if dtype not in scalars:
                scalars[dtype] = _step_scalars(self, dtype)
            lr, decay, beta_1, beta_2, beta_1_power, beta_2_power, epsilon = scalars[dtype]
            grad = tf.cast(grad, dtype)
            if self.clipnorm:  # tf.clip_by_norm's formula: grad * clipnorm / max(norm, clipnorm)
                clip = tf.cast(self.clipnorm, dtype)
                norm = tf.sqrt(tf.reduce_sum(tf.square(grad)))
                grad = grad * clip / tf.maximum(norm, clip)
            if decay is not None and self._use_weight_decay(variable):
                value.assign_sub(value * decay * lr)  # Keras: variable - variable * wd * lr
            index = self._get_variable_index(variable)
            tf.raw_ops.ResourceApplyAdam(
                var=value.handle,
                m=self._momentums[index].value.handle,
                v=self._velocities[index].value.handle,
                beta1_power=beta_1_power,
                beta2_power=beta_2_power,
                lr=lr,
                beta1=beta_1,
                beta2=beta_2,
                epsilon=epsilon,
                grad=grad,
            )
        if self.use_ema:  # Keras' own moving average, after the step as in Keras' path
            self._update_model_variables_moving_average(self._trainable_variables)
        return None

    return apply


def _step_scalars(optimizer: keras.optimizers.Adam, dtype: tf.DType) -> tuple[Any, ...]:
    """The step's learning rate, weight decay, betas, their powers and epsilon in ``dtype``,
    computed as ``Adam.update_step`` computes them."""
    lr = tf.cast(optimizer.learning_rate, dtype)
    step = tf.cast(optimizer.iterations + 1, dtype)
    beta_1 = tf.cast(optimizer.beta_1, dtype)
    beta_2 = tf.cast(optimizer.beta_2, dtype)
    decay = None if optimizer.weight_decay is None else tf.cast(optimizer.weight_decay, dtype)
    return (
        lr,
        decay,
        beta_1,
        beta_2,
        tf.pow(beta_1, step),
        tf.pow(beta_2, step),
        tf.cast(optimizer.epsilon, dtype),
    )
