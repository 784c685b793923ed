"""One model from several trained ones: the mean of their outputs (``export --ensemble``).

Keras only: the members are trained models that take the same inputs; the averaged model holds
each as a nested model and returns the mean of what they return (class probabilities, or values
in the target's units), so it saves as one ``.keras`` file or SavedModel and predicts like any
of them. Must not know of trials, studies or data.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from ressearch.errors import ConfigError

__all__ = ["average_models"]


def average_models(models: Sequence[keras.Model], *, names: Sequence[str] | None = None) -> keras.Model:
    """A model whose output is the mean of ``models``' outputs, row by row.

    ``names`` name the nested members (default ``member_0``, ...): layer names in one model must
    be unique, and models loaded from files often share theirs.

    Example:
        >>> import numpy as np
        >>> def member(bias):
        ...     inputs = keras.Input((2,))
        ...     bias = keras.initializers.Constant(bias)
        ...     return keras.Model(inputs, keras.layers.Dense(1, bias_initializer=bias)(inputs))
        >>> averaged = average_models([member(1.0), member(3.0)])
        >>> x = np.zeros((1, 2), dtype="float32")
        >>> float(averaged.predict(x, verbose=0)[0, 0])
        2.0

    Raises:
        ConfigError: fewer than two models, or models whose input or output shapes differ.
    """
    if len(models) < 2:
        raise ConfigError(f"an average needs at least two models, got {len(models)}")
    names = list(names) if names is not None else [f"member_{index}" for index in range(len(models))]
    if len(names) != len(models) or len(set(names)) != len(names):
        raise ConfigError(f"one unique name per model is needed, got {names} for {len(models)} models")
    shapes = {(_shape(model.inputs), _shape(model.outputs)) for model in models}
    if len(shapes) > 1:
        described = "; ".join(f"inputs {inputs} -> outputs {outputs}" for inputs, outputs in sorted(shapes))
        raise ConfigError(f"the models to average take or give different shapes ({described})")
    if len(models[0].inputs) != 1 or len(models[0].outputs) != 1:
        raise ConfigError("only models with one input and one output can be averaged")
    inputs = keras.Input(models[0].inputs[0].shape[1:], name="inputs", dtype=models[0].inputs[0].dtype)
    outputs = []
    for model, name in zip(models, names, strict=True):
        model.name = name
        outputs.append(model(inputs))
    mean = keras.layers.Average(name="mean", dtype="float32")(outputs)  # float32 as each output layer
    return keras.Model(inputs, mean, name="ensemble")


def _shape(tensors: Sequence[keras.KerasTensor]) -> str:
    return ", ".join(str(tuple(tensor.shape[1:])) for tensor in tensors)
