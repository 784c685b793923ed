"""Parameter-efficient ensembles of dense networks: one network that acts as ``k`` (TabM).

Gorishniy et al., "TabM: Advancing Tabular Deep Learning with Parameter-Efficient Ensembling"
(ICLR 2025), after Wen et al.'s BatchEnsemble (2020). :class:`EnsembleView` copies each row to
the ``k`` members, ``(batch, d) -> (batch, k, d)``; every dense layer is a
:class:`BatchEnsembleDense`, one kernel shared by the members with a per-member scaling of its
input and output and a per-member bias; :class:`MemberDense` gives each member its own output
layer; :class:`EnsembleMean` averages the members' outputs (probabilities, or values) at
inference and hands the members through while training, so that :class:`EnsembleModel`
minimises the mean of the members' losses, not the loss of their mean (the members would
otherwise collapse into one network). Normalisation, dropout, activations and shortcuts work
on ``(batch, k, d)`` as they are: they act on the last axis (dropout draws per member; batch
normalisation shares its statistics among the members).

Only ``keras.layers``/``keras.ops``/``keras.random``; registered for serialization, so a saved
``model.keras`` loads wherever ``ressearch`` is importable and predicts ``(batch, outputs)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import keras
from keras import ops

__all__ = [
    "BatchEnsembleDense",
    "EnsembleMean",
    "EnsembleModel",
    "EnsembleView",
    "MemberDense",
    "Scaling",
]

_PACKAGE = "ressearch"

# How a per-member scaling starts. TabM: the first layer's input scaling from random signs (or a
# normal, one draw per feature, after numeric embeddings), every other scaling at ones, so the
# members differ before the first shared kernel and nowhere else at the start.
Scaling = Literal["ones", "random_signs", "normal"]


def _scaling(kind: Scaling, chunks: Sequence[int] | None) -> Callable[..., Any]:
    """An initializer of a ``(members, features)`` scaling: one draw per member and chunk of
    features (each chunk, e.g. one embedded column, shares its draw), repeated over the chunk."""

    def initialize(shape: tuple[int, ...], dtype: Any = None) -> Any:
        members, features = shape
        if kind == "ones":
            return ops.ones(shape, dtype=dtype)
        sizes = list(chunks) if chunks else [1] * features
        draws = keras.random.normal((members, len(sizes)), dtype=dtype)
        if kind == "random_signs":
            draws = ops.where(draws < 0, -1.0, 1.0)
        return ops.cast(ops.repeat(draws, sizes, axis=1), dtype)

    return initialize


def _members_axis(input_shape: Sequence[int | None], members: int, name: str) -> None:
    if len(input_shape) != 3 or input_shape[1] != members:
        raise ValueError(f"{name} takes (batch, {members} members, features), got shape {tuple(input_shape)}")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EnsembleView(keras.layers.Layer):
    """``(batch, features) -> (batch, members, features)``: each row, once per member."""

    def __init__(self, members: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.members = int(members)

    def call(self, inputs: Any) -> Any:
        return ops.repeat(ops.expand_dims(inputs, 1), self.members, axis=1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], self.members, *input_shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "members": self.members}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BatchEnsembleDense(keras.layers.Layer):
    """A dense layer shared by ``members`` networks: ``((x * r) @ kernel) * s + bias``.

    ``kernel`` ``(features, units)`` is shared; ``r`` ``(members, features)``, ``s``
    ``(members, units)`` and ``bias`` ``(members, units)`` belong to one member each, so a
    member costs ``features + 2 * units`` parameters (``features + units`` without a bias).
    ``scaling`` is how ``r`` starts (``s`` starts at ones); ``chunks``: feature groups that share
    one draw of ``r``. Input and output ``(batch, members, ...)``.
    """

    def __init__(
        self,
        units: int,
        members: int,
        use_bias: bool = True,
        scaling: Scaling = "ones",
        chunks: Sequence[int] | None = None,
        kernel_initializer: Any = "he_normal",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.members = int(members)
        self.use_bias = bool(use_bias)
        self.scaling: Scaling = scaling
        self.chunks = None if chunks is None else [int(size) for size in chunks]
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        _members_axis(input_shape, self.members, type(self).__name__)
        features = int(input_shape[-1])  # type: ignore[arg-type]
        if self.chunks is not None and sum(self.chunks) != features:
            raise ValueError(f"chunks {self.chunks} do not add up to the input's {features} features")
        self.kernel = self.add_weight(
            shape=(features, self.units), initializer=self.kernel_initializer, name="kernel"
        )
        self.r = self.add_weight(
            shape=(self.members, features), initializer=_scaling(self.scaling, self.chunks), name="r"
        )
        self.s = self.add_weight(shape=(self.members, self.units), initializer="ones", name="s")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.members, self.units), initializer="zeros", name="bias")

    def call(self, inputs: Any) -> Any:
        x = ops.matmul(inputs * self.r, self.kernel) * self.s
        return x if self.bias is None else x + self.bias

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "members": self.members,
            "use_bias": self.use_bias,
            "scaling": self.scaling,
            "chunks": self.chunks,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MemberDense(keras.layers.Layer):
    """A dense layer of its own for each of ``members`` networks (TabM's output layer).

    Kernel ``(members, features, units)`` and bias ``(members, units)``, initialised uniform in
    ``+-1/sqrt(features)`` like TabM's. Input and output ``(batch, members, ...)``.
    """

    def __init__(self, units: int, members: int, activation: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = int(units)
        self.members = int(members)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        _members_axis(input_shape, self.members, type(self).__name__)
        features = int(input_shape[-1])  # type: ignore[arg-type]
        bound = features**-0.5
        self.kernel = self.add_weight(
            shape=(self.members, features, self.units),
            initializer=keras.initializers.RandomUniform(-bound, bound),
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.members, self.units),
            initializer=keras.initializers.RandomUniform(-bound, bound),
            name="bias",
        )

    def call(self, inputs: Any) -> Any:
        return self.activation(ops.einsum("bmf,mfu->bmu", inputs, self.kernel) + self.bias)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "members": self.members,
            "activation": keras.activations.serialize(self.activation),
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EnsembleMean(keras.layers.Layer):
    """``(batch, members, outputs) -> (batch, outputs)``: the members' mean, at inference.

    While training it hands the members' outputs through, for :class:`EnsembleModel`'s loss.
    """

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if training:
            return inputs
        return ops.mean(inputs, axis=1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], *input_shape[2:])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EnsembleModel(keras.Model):
    """A functional model that ends in :class:`EnsembleMean`: trained on the members' mean loss.

    While training, the model's output holds one prediction per member, ``(batch, members,
    outputs)``; the compiled loss sees every member's prediction against the row's target (mean
    over members and rows), and the compiled metrics the members' mean. Evaluation, ``predict``
    and an exported SavedModel see ``(batch, outputs)``, the members' mean: mean probabilities
    for classification, mean values for regression (so ``val_loss`` is the loss of the mean).
    """

    def _per_member(self, y_pred: Any) -> bool:
        return y_pred is not None and len(y_pred.shape) == len(self.outputs[0].shape) + 1

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Any:
        if y is not None and self._per_member(y_pred):
            members = y_pred.shape[1]
            # Row-major: member predictions of row 0, then of row 1...; each target repeats alike.
            y_pred = ops.reshape(y_pred, (-1, *y_pred.shape[2:]))
            y = ops.repeat(y, members, axis=0)
            if sample_weight is not None:
                sample_weight = ops.repeat(sample_weight, members, axis=0)
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        if self._per_member(y_pred):
            y_pred = ops.mean(y_pred, axis=1)
        return super().compute_metrics(x, y, y_pred, sample_weight)
