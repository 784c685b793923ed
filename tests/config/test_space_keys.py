"""Space keys come from the config models: every field is a key or says what decides it."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import optuna
import pytest
from pydantic import Field, ValidationError

from ressearch import ArchitectureConfig, ConfigError, TrainConfig
from ressearch.config.base import FrozenConfig, Search, field_kind, search_marker
from ressearch.config.space import STRUCTURE_KEYS, ArchitectureSpace, Range, Space, TrainSpace, config_keys
from ressearch.search.space import sample, sample_train
from tests.helpers import one_line

CONV_ONLY = {
    "kernel_size",
    "downsample",
    "stem_kernel_size",
    "stem_strides",
    "stem_pool",
    "dropblock_rate",
    "dropblock_size",
}


@pytest.mark.parametrize(
    ("model", "space"), [(ArchitectureConfig, ArchitectureSpace), (TrainConfig, TrainSpace)]
)
def test_every_field_is_a_key_or_says_what_decides_it(model, space):
    keys = set(space.keys())
    for name in model.model_fields:
        marker = search_marker(model, name)
        if marker.sampled:
            assert name in keys, name
            assert space.key(name).kind == field_kind(model, name)
        else:
            assert name not in keys, name
            assert marker.reason.strip(), f"{model.__name__}.{name} is not sampled and gives no reason"
    sampled = {name for name in model.model_fields if search_marker(model, name).sampled}
    structure = set(STRUCTURE_KEYS) if space is ArchitectureSpace else set()
    assert keys == sampled | structure


def test_the_fields_that_are_not_keys():
    unsampled = {
        name
        for name in ArchitectureConfig.model_fields
        if not search_marker(ArchitectureConfig, name).sampled
    }
    assert unsampled == {
        "schema_version",
        "name",
        "input_shape",
        "outputs",
        "head",
        "depths",
        "widths",
        "head_units",
        "output_mean",
        "output_std",
        "continuous_features",
        "categorical_columns",
    }
    train_keys, architecture_keys = TrainSpace.keys(), ArchitectureSpace.keys()
    assert [name for name in TrainConfig.model_fields if name not in train_keys] == ["schema_version"]
    conv_only = {key for key in architecture_keys if ArchitectureSpace.key(key).search.ranks == (2, 3)}
    assert conv_only == CONV_ONLY


def test_an_unmarked_tuple_field_is_refused():
    class Layered(FrozenConfig):
        units: tuple[int, ...] = (8,)
        rate: float = 0.1

    with pytest.raises(ConfigError) as raised:
        config_keys(Layered)
    message = one_line(raised.value)
    assert message.startswith("Layered.units: not a scalar, so not a space key")
    assert "Search(sampled=False, reason=...)" in message

    class Marked(FrozenConfig):
        units: Annotated[tuple[int, ...], Search(sampled=False, reason="from a structural key")] = (8,)
        rate: float = 0.1

    assert list(config_keys(Marked)) == ["rate"]


def test_a_new_scalar_field_is_a_key_by_construction():
    class Gated(ArchitectureConfig):
        gate_bias: Annotated[float, Field(ge=-5.0, le=5.0)] = 0.0
        gate_units: Annotated[int, Field(gt=0)] = 4
        gated: bool = True
        gate: Literal["sigmoid", "tanh"] = "sigmoid"

    keys = config_keys(Gated)
    assert set(keys) == set(config_keys(ArchitectureConfig)) | {"gate_bias", "gate_units", "gated", "gate"}
    assert {name: keys[name].kind for name in ("gate_bias", "gate_units", "gated", "gate")} == {
        "gate_bias": "float",
        "gate_units": "int",
        "gated": "bool",
        "gate": "str",
    }
    # Each key checks values with the field's own constraints.
    assert keys["gate"].validate("tanh") == "tanh"
    with pytest.raises(ValidationError):
        keys["gate"].validate("relu")
    with pytest.raises(ValidationError):
        keys["gate_bias"].validate(7.0)

    class GatedSpace(Space):
        model = Gated
        _keys: ClassVar = {**STRUCTURE_KEYS, **config_keys(Gated)}

    space = GatedSpace.from_dict({"gate_bias": {"low": -1.0, "high": 1.0}, "gate": ["sigmoid", "tanh"]})
    assert space.dimensions["gate_bias"] == Range(-1.0, 1.0)
    with pytest.raises(ConfigError, match="space.gate_units: Input should be greater than 0, got 0"):
        GatedSpace.from_dict({"gate_units": 0})


CONV_SPACE = {
    "kernel_size": [3, 5],
    "downsample": ["stride", "maxpool"],
    "stem_kernel_size": [1, 3],
    "stem_strides": [1, 2],
    "stem_pool": [True, False],
    "dropblock_rate": {"low": 0.0, "high": 0.2},
    "dropblock_size": [2, 3],
    "dropout": {"low": 0.0, "high": 0.3},
    "width": [4, 8],
}


@pytest.mark.parametrize("input_shape", [(10,), (16, 3), (8, 8, 1)])
def test_conv_only_keys_are_sampled_for_conv_inputs_only(input_shape):
    space = ArchitectureSpace.from_dict(CONV_SPACE)

    def objective(trial):
        config = sample(trial, space, input_shape=input_shape, outputs=3)
        assert config.input_shape == input_shape
        return 0.0

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=10)
    for trial in study.trials:
        conv_params = CONV_ONLY & set(trial.params)
        assert conv_params == (CONV_ONLY if len(input_shape) > 1 else set())
        assert {"dropout", "width"} <= set(trial.params)


def test_momentum_is_sampled_for_sgd_and_rmsprop_only():
    space = TrainSpace.from_dict(
        {"optimizer": ["adam", "adamw", "sgd", "rmsprop"], "momentum": {"low": 0.5, "high": 0.95}}
    )
    configs = {}

    def objective(trial):
        configs[trial.number] = sample_train(trial, space)
        return 0.0

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=30)
    optimizers = set()
    for trial in study.trials:
        optimizer = trial.params["optimizer"]
        optimizers.add(optimizer)
        uses_momentum = optimizer in ("sgd", "rmsprop")
        assert ("momentum" in trial.params) == uses_momentum
        config = configs[trial.number]
        assert config.optimizer == optimizer
        assert config.momentum == (trial.params["momentum"] if uses_momentum else 0.9)
    assert optimizers == {"adam", "adamw", "sgd", "rmsprop"}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"warmup_epochs": 1}, "train.warmup_epochs: used only when schedule is cosine"),
        (
            {"momentum": 0.8, "optimizer": "adamw"},
            "train.momentum: used only when optimizer is sgd or rmsprop",
        ),
    ],
)
def test_a_conditional_key_that_can_never_be_sampled_is_refused(section, message):
    with pytest.raises(ConfigError) as raised:
        TrainSpace.from_dict(section)
    assert one_line(raised.value).startswith(message)
    TrainSpace.from_dict({**section, "schedule": "cosine", "optimizer": ["adam", "sgd"]})


def test_a_presets_block_type_is_checked_like_a_sampled_one():
    with pytest.raises(ConfigError) as raised:
        ArchitectureSpace.from_dict({"preset": "seed-plain", "ror_levels": [0, 3]})
    assert "block_type 'plain' has none" in one_line(raised.value)
    ArchitectureSpace.from_dict({"preset": "seed-resnet", "ror_levels": [0, 3]})
