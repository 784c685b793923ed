"""ressearch: hyperparameter search for residual networks, Optuna studies over Keras 3 models.

The public API is re-exported here and loaded on first use, so that ``ressearch --help`` and
importing a config do not pay for TensorFlow. Importing changes no global state (environment,
warning filters, log levels): entry points call :func:`configure_runtime`.

Example:
    >>> import ressearch
    >>> config = ressearch.get_preset("resnet20")
    >>> ressearch.build_model(config).count_params()
    271098
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ressearch._version import __version__
from ressearch.runtime import lazy_exports

if TYPE_CHECKING:
    from ressearch.arch import build_model, summarize
    from ressearch.config import (
        BLOCKS,
        ArchitectureConfig,
        ArchitectureSpace,
        BlockFamily,
        DataConfig,
        StudyDefinition,
        TrainConfig,
        TrainSpace,
        get_block,
        get_preset,
        list_presets,
        load_study_file,
        register_block,
    )
    from ressearch.data import Dataset, apply_preprocessing, load_dataset
    from ressearch.errors import (
        ConfigError,
        DataError,
        RessearchError,
        StorageError,
        StudyFileError,
        StudyNotFoundError,
        TrialFailed,
    )
    from ressearch.results import ablate_study, export_study, predict, write_report
    from ressearch.runtime import configure_runtime
    from ressearch.search import TrialRecord, run_study, sample, sample_train
    from ressearch.storage import load_study

_EXPORTS = {
    "ArchitectureConfig": "ressearch.config",
    "ArchitectureSpace": "ressearch.config",
    "BLOCKS": "ressearch.config",
    "BlockFamily": "ressearch.config",
    "DataConfig": "ressearch.config",
    "StudyDefinition": "ressearch.config",
    "TrainConfig": "ressearch.config",
    "TrainSpace": "ressearch.config",
    "get_block": "ressearch.config",
    "get_preset": "ressearch.config",
    "list_presets": "ressearch.config",
    "load_study_file": "ressearch.config",
    "register_block": "ressearch.config",
    "build_model": "ressearch.arch",
    "summarize": "ressearch.arch",
    "Dataset": "ressearch.data",
    "apply_preprocessing": "ressearch.data",
    "load_dataset": "ressearch.data",
    "TrialRecord": "ressearch.search",
    "run_study": "ressearch.search",
    "sample": "ressearch.search",
    "sample_train": "ressearch.search",
    "load_study": "ressearch.storage",
    "ablate_study": "ressearch.results",
    "export_study": "ressearch.results",
    "predict": "ressearch.results",
    "write_report": "ressearch.results",
    "configure_runtime": "ressearch.runtime",
    "ConfigError": "ressearch.errors",
    "DataError": "ressearch.errors",
    "RessearchError": "ressearch.errors",
    "StorageError": "ressearch.errors",
    "StudyFileError": "ressearch.errors",
    "StudyNotFoundError": "ressearch.errors",
    "TrialFailed": "ressearch.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
