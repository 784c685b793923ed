"""ressearch: hyperparameter search for residual networks, Optuna studies over Keras 3 models.

The public API is re-exported here and loaded on first use, so that ``ressearch --help`` and
importing a config do not pay for TensorFlow.

Example:
    >>> import ressearch
    >>> config = ressearch.get_preset("resnet20")
    >>> ressearch.build_model(config).count_params()
    271098
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if TYPE_CHECKING:
    from ressearch.blocks import BLOCKS, get_block
    from ressearch.builder import build_model, summarize
    from ressearch.config import ArchitectureConfig, TrainConfig
    from ressearch.errors import (
        ConfigError,
        DataError,
        RessearchError,
        StorageError,
        StudyFileError,
        StudyNotFoundError,
        TrialFailed,
    )
    from ressearch.presets import get_preset, list_presets
    from ressearch.space import ArchitectureSpace, TrainSpace, sample, sample_train

__version__ = "0.1.0"

_EXPORTS = {
    "ArchitectureConfig": "ressearch.config",
    "TrainConfig": "ressearch.config",
    "BLOCKS": "ressearch.blocks",
    "get_block": "ressearch.blocks",
    "build_model": "ressearch.builder",
    "summarize": "ressearch.builder",
    "get_preset": "ressearch.presets",
    "list_presets": "ressearch.presets",
    "ArchitectureSpace": "ressearch.space",
    "TrainSpace": "ressearch.space",
    "sample": "ressearch.space",
    "sample_train": "ressearch.space",
    "ConfigError": "ressearch.errors",
    "DataError": "ressearch.errors",
    "RessearchError": "ressearch.errors",
    "StorageError": "ressearch.errors",
    "StudyFileError": "ressearch.errors",
    "StudyNotFoundError": "ressearch.errors",
    "TrialFailed": "ressearch.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ressearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
