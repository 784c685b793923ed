"""The inverse of sampling: params_for gives the params that make a space sample a config."""

from __future__ import annotations

import optuna
import pytest

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.config import get_preset
from ressearch.config.space import ArchitectureSpace, TrainSpace
from ressearch.errors import ConfigError
from ressearch.search.inverse import adapt_to_data, params_for
from ressearch.search.space import sample, sample_train
from tests.helpers import one_line

CONV, DENSE = (8, 8, 1), (12,)

# Wide enough for the papers' presets: every structural key, the block-specific ones, the stem.
PRESET_SPACE = ArchitectureSpace.from_dict(
    {
        "block_type": ["basic", "preact", "bottleneck"],
        "preactivation": [None, True],
        "stages": {"low": 1, "high": 4},
        "depth": {"low": 1, "high": 20},
        "width": {"low": 8, "high": 512, "log": True},
        "width_growth": [1, 2],
        "skip_length": [1, 2, 3],
        "expansion": [0.5, 4.0],
        "shortcut": ["identity", "projection"],
        "stem_width": [None, 16],
        "dropout": {"low": 0.0, "high": 0.5, "step": 0.1},
        "ror_levels": [0, 1, 2, 3],
    }
)

# A space with a float range over a derived key, conditional keys, conv-only keys and the head.
ROUND_TRIP_SPACE = {
    "block_type": ["basic", "preact", "bottleneck", "plain"],
    "stages": {"low": 1, "high": 3},
    "depth": {"low": 1, "high": 4},
    "width": {"low": 4, "high": 64, "log": True},
    "width_growth": {"low": 1.0, "high": 2.5},
    "skip_length": [1, 2, 3],
    "dropout": {"low": 0.0, "high": 0.5},
    "expansion": [0.5, 4.0],
    "stochastic_depth": {"low": 0.0, "high": 0.2},
    "kernel_size": [3, 5],
    "dropblock_rate": {"low": 0.0, "high": 0.2, "step": 0.05},
    "head_layers": {"low": 0, "high": 2},
    "head_width": [16, 32],
    "activation": ["relu", "gelu"],
}
TRAIN_SPACE = {
    "epochs": 2,
    "optimizer": ["adam", "sgd"],
    "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
    "momentum": [0.8, 0.9],
    "batch_size": {"low": 32, "high": 128, "step": 32},
}


def _remade(params, space, input_shape, outputs=10, **kwargs):
    return sample(optuna.trial.FixedTrial(params), space, input_shape=input_shape, outputs=outputs, **kwargs)


def _network(config: ArchitectureConfig) -> dict:
    fields = config.to_dict()
    fields.pop("name")
    return fields


@pytest.mark.parametrize(
    ("name", "input_shape"),
    [
        ("resnet20", CONV),
        ("resnet56", CONV),
        ("resnet20", DENSE),
        ("preact-resnet164", CONV),
        ("wrn-16-4", CONV),
        ("wrn-28-10", CONV),
        ("ror-3-wrn-16-2", CONV),
        ("tabular-resnet", DENSE),
    ],
)
def test_every_preset_a_space_can_express_is_sampled_back_exactly(name, input_shape):
    preset = get_preset(name)
    params = params_for(preset, PRESET_SPACE, input_shape=input_shape, outputs=10)
    remade = _remade(params, PRESET_SPACE, input_shape)
    assert _network(remade) == _network(adapt_to_data(preset, input_shape=input_shape, outputs=10))


@pytest.mark.parametrize("name", ["resnet20", "wrn-16-2", "seed-plain"])
def test_a_space_of_presets_picks_the_preset(name):
    space = ArchitectureSpace.from_dict(
        {"preset": ["resnet20", "wrn-16-2", "seed-plain"], "dropout": [0.0, 0.1]}
    )
    params = params_for(get_preset(name), space, input_shape=CONV, outputs=10)
    assert params == {"preset": name, "dropout": 0.0}
    assert _remade(params, space, CONV).name == name


@pytest.mark.parametrize("input_shape", [DENSE, CONV])
def test_sampled_configs_round_trip_through_params_for(input_shape):
    space = ArchitectureSpace.from_dict(ROUND_TRIP_SPACE)
    train_space = TrainSpace.from_dict(TRAIN_SPACE)
    sampled = []

    def objective(trial):
        architecture = sample(trial, space, input_shape=input_shape, outputs=3)
        train = sample_train(trial, train_space)
        sampled.append((trial.params, architecture, train))
        return 0.0

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    study.optimize(objective, n_trials=60)
    kinds = {(architecture.block_type, bool(architecture.head_units)) for _, architecture, _ in sampled}
    assert len(kinds) == 8  # every block type, with and without a head
    for original, architecture, train in sampled:
        params = params_for(
            architecture, space, input_shape=input_shape, outputs=3, train=train, train_space=train_space
        )
        assert _remade(params, space, input_shape, outputs=3) == architecture
        assert sample_train(optuna.trial.FixedTrial(params), train_space) == train
        # The same keys are sampled; a float growth may be another that rounds to the same widths.
        assert params.keys() == original.keys()
        assert {k: v for k, v in params.items() if k != "width_growth"} == {
            k: v for k, v in original.items() if k != "width_growth"
        }


def test_architecture_and_train_keys_never_share_a_name():
    # params_for merges both sets of params into one dict, as a trial's params are.
    assert not set(ArchitectureSpace.keys()) & set(TrainSpace.keys())


def test_regression_data_sets_the_head_and_output_scale():
    space = ArchitectureSpace.from_dict({"depth": [1, 2], "width": 8, "stages": 1})
    config = ArchitectureConfig(input_shape=(5,), outputs=1, depths=(2,), widths=(8,))
    params = params_for(
        config, space, input_shape=DENSE, outputs=1, head="regression", output_scale=(150.0, 77.0)
    )
    remade = _remade(params, space, DENSE, outputs=1, head="regression", output_scale=(150.0, 77.0))
    assert params == {"depth": 2}
    assert (remade.head, remade.output_mean, remade.output_std) == ("regression", 150.0, 77.0)


def test_fields_a_network_does_not_use_do_not_matter():
    # A basic block ignores expansion; a dense network ignores the conv-only fields.
    space = ArchitectureSpace.from_dict({"depth": [1, 2], "stages": 1, "width": 8})
    config = ArchitectureConfig(
        input_shape=CONV,
        outputs=3,
        depths=(1,),
        widths=(8,),
        expansion=2.0,
        kernel_size=5,
        dropblock_rate=0.1,
    )
    assert params_for(config, space, input_shape=DENSE, outputs=3) == {"depth": 1}
    with pytest.raises(
        ConfigError, match="kernel_size 5 cannot be made by this space: space has no kernel_size"
    ):
        params_for(config, space, input_shape=CONV, outputs=3)


def test_training_settings_need_a_train_space_that_holds_them():
    space = TrainSpace.from_dict(TRAIN_SPACE)
    adam = TrainConfig(epochs=2, learning_rate=3e-3, batch_size=64, momentum=0.5)  # momentum unused by adam
    assert params_for(
        get_preset("resnet20"), PRESET_SPACE, input_shape=CONV, outputs=10, train=adam, train_space=space
    ) == {
        "block_type": "basic",
        "stages": 3,
        "depth": 3,
        "width": 16,
        "width_growth": 2,
        "skip_length": 2,
        "shortcut": "identity",
        "stem_width": None,
        "dropout": 0.0,
        "ror_levels": 0,
        "optimizer": "adam",
        "learning_rate": 3e-3,
        "batch_size": 64,
    }


ARCH = ArchitectureConfig(input_shape=CONV, outputs=10, depths=(2, 2), widths=(16, 32))


@pytest.mark.parametrize(
    ("space", "config", "train", "message"),
    [
        (  # the example
            {"stages": {"low": 1, "high": 3}, "depth": {"low": 1, "high": 2}},
            get_preset("resnet20"),
            None,
            "depths (3, 3, 3) cannot be made by this space: space.depth allows 1 to 2",
        ),
        (
            {"stages": 3, "depth": [1, 2]},
            ARCH,
            None,
            "depths (2, 2) cannot be made by this space: space.stages allows only 3",
        ),
        (
            {"depth": {"low": 1, "high": 4}},
            ARCH,
            None,
            "depths (2, 2) cannot be made by this space: space has no stages, so depths is (2, 2, 2) "
            "(the default)",
        ),
        (
            {"stages": [1, 2, 3, 4], "depth": [2, 5]},
            get_preset("seed-resnet"),
            None,
            "depths (2, 5, 5, 2) cannot be made by this space: stages and depth give every stage the "
            "same depth",
        ),
        (
            {"stages": 2, "depth": 2, "width": [16], "width_growth": {"low": 1.0, "high": 1.5}},
            ARCH,
            None,
            "widths (16, 32) cannot be made by this space: space.width_growth allows 1 to 1.5",
        ),
        (
            {"stages": 2, "depth": 2, "width": {"low": 16, "high": 64, "step": 16}},
            ARCH.replace(widths=(24, 48)),
            None,
            "widths (24, 48) cannot be made by this space: space.width allows 16 to 64 in steps of 16",
        ),
        (
            {"stages": 2, "depth": 2, "head_layers": [0, 1], "head_width": 32},
            ARCH.replace(head_units=(32, 32)),
            None,
            "head_units (32, 32) cannot be made by this space: space.head_layers allows 0 or 1",
        ),
        (
            {"stages": 2, "depth": 2, "block_type": ["basic", "preact"]},
            ARCH.replace(block_type="plain"),
            None,
            "block_type plain cannot be made by this space: space.block_type allows basic or preact",
        ),
        (
            {"stages": 2, "depth": 2, "dropout": {"low": 0.0, "high": 0.3, "step": 0.1}},
            ARCH.replace(dropout=0.25),
            None,
            "dropout 0.25 cannot be made by this space: space.dropout allows 0 to 0.3 in steps of 0.1",
        ),
        (
            {"preset": "wrn-16-2", "depth": [1, 2, 3]},
            get_preset("resnet20"),
            None,
            "widths (16, 32, 64) cannot be made by this space: space has no width, so widths is "
            "(32, 64, 128) (preset wrn-16-2's)",
        ),
        (
            {"stages": 2, "depth": 2},
            ARCH,
            TrainConfig(epochs=20),
            "train.epochs 20 cannot be made by this space: train.epochs allows only 2",
        ),
        (
            {"stages": 2, "depth": 2},
            ARCH,
            TrainConfig(epochs=2, optimizer="sgd", momentum=0.5),
            "train.optimizer sgd cannot be made by this space: train.optimizer allows only adam",
        ),
        (
            {"stages": 2, "depth": 2},
            ARCH,
            TrainConfig(epochs=2, clipnorm=1.0),
            "train.clipnorm 1 cannot be made by this space: train has no clipnorm, so clipnorm is null "
            "(the default)",
        ),
    ],
)
def test_what_a_space_cannot_express_is_one_line_naming_the_field(space, config, train, message):
    train_space = TrainSpace.from_dict({"epochs": 2, "optimizer": "adam"})
    with pytest.raises(ConfigError) as raised:
        params_for(
            config,
            ArchitectureSpace.from_dict(space),
            input_shape=CONV,
            outputs=10,
            train=train,
            train_space=train_space,
        )
    assert one_line(raised.value) == message


def test_a_block_type_without_this_input_rank_cannot_take_the_data():
    from ressearch.config.blocks import BlockFamily, register_block, unregister_block

    register_block(BlockFamily("conv_only_toy", "a toy that builds for images", ranks=(3,)))
    try:
        config = ARCH.replace(block_type="conv_only_toy")
        with pytest.raises(
            ConfigError, match=r"cannot be used on this data \(input \[12\]\): .*conv_only_toy"
        ):
            params_for(config, ArchitectureSpace.from_dict({}), input_shape=DENSE, outputs=10)
    finally:
        unregister_block("conv_only_toy")


def test_the_continuous_columns_are_this_datas_not_those_the_config_came_from():
    """A warm start from a table with other categorical columns embeds this table's numbers."""
    space = ArchitectureSpace.from_dict(
        {"depth": 1, "width": 8, "stages": 1, "numeric_embedding": ["none", "piecewise_linear"]}
    )
    config = ArchitectureConfig(
        input_shape=DENSE,
        outputs=3,
        depths=(1,),
        widths=(8,),
        numeric_embedding="piecewise_linear",
        continuous_features=(0, 1),
    )
    for columns in [(0, 5, 7), None]:
        adapted = adapt_to_data(config, input_shape=DENSE, outputs=3, continuous_features=columns)
        assert adapted.continuous_features == columns
        params = params_for(config, space, input_shape=DENSE, outputs=3, continuous_features=columns)
        assert params == {"numeric_embedding": "piecewise_linear"}
