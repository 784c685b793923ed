"""The block registry is open: a family defined here builds, samples, trains and runs in a study.

Nothing outside this module knows the toy families: they are registered by fixtures and taken
out again, so every test below goes through the same code paths a real new block module would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import keras
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from ressearch import ArchitectureConfig, ConfigError, TrainConfig, build_model
from ressearch.arch.layers import StochasticDepth
from ressearch.config import parse_study
from ressearch.config.blocks import BLOCKS, BlockFamily, register_block, unregister_block
from ressearch.config.space import ArchitectureSpace
from ressearch.data import DataConfig, load_dataset
from ressearch.search import TrialRecord, run_study, sample
from ressearch.training import train_trial
from tests.helpers import one_line, stored_config, tiny_study


def gated_block(kit, x, *, width, strides, drop_path, name):
    """A weight layer whose output a sigmoid gate scales, added to the block's shortcut."""
    kernel = kit.config.kernel_size
    value = kit.weight(x, width, kernel=kernel, strides=strides, name=f"{name}_value")
    gate = kit.weight(x, width, kernel=kernel, strides=strides, name=f"{name}_gate")
    gate = keras.layers.Activation("sigmoid", name=f"{name}_sigmoid")(gate)
    h = keras.layers.Multiply(name=f"{name}_gated")([value, gate])
    if drop_path > 0:
        h = StochasticDepth(drop_path, name=f"{name}_droppath")(h)
    shortcut = kit.shortcut(x, width, strides=strides, name=f"{name}_shortcut")
    return kit.add([shortcut, h], f"{name}_add")


def widened_plan(config, width):
    """Two layers, the first ``expansion`` times wider than the block: a plan of its own."""
    return [(max(1, round(width * config.expansion)), config.kernel_size), (width, config.kernel_size)]


GATED = BlockFamily("gated", "a sigmoid-gated weight layer plus a shortcut", build=gated_block)
WIDENED = BlockFamily("widened", "a wide first layer", uses=frozenset({"expansion"}), plan=widened_plan)
CHAIN = BlockFamily("chain", "stacked weight layers, no shortcut", has_shortcut=False)
DENSE_ONLY = BlockFamily("dense_only", "tabular rows only", ranks=(1,))


@pytest.fixture
def toy_blocks() -> Iterator[None]:
    try:
        for family in (GATED, WIDENED, CHAIN, DENSE_ONLY):
            register_block(family)
        yield
    finally:
        for family in (GATED, WIDENED, CHAIN, DENSE_ONLY):
            unregister_block(family.name)


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(source="builtin:digits", max_rows=300, flatten=True), seed=0)


def gated_config(input_shape=(12,), **fields) -> ArchitectureConfig:
    return ArchitectureConfig(
        input_shape=input_shape, outputs=3, block_type="gated", depths=(1, 1), widths=(8, 16), **fields
    )


def test_a_registered_family_validates_and_parses_in_a_space(toy_blocks):
    config = gated_config()
    assert config.family is GATED and config.has_shortcuts
    assert ArchitectureConfig.from_json(config.to_json()) == config
    space = ArchitectureSpace.from_dict({"block_type": ["basic", "gated"], "depth": {"low": 1, "high": 2}})
    assert space.possible("block_type") == ("basic", "gated")
    sampled = sample(
        optuna.trial.FixedTrial({"block_type": "gated", "depth": 2}), space, input_shape=(12,), outputs=3
    )
    assert sampled.block_type == "gated" and sampled.depths == (2, 2, 2)


@pytest.mark.parametrize("input_shape", [(12,), (16, 3), (8, 8, 2)])
def test_its_own_build_is_in_the_graph(toy_blocks, input_shape):
    model = build_model(gated_config(input_shape, stochastic_depth=0.2))
    layers = {layer.name: layer for layer in model.layers}
    for block in ("stage1_block1", "stage2_block1"):
        assert isinstance(layers[f"{block}_sigmoid"], keras.layers.Activation)
        assert isinstance(layers[f"{block}_gated"], keras.layers.Multiply)
        assert isinstance(layers[f"{block}_droppath"], StochasticDepth)
        assert isinstance(layers[f"{block}_add"], keras.layers.Add)
    # The generic stack's layers are not there: the family's build replaced it.
    assert not [name for name in layers if name.startswith("stage") and ("_conv" in name or "_dense" in name)]
    x = np.random.default_rng(0).normal(size=(2, *input_shape)).astype("float32")
    y = keras.ops.convert_to_numpy(model(x, training=True))
    assert y.shape == (2, 3) and np.isfinite(y).all()


@pytest.mark.slow
def test_it_trains_on_real_data(toy_blocks, digits):
    config = ArchitectureConfig(
        input_shape=digits.input_shape, outputs=digits.outputs, block_type="gated", depths=(1,), widths=(16,)
    )
    result = train_trial(config, TrainConfig(epochs=2, batch_size=32, learning_rate=0.01), digits, seed=0)
    assert all(math.isfinite(loss) for loss in result.curve["loss"])
    assert result.curve["loss"][-1] < result.curve["loss"][0]
    assert math.isfinite(result.metrics["val_loss"])
    assert result.model_params == build_model(config).count_params()


@pytest.mark.slow
def test_a_study_of_the_toy_family_completes(toy_blocks, tmp_path, unique_name):
    definition = parse_study(
        tiny_study(
            unique_name,
            data={"flatten": True, "max_rows": 300},
            space={"block_type": ["gated"], "width": 8},
            train={"epochs": 1},
        )
    )
    summary = run_study(definition, storage=f"sqlite:///{tmp_path / 'toy.db'}", artifacts=tmp_path / "models")
    assert (summary.done, summary.complete, summary.failed) == (2, 2, 0)
    study = optuna.load_study(study_name=unique_name, storage=f"sqlite:///{tmp_path / 'toy.db'}")
    assert [trial.state for trial in study.trials] == [TrialState.COMPLETE] * 2
    for trial in study.trials:
        record = TrialRecord.from_trial(trial)
        architecture = stored_config(study, trial).architecture
        assert architecture["block_type"] == "gated"
        assert architecture["input_shape"] == [64]
        assert record.model_artifact and (tmp_path / "models" / record.model_artifact).is_file()
        assert 0.0 <= trial.value <= 1.0


def test_a_family_without_shortcut_rejects_what_needs_one(toy_blocks):
    base = {"input_shape": (12,), "outputs": 3, "block_type": "chain"}
    with pytest.raises(ConfigError) as raised:
        ArchitectureConfig.from_dict({**base, "ror_levels": 3})
    assert "block_type 'chain' has none" in one_line(raised.value)
    with pytest.raises(ConfigError) as raised:
        ArchitectureConfig.from_dict({**base, "stochastic_depth": 0.1})
    assert "stochastic_depth drops residual branches and block_type 'chain' has none" in one_line(
        raised.value
    )
    model = build_model(
        ArchitectureConfig.from_dict({**base, "ror_levels": 2, "depths": (1, 1), "widths": (8, 16)})
    )
    adds = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert adds == ["stage1_ror_add", "stage2_ror_add", "root_ror_add"]
    with pytest.raises(ConfigError, match="space.ror_levels: 3 keeps the block shortcuts"):
        ArchitectureSpace.from_dict({"block_type": ["gated", "chain"], "ror_levels": [0, 3]})


def test_a_dense_only_family_rejects_conv_inputs(toy_blocks):
    ArchitectureConfig(input_shape=(12,), outputs=3, block_type="dense_only")
    with pytest.raises(ConfigError) as raised:
        ArchitectureConfig.from_dict({"input_shape": (8, 8, 1), "outputs": 3, "block_type": "dense_only"})
    assert "block_type 'dense_only' builds for input ranks [1], and input_shape [8, 8, 1] has rank 3" in (
        one_line(raised.value)
    )


def test_block_specific_keys_follow_the_familys_uses(toy_blocks):
    space = ArchitectureSpace.from_dict(
        {
            "block_type": ["gated", "widened", "chain"],
            "expansion": [0.5, 2.0],
            "stochastic_depth": {"low": 0.0, "high": 0.2},
            "width": 8,
        }
    )

    def objective(trial):
        config = sample(trial, space, input_shape=(12,), outputs=3)
        TrialRecord(architecture=config.to_dict()).write(trial)
        return 0.0

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=30)
    seen = set()
    for trial in study.trials:
        block_type = trial.params["block_type"]
        seen.add(block_type)
        assert ("expansion" in trial.params) == (block_type == "widened")
        assert ("stochastic_depth" in trial.params) == (block_type != "chain")
        stored = TrialRecord.from_trial(trial).architecture
        assert stored["expansion"] == trial.params.get("expansion", 4.0)
    assert seen == {"gated", "widened", "chain"}
    # The widened family's plan reads the sampled expansion: its first layer is twice as wide.
    config = sample(
        optuna.trial.FixedTrial({"block_type": "widened", "expansion": 2.0, "stochastic_depth": 0.0}),
        space,
        input_shape=(12,),
        outputs=3,
    )
    model = build_model(config)
    assert model.get_layer("stage1_block1_dense1").units == 16
    assert model.get_layer("stage1_block1_dense2").units == 8


def test_the_registry_is_back_to_the_built_ins_afterwards():
    assert sorted(BLOCKS) == ["basic", "bottleneck", "plain", "preact"]
    with pytest.raises(ConfigError, match="architecture.block_type: Input should be 'basic', 'preact'"):
        ArchitectureConfig.from_dict({"input_shape": (12,), "outputs": 3, "block_type": "gated"})
