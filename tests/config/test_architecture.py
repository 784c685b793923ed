from __future__ import annotations

import json

import pytest

from ressearch import ArchitectureConfig, ConfigError, TrainConfig, get_preset
from ressearch.config.presets import PRESETS
from tests.helpers import one_line


@pytest.mark.parametrize("name", [preset.example for preset in PRESETS])
def test_preset_configs_round_trip_through_dict_and_json(name):
    config = get_preset(name)
    assert ArchitectureConfig.from_dict(config.to_dict()) == config
    assert ArchitectureConfig.from_json(config.to_json()) == config
    # JSON-safe: plain types only, and a second round trip gives the same text.
    text = json.dumps(config.to_dict(), sort_keys=True)
    assert json.dumps(ArchitectureConfig.from_json(text).to_dict(), sort_keys=True) == text
    assert config.to_dict()["schema_version"] == 1


def test_configs_are_frozen():
    config = get_preset("resnet20")
    with pytest.raises(Exception, match="frozen"):
        config.block_type = "plain"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"block_type": "dense"}, "architecture.block_type: Input should be 'basic', 'preact', 'bottleneck'"),
        ({"depths": [2, 2], "widths": [16]}, "depths and widths need one entry per stage"),
        ({"dropout": 1.5}, "architecture.dropout: Input should be less than 1"),
        ({"ror_levels": 4}, "architecture.ror_levels: Input should be 0, 1, 2 or 3"),
        ({"colour": "red"}, "architecture.colour: unknown key"),
        ({"schema_version": 2}, "architecture.schema_version: Input should be 1"),
        ({"block_type": "plain", "ror_levels": 3}, "block_type 'plain' has none"),
        ({"block_type": "basic", "preactivation": True}, "use block_type 'preact'"),
        ({"input_shape": [8], "dropblock_rate": 0.1}, "dropblock_rate applies to conv inputs"),
        ({"output_mean": 150.0}, "output_mean and output_std rescale a regression head"),
        (
            {"head": "regression", "output_std": 0.0},
            "architecture.output_std: Input should be greater than 0",
        ),
        ({"input_shape": [1, 2, 3, 4]}, "architecture.input_shape: Tuple should have at most 3 items"),
        ({"numeric_embedding": "plr"}, "numeric_embedding applies to dense inputs (rank 1)"),
        ({"input_shape": [4], "numeric_embedding": "fourier"}, "numeric_embedding: Input should"),
        ({"input_shape": [4], "embedding_bins": 1}, "architecture.embedding_bins: Input should be greater"),
        ({"input_shape": [4], "embedding_dim": 0}, "architecture.embedding_dim: Input should be greater"),
        ({"input_shape": [4], "embedding_frequencies": 2000}, "embedding_frequencies: Input should be less"),
        ({"input_shape": [4], "embedding_sigma": -0.1}, "embedding_sigma: Input should be greater"),
        ({"input_shape": [4], "continuous_features": [0, 4]}, "column positions below the input's 4 columns"),
        ({"input_shape": [4], "continuous_features": [1, 1]}, "continuous_features must increase"),
        (
            {"input_shape": [4], "continuous_features": [0, 1], "categorical_columns": [[1, 5]]},
            "continuous_features must name the continuous columns, apart from categorical_columns",
        ),
        (
            {"input_shape": [4], "continuous_features": [0], "categorical_columns": [[4, 5]]},
            "categorical_columns are increasing column positions below the input's 4 columns",
        ),
        ({"input_shape": [4], "categorical_columns": [[1, 1]]}, "Input should be greater than or equal to 2"),
        ({"ensemble_k": 4}, "ensemble_k applies to dense inputs (rank 1), and input_shape [32, 32, 3]"),
        ({"input_shape": [4], "ensemble_k": 0}, "architecture.ensemble_k: Input should be greater than or"),
        ({"input_shape": [4], "ensemble_k": 1000}, "architecture.ensemble_k: Input should be less than or"),
        (
            {"input_shape": [4], "continuous_features": [], "numeric_embedding": "piecewise_linear"},
            "this input has none (continuous_features is empty): use numeric_embedding 'none'",
        ),
    ],
)
def test_invalid_values_name_the_field_and_what_is_allowed(changes, expected):
    data = {**get_preset("resnet20").to_dict(), **changes}
    with pytest.raises(ConfigError) as raised:
        ArchitectureConfig.from_dict(data)
    assert expected in one_line(raised.value)


def test_missing_required_field_is_named():
    with pytest.raises(ConfigError, match="architecture.outputs: required key is missing"):
        ArchitectureConfig.from_dict({"input_shape": [4]})


def test_train_config_round_trip_and_validation():
    config = TrainConfig(epochs=3, optimizer="adamw", learning_rate=3e-4, weight_decay=1e-4)
    assert TrainConfig.from_json(config.to_json()) == config
    with pytest.raises(
        ConfigError, match="train.optimizer: Input should be 'adam', 'adamw', 'sgd' or 'rmsprop'"
    ):
        TrainConfig.from_dict({"optimizer": "lbfgs"})
    with pytest.raises(ConfigError, match="warmup_epochs must be below epochs"):
        TrainConfig.from_dict({"epochs": 2, "warmup_epochs": 2, "schedule": "cosine"})
