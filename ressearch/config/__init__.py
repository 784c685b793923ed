"""Configs: architecture, training, data, search spaces, study settings and the study file.

Pydantic and YAML only: must not import Keras, TensorFlow, Optuna, pandas, scikit-learn or any
other ressearch layer but errors.
"""

from ressearch.config.architecture import ACTIVATIONS, BLOCK_TYPES, ArchitectureConfig
from ressearch.config.base import SCHEMA_VERSION, FrozenConfig, Search, describe_validation_error
from ressearch.config.blocks import BLOCKS, BlockFamily, block_names, get_block, register_block
from ressearch.config.data import DataConfig
from ressearch.config.files import load_architecture, load_config_file, load_study_file
from ressearch.config.presets import PRESETS, Preset, get_preset, list_presets
from ressearch.config.runtime import RuntimeConfig
from ressearch.config.space import ArchitectureSpace, Choice, Fixed, Range, Space, TrainSpace
from ressearch.config.study import METRICS, StudyDefinition, StudySettings, parse_study
from ressearch.config.training import OPTIMIZERS, TrainConfig
from ressearch.config.warmstart import WarmStart, parse_warm_starts

__all__ = [
    "ACTIVATIONS",
    "BLOCKS",
    "BLOCK_TYPES",
    "METRICS",
    "OPTIMIZERS",
    "PRESETS",
    "SCHEMA_VERSION",
    "ArchitectureConfig",
    "ArchitectureSpace",
    "BlockFamily",
    "Choice",
    "DataConfig",
    "Fixed",
    "FrozenConfig",
    "Preset",
    "Range",
    "RuntimeConfig",
    "Search",
    "Space",
    "StudyDefinition",
    "StudySettings",
    "TrainConfig",
    "TrainSpace",
    "WarmStart",
    "block_names",
    "describe_validation_error",
    "get_block",
    "get_preset",
    "list_presets",
    "load_architecture",
    "load_config_file",
    "load_study_file",
    "parse_study",
    "parse_warm_starts",
    "register_block",
]
