"""Parameter-efficient ensembles (``ensemble_k``): members that differ from the start, a loss that
is the mean of the members' losses, metrics and predictions on their mean, every dense block type,
a regression head, learning on a real table, and the save/load and rebuild round trips."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ressearch import ArchitectureConfig, TrainConfig, build_model
from ressearch.arch import BatchEnsembleDense, EnsembleModel, MemberDense, summarize
from ressearch.arch.saving import load_model
from ressearch.data import DataConfig, load_dataset
from ressearch.training import train_trial

BLOCK_TYPES = ["basic", "preact", "bottleneck", "plain"]


def numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


def dense(**changes) -> ArchitectureConfig:
    base = {"input_shape": (30,), "outputs": 1, "depths": (1,), "widths": (8,)}
    return ArchitectureConfig(**{**base, **changes})


def members_of(model: keras.Model) -> keras.Model:
    """The model's members' outputs at inference, (batch, k, outputs)."""
    return keras.Model(model.input, model.get_layer("member_predictions").output)


@pytest.fixture(scope="module")
def cancer():
    return load_dataset(DataConfig(source="builtin:breast_cancer", max_rows=300), seed=0)


def test_members_differ_before_the_first_shared_layer_and_nowhere_else():
    keras.utils.set_random_seed(0)
    model = build_model(dense(ensemble_k=4, depths=(2,), head_units=(8,)))
    ensemble = [layer for layer in model.layers if isinstance(layer, BatchEnsembleDense)]
    assert [layer.name for layer in ensemble] == [
        "stem_dense",
        "stage1_block1_dense1",
        "stage1_block1_dense2",
        "stage1_block2_dense1",
        "stage1_block2_dense2",
        "head_dense1",
    ]
    first = numpy(ensemble[0].r)
    assert first.shape == (4, 30) and set(np.unique(first)) == {-1.0, 1.0}  # random signs
    assert len({row.tobytes() for row in first}) == 4  # one sign pattern per member
    for layer in ensemble:
        assert (numpy(layer.s) == 1).all()
    for layer in ensemble[1:]:
        assert (numpy(layer.r) == 1).all()
    outputs = numpy(members_of(model)(np.random.default_rng(0).normal(size=(16, 30)).astype("float32")))
    assert outputs.shape == (16, 4, 1)
    for i in range(4):
        for j in range(i):
            assert not np.allclose(outputs[:, i], outputs[:, j])


def test_after_an_embedding_each_column_draws_one_scale_per_member():
    keras.utils.set_random_seed(0)
    config = dense(
        input_shape=(5,),
        continuous_features=(0, 2),
        numeric_embedding="plr",
        embedding_frequencies=4,
        embedding_dim=3,
        ensemble_k=2,
    )
    model = build_model(config)
    assert model.get_layer("ensemble_view").input.shape == (None, 2 * 3 + 3)  # embedded, then the rest
    r = numpy(model.get_layer("stem_dense").r)
    assert r.shape == (2, 9)
    for columns in ([0, 1, 2], [3, 4, 5]):  # each embedded column's units share a draw
        assert (r[:, columns] == r[:, columns[:1]]).all()
    assert len(np.unique(r)) == 2 * 5  # a normal draw per member and column


def test_k_1_builds_exactly_todays_network():
    # Measured on main before ensemble_k existed: 1,969 and 10,955 parameters, 20 and 30 layers.
    configs = [
        dense(depths=(2,), widths=(16,), head_units=(8,)),
        dense(
            outputs=3,
            depths=(1, 1),
            widths=(16, 32),
            block_type="bottleneck",
            expansion=0.5,
            ror_levels=2,
            numeric_embedding="plr",
            embedding_dim=4,
            embedding_frequencies=8,
        ),
    ]
    for config, params, layers in zip(configs, (1_969, 10_955), (20, 30), strict=True):
        model = build_model(config)
        assert config.ensemble_k == 1 and type(model) is not EnsembleModel
        assert (model.count_params(), len(model.layers)) == (params, layers)
        assert not any(isinstance(layer, BatchEnsembleDense | MemberDense) for layer in model.layers)


def test_parameter_cost_of_the_members():
    single = build_model(dense(widths=(16,))).count_params()
    model = build_model(dense(widths=(16,), ensemble_k=8))
    # Per member: r and s of the three dense layers (30+16, 16+16, 16+16) and an output layer
    # (16 + 1); the shared kernels stay.
    assert model.count_params() - single == 7 * (16 + 1) + 8 * (46 + 32 + 32)
    assert summarize(dense(widths=(16,), ensemble_k=8), model).weight_layers == 4


def test_the_loss_is_the_mean_of_the_members_losses_and_metrics_see_their_mean(cancer):
    config = dense(ensemble_k=3, normalization="layer")  # no batch statistics: training = inference
    keras.utils.set_random_seed(0)
    model = build_model(config)
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    x, y = cancer.x_val[:32], cancer.y_val[:32].astype("float32").reshape(-1, 1)
    per_member = model(x, training=True)
    assert per_member.shape == (32, 3, 1)
    bce = keras.losses.BinaryCrossentropy()
    by_hand = np.mean([float(bce(y, per_member[:, m])) for m in range(3)])
    loss = float(model.compute_loss(x=x, y=y, y_pred=per_member, training=True))
    assert loss == pytest.approx(by_hand, rel=1e-5)
    mean = numpy(model(x, training=False))
    np.testing.assert_allclose(mean, numpy(per_member).mean(axis=1), rtol=1e-6)
    assert loss != pytest.approx(float(bce(y, mean)), rel=1e-3)  # not the loss of the mean
    metrics = model.compute_metrics(x, y, per_member)
    assert float(metrics["accuracy"]) == pytest.approx(((mean > 0.5) == y).mean())


@pytest.mark.slow
@pytest.mark.parametrize("block_type", BLOCK_TYPES)
def test_every_dense_block_type_builds_and_trains_as_an_ensemble(block_type, cancer):
    extra = {"expansion": 0.5} if block_type == "bottleneck" else {}
    if block_type != "plain":
        extra |= {"ror_levels": 2, "stochastic_depth": 0.1, "shortcut": "identity"}
    config = dense(block_type=block_type, depths=(1, 1), widths=(8, 12), dropout=0.1, ensemble_k=4, **extra)
    result = train_trial(config, TrainConfig(epochs=1, batch_size=64), cancer, seed=0)
    assert np.isfinite(list(result.metrics.values())).all()
    assert result.model_params == build_model(config).count_params()


@pytest.mark.slow
def test_an_ensemble_learns_a_real_table_and_round_trips(cancer, tmp_path):
    config = dense(ensemble_k=8, head_units=(8,), head_dropout=0.1)
    path = tmp_path / "model.keras"
    result = train_trial(
        config, TrainConfig(epochs=3, batch_size=32, learning_rate=0.01), cancer, seed=0, save_to=path
    )
    chance = max(cancer.y_val.mean(), 1 - cancer.y_val.mean())
    assert result.metrics["val_accuracy"] > chance + 0.1, (result.metrics, chance)
    assert result.model_params < 5_000

    loaded = load_model(path)
    assert type(loaded) is EnsembleModel
    expected = loaded.predict(cancer.x_val, verbose=0)
    assert expected.shape == (len(cancer.x_val), 1)
    assert ((expected > 0.5).ravel() == cancer.y_val).mean() == pytest.approx(result.metrics["val_accuracy"])
    # Config and weights alone rebuild it exactly.
    rebuilt = build_model(config)
    rebuilt.set_weights(loaded.get_weights())
    np.testing.assert_array_equal(rebuilt.predict(cancer.x_val, verbose=0), expected)
    again = load_model(path)
    np.testing.assert_array_equal(again.predict(cancer.x_val, verbose=0), expected)


@pytest.mark.slow
def test_a_regression_ensemble_predicts_in_the_targets_units(tmp_path):
    dataset = load_dataset(DataConfig(source="builtin:diabetes", max_rows=300), seed=0)
    mean, std = dataset.target_scale
    config = dense(
        input_shape=dataset.x_train.shape[1:],
        head="regression",
        output_mean=mean,
        output_std=std,
        widths=(16,),
        ensemble_k=4,
    )
    path = tmp_path / "model.keras"
    result = train_trial(
        config, TrainConfig(epochs=5, batch_size=32, learning_rate=0.01), dataset, seed=0, save_to=path
    )
    assert result.metrics["val_rmse"] < dataset.y_val.std(), (result.metrics, dataset.y_val.std())
    predictions = load_model(path).predict(dataset.x_val, verbose=0)
    assert predictions.shape == (len(dataset.x_val), 1)
    rmse = float(np.sqrt(np.mean((predictions.ravel() - dataset.y_val) ** 2)))
    assert rmse == pytest.approx(result.metrics["val_rmse"], rel=1e-4)
