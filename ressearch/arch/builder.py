"""``build_model(config) -> keras.Model``: stem, stages of blocks, RoR shortcuts, head.

Pure: no trial, no compile, no randomness beyond Keras' weight initialisers; layer names are
deterministic, so one config always gives the same graph and parameter count. Only
``keras.layers``/``keras.ops`` (and the registered layers in :mod:`ressearch.arch.layers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

from ressearch.arch.blocks import LayerKit, residual_block
from ressearch.arch.ensemble import (
    BatchEnsembleDense,
    EnsembleMean,
    EnsembleModel,
    EnsembleView,
    MemberDense,
)
from ressearch.arch.layers import (
    Columns,
    Destandardize,
    DropBlock,
    PeriodicEmbedding,
    PiecewiseLinearEmbedding,
)
from ressearch.config.architecture import ArchitectureConfig

__all__ = ["ModelSummary", "adapt_model", "build_model", "summarize"]

Tensor = Any


def _stage_strides(config: ArchitectureConfig) -> list[int]:
    """How much each stage shrinks the resolution (always 1 for dense inputs)."""
    if config.rank == 1:
        return [1] * config.stages
    if config.downsample == "stride":
        return [1] + [2] * (config.stages - 1)
    return [2] * (config.stages - 1) + [1]


def _stem(kit: LayerKit, inputs: Tensor) -> Tensor:
    config = kit.config
    x = kit.weight(
        inputs,
        config.first_width,
        kernel=config.stem_kernel_size,
        strides=config.stem_strides,
        name="stem_conv" if config.rank > 1 else "stem_dense",
        first=True,
    )
    # A pre-activation net starts each block with BN-ReLU, so its stem is the bare weight layer.
    if not config.uses_preactivation:
        x = kit.norm_act(x, "stem")
    if config.stem_pool and config.rank > 1:
        x = kit.max_pool(x, "stem_pool")
    return x


def _embed(config: ArchitectureConfig, inputs: Tensor) -> Tensor:
    """The continuous columns embedded and flattened, then the other columns as they are, then
    the embedded text columns."""
    if not config.categorical_columns:
        return _embed_numeric(config, inputs, list(range(config.input_shape[0])))
    categorical = [position for position, _ in config.categorical_columns]
    rest = [index for index in range(config.input_shape[0]) if index not in set(categorical)]
    parts = [_embed_numeric(config, Columns(rest, name="plain_columns")(inputs), rest)] if rest else []
    for position, size in config.categorical_columns:
        index = keras.ops.cast(Columns([position], name=f"category{position}_index")(inputs), "int32")
        vectors = keras.layers.Embedding(size, config.embedding_dim, name=f"category{position}_embed")(index)
        parts.append(keras.layers.Flatten(name=f"category{position}_flatten")(vectors))
    return parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="category_concat")(parts)


def _embed_numeric(config: ArchitectureConfig, inputs: Tensor, positions: list[int]) -> Tensor:
    """The continuous columns embedded and flattened, then the other columns as they are.

    ``inputs`` holds the input columns at ``positions`` (every column, or all but the text
    columns that are embedded)."""
    embedded = [positions.index(index) for index in config.embedded_columns if index in positions]
    if not embedded:
        return inputs
    columns = len(positions)
    x = inputs if len(embedded) == columns else Columns(list(embedded), name="embed_columns")(inputs)
    if config.numeric_embedding == "piecewise_linear":
        layer: keras.layers.Layer = PiecewiseLinearEmbedding(
            config.embedding_bins, config.embedding_dim, config.embedding_bins_from, name="embed"
        )
    else:
        units = config.embedding_dim if config.numeric_embedding == "plr" else None
        layer = PeriodicEmbedding(
            config.embedding_frequencies,
            config.embedding_sigma,
            units,
            lite=config.embedding_lite,
            name="embed",
        )
    x = keras.layers.Flatten(name="embed_flatten")(layer(x))
    others = [index for index in range(columns) if index not in set(embedded)]
    if not others:
        return x
    rest = Columns(others, name="embed_others")(inputs)
    return keras.layers.Concatenate(name="embed_concat")([x, rest])


def _head(kit: LayerKit, x: Tensor) -> Tensor:
    config = kit.config
    if config.uses_preactivation:
        x = kit.norm_act(x, "final")
    if config.rank == 2:
        x = keras.layers.GlobalAveragePooling1D(name="head_pool")(x)
    elif config.rank == 3:
        x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    for i, units in enumerate(config.head_units, start=1):
        x = kit.dense(x, units, f"head_dense{i}")
        x = kit.dropout(x, config.head_dropout, f"head_drop{i}")
    activation = "linear"
    if config.head == "classification":
        activation = "sigmoid" if config.outputs == 1 else "softmax"
    if kit.members > 1:
        return _member_head(config, x, activation)
    # float32 outputs keep losses stable under a mixed-precision policy.
    if not config.rescales_output:
        return keras.layers.Dense(config.outputs, activation=activation, dtype="float32", name="predictions")(
            x
        )
    x = keras.layers.Dense(config.outputs, activation=activation, dtype="float32", name="standardised")(x)
    return Destandardize(config.output_mean, config.output_std, dtype="float32", name="predictions")(x)


def _member_head(config: ArchitectureConfig, x: Tensor, activation: str) -> Tensor:
    """Each member's own output layer, then the members' mean (members as such while training)."""
    name = "member_standardised" if config.rescales_output else "member_predictions"
    x = MemberDense(config.outputs, config.ensemble_k, activation, dtype="float32", name=name)(x)
    if config.rescales_output:
        x = Destandardize(config.output_mean, config.output_std, dtype="float32", name="member_predictions")(
            x
        )
    return EnsembleMean(dtype="float32", name="predictions")(x)


def build_model(config: ArchitectureConfig) -> keras.Model:
    """Build the uncompiled Keras model that ``config`` describes.

    Example:
        >>> from ressearch import build_model, get_preset
        >>> build_model(get_preset("resnet20")).count_params()  # He et al.: 0.27M
        271098
    """
    kit = LayerKit(config)
    inputs = keras.Input(shape=config.input_shape, name="inputs")
    x = _embed(config, inputs)
    if config.ensemble_k > 1:  # the embedding is shared; the members part here
        x = EnsembleView(config.ensemble_k, name="ensemble_view")(x)
    x = _stem(kit, x)
    root_input = x
    total_blocks = sum(config.depths)
    block_index = 0
    strides = _stage_strides(config)
    for stage, (depth, width) in enumerate(zip(config.depths, config.widths, strict=True), 1):
        stage_input = x
        for block in range(1, depth + 1):
            block_index += 1
            name = f"stage{stage}_block{block}"
            x = residual_block(
                kit,
                x,
                width=width,
                strides=strides[stage - 1] if config.downsample == "stride" and block == 1 else 1,
                drop_path=config.stochastic_depth * block_index / total_blocks,
                name=name,
            )
            if config.dropblock_rate > 0:
                x = DropBlock(config.dropblock_rate, config.dropblock_size, name=f"{name}_dropblock")(x)
        if config.downsample == "maxpool" and strides[stage - 1] > 1:
            x = kit.max_pool(x, f"stage{stage}_pool")
        if config.ror_levels >= 2 and config.stages > 1:
            skip = kit.shortcut(stage_input, width, strides=strides[stage - 1], name=f"stage{stage}_ror")
            x = kit.add([skip, x], f"stage{stage}_ror_add")
    if config.ror_levels >= 1:
        total_stride = 1
        for stride in strides:
            total_stride *= stride
        skip = kit.shortcut(root_input, config.widths[-1], strides=total_stride, name="root_ror")
        x = kit.add([skip, x], "root_ror_add")
    outputs = _head(kit, x)
    if config.ensemble_k > 1:
        return EnsembleModel(inputs, outputs, name=config.name)
    return keras.Model(inputs, outputs, name=config.name)


def adapt_model(model: keras.Model, x_train: Any, y_train: Any = None, *, classify: bool = True) -> None:
    """Set what a built model takes from its training rows before it trains: the bin edges of a
    piecewise-linear embedding, quantiles of the training values of the columns it embeds, or
    (``embedding_bins_from: tree``) thresholds of a tree per column fitted on ``y_train``, the
    same rows' labels (class codes if ``classify``, else values).

    Call it with the training rows only (never validation rows), before ``fit``. The edges are
    weights, so they save with the model and a rebuild from config and weights is exact. A model
    without such a layer is left as it is.
    """
    for layer in model.layers:
        if isinstance(layer, PiecewiseLinearEmbedding):
            feed = keras.Model(model.input, layer.input)  # the columns the layer embeds
            layer.adapt(keras.ops.convert_to_numpy(feed(x_train)), y_train, classify=classify)


@dataclass(frozen=True)
class ModelSummary:
    """What a person wants to see of a built network."""

    name: str
    input_shape: tuple[int, ...]
    outputs: int
    block_type: str
    stages: int
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    weight_layers: int
    model_params: int
    trainable_params: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "outputs": self.outputs,
            "block_type": self.block_type,
            "stages": self.stages,
            "depths": list(self.depths),
            "widths": list(self.widths),
            "weight_layers": self.weight_layers,
            "model_params": self.model_params,
            "trainable_params": self.trainable_params,
        }


def summarize(config: ArchitectureConfig, model: keras.Model | None = None) -> ModelSummary:
    """Parameter counts and shape of the network ``config`` describes (built if not given)."""
    model = model if model is not None else build_model(config)
    weight_layers = sum(
        1
        for layer in model.layers
        if isinstance(
            layer,
            keras.layers.Dense | keras.layers.Conv1D | keras.layers.Conv2D | BatchEnsembleDense | MemberDense,
        )
        and not layer.name.endswith("_proj")
    )
    trainable = sum(int(keras.ops.size(weight)) for weight in model.trainable_weights)
    return ModelSummary(
        name=config.name,
        input_shape=config.input_shape,
        outputs=config.outputs,
        block_type=config.block_type,
        stages=config.stages,
        depths=config.depths,
        widths=config.widths,
        weight_layers=weight_layers,
        model_params=model.count_params(),
        trainable_params=trainable,
    )
