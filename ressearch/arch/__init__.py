"""Networks from configs: layers, residual blocks, the pure ``build_model``; KerasTuner
hypermodels by reference (:mod:`ressearch.arch.hypermodel`, imported on use: it loads KerasTuner).

Keras (``keras.layers``/``keras.ops``, and KerasTuner for hypermodels) and the config layer only:
must not import Optuna, the data, training, storage, search, results or CLI layers.
"""

from ressearch.arch.blocks import LayerKit, residual_block
from ressearch.arch.builder import ModelSummary, adapt_model, build_model, summarize
from ressearch.arch.ensemble import (
    BatchEnsembleDense,
    EnsembleMean,
    EnsembleModel,
    EnsembleView,
    MemberDense,
)
from ressearch.arch.layers import (
    ChannelPad,
    Columns,
    Destandardize,
    DropBlock,
    FillMissing,
    PeriodicEmbedding,
    PiecewiseLinearEmbedding,
    QuantileScaling,
    SmoothClip,
    StochasticDepth,
)
from ressearch.arch.preprocessing import with_raw_inputs

__all__ = [
    "BatchEnsembleDense",
    "ChannelPad",
    "Columns",
    "Destandardize",
    "DropBlock",
    "EnsembleMean",
    "EnsembleModel",
    "EnsembleView",
    "FillMissing",
    "LayerKit",
    "MemberDense",
    "ModelSummary",
    "PeriodicEmbedding",
    "PiecewiseLinearEmbedding",
    "QuantileScaling",
    "SmoothClip",
    "StochasticDepth",
    "adapt_model",
    "build_model",
    "residual_block",
    "summarize",
    "with_raw_inputs",
]
