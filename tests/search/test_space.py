from __future__ import annotations

import optuna
import pytest

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.config.space import ArchitectureSpace, TrainSpace
from ressearch.search import TrialRecord
from ressearch.search.space import sample, sample_train

ISSUE_SPACE = {
    "block_type": ["basic", "preact", "bottleneck", "plain"],
    "stages": {"low": 1, "high": 3},
    "depth": {"low": 1, "high": 4},
    "width": {"low": 16, "high": 128, "log": True},
    "skip_length": [1, 2, 3],
    "dropout": {"low": 0.0, "high": 0.5},
    "ror_levels": [0, 1, 2],
    "expansion": [0.5, 4.0],
    "stochastic_depth": {"low": 0.0, "high": 0.2},
}


@pytest.mark.parametrize("input_shape", [(10,), (8, 8, 1)])
def test_fixed_trial_reproduces_every_stored_config(input_shape):
    space = ArchitectureSpace.from_dict({**ISSUE_SPACE, "dropblock_rate": {"low": 0.0, "high": 0.2}})
    train = TrainSpace.from_dict(
        {
            "optimizer": ["adam", "sgd"],
            "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
            "momentum": [0.8, 0.9],
        }
    )
    stored = {}

    def objective(trial):
        config = sample(trial, space, input_shape=input_shape, outputs=3)
        TrialRecord(architecture=config.to_dict(), train=sample_train(trial, train).to_dict()).write(trial)
        return 0.0

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=25)
    for trial in study.trials:
        record = TrialRecord.from_trial(trial)
        stored = ArchitectureConfig.from_dict(record.architecture)
        again = sample(optuna.trial.FixedTrial(trial.params), space, input_shape=input_shape, outputs=3)
        assert again == stored
        assert sample_train(optuna.trial.FixedTrial(trial.params), train) == TrainConfig.from_dict(
            record.train
        )
        # Parameters that belong to one block type are sampled only under it.
        assert ("expansion" in trial.params) == (stored.block_type == "bottleneck")
        assert ("stochastic_depth" in trial.params) == (stored.block_type != "plain")
        assert ("dropblock_rate" in trial.params) == (len(input_shape) > 1)
        assert ("momentum" in trial.params) == (trial.params["optimizer"] == "sgd")
        assert len(stored.depths) == trial.params["stages"]


def test_presets_seed_a_space_and_keys_override_them():
    space = ArchitectureSpace.from_dict({"preset": "seed-resnet", "block_type": ["basic", "plain"]})
    config = sample(
        optuna.trial.FixedTrial({"block_type": "plain"}), space, input_shape=(8, 8, 1), outputs=10
    )
    assert config.block_type == "plain"
    assert config.depths == (2, 5, 5, 2) and config.widths == (64, 128, 256, 512)
    assert config.input_shape == (8, 8, 1)
    choices = ArchitectureSpace.from_dict({"preset": ["resnet20", "wrn-16-2"]})
    wide = sample(optuna.trial.FixedTrial({"preset": "wrn-16-2"}), choices, input_shape=(8, 8, 1), outputs=10)
    assert wide.name == "wrn-16-2" and wide.widths == (32, 64, 128)


def test_width_growth_and_head_layers():
    space = ArchitectureSpace.from_dict(
        {"stages": 3, "width": 8, "width_growth": 1.5, "head_layers": 2, "head_width": 32}
    )
    config = sample(optuna.trial.FixedTrial({}), space, input_shape=(5,), outputs=1)
    assert config.widths == (8, 12, 18)
    assert config.head_units == (32, 32)


EMBEDDING_SPACE = {
    # The sizes first: each is sampled only for the embeddings that use it, whatever the order.
    "embedding_bins": [4, 8],
    "embedding_bins_from": ["quantiles", "tree"],
    "embedding_sigma": {"low": 0.01, "high": 1.0, "log": True},
    "embedding_frequencies": [8, 16],
    "embedding_dim": [4, 8],
    "embedding_lite": [False, True],
    "numeric_embedding": ["none", "periodic", "plr", "piecewise_linear"],
    "width": 8,
}
EMBEDDING_SIZES = {
    "none": set(),
    "periodic": {"embedding_frequencies", "embedding_sigma"},
    "plr": {"embedding_frequencies", "embedding_sigma", "embedding_dim", "embedding_lite"},
    "piecewise_linear": {"embedding_bins", "embedding_bins_from", "embedding_dim"},
}


def test_numeric_embeddings_are_a_dimension_with_their_sizes_as_keys():
    space = ArchitectureSpace.from_dict(EMBEDDING_SPACE)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(24):
        trial = study.ask()
        config = sample(trial, space, input_shape=(6,), outputs=2, continuous_features=(0, 1, 3))
        kind = config.numeric_embedding
        seen.add(kind)
        sizes = set(trial.params) - {"numeric_embedding"}
        assert sizes == EMBEDDING_SIZES[kind], (kind, trial.params)
        assert config.continuous_features == (0, 1, 3)
        again = optuna.trial.FixedTrial(trial.params)
        assert sample(again, space, input_shape=(6,), outputs=2, continuous_features=(0, 1, 3)) == config
        study.tell(trial, 0.0)
    assert seen == set(EMBEDDING_SIZES)


def test_numeric_embeddings_are_not_sampled_for_conv_inputs():
    space = ArchitectureSpace.from_dict(EMBEDDING_SPACE)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    config = sample(trial, space, input_shape=(8, 8, 1), outputs=10)
    assert config.numeric_embedding == "none" and config.continuous_features is None
    assert not set(trial.params) & set(EMBEDDING_SPACE)


def test_ensemble_k_is_a_dimension_of_dense_inputs_only():
    space = ArchitectureSpace.from_dict({"ensemble_k": [1, 4, 32], "width": 8})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(12):
        trial = study.ask()
        config = sample(trial, space, input_shape=(6,), outputs=2)
        seen.add(config.ensemble_k)
        assert trial.params["ensemble_k"] == config.ensemble_k
        assert sample(optuna.trial.FixedTrial(trial.params), space, input_shape=(6,), outputs=2) == config
        study.tell(trial, 0.0)
    assert seen == {1, 4, 32}
    ranged = ArchitectureSpace.from_dict({"ensemble_k": {"low": 2, "high": 8, "step": 2}})
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    assert sample(trial, ranged, input_shape=(6,), outputs=2).ensemble_k in {2, 4, 6, 8}
    conv = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    assert sample(conv, space, input_shape=(8, 8, 1), outputs=10).ensemble_k == 1
    assert "ensemble_k" not in conv.params
