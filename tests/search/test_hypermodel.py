"""The KerasTuner adapter: an Optuna trial as KerasTuner's ``hp``, on a real hypermodel, and back.

The hypermodel below declares every kind of hyperparameter (Choice, Int with a step, Int, Float
on a log scale, Boolean, Fixed) and two conditional scopes; its networks are tiny and built, not
trained, except where a check needs an epoch.
"""

from __future__ import annotations

import keras
import keras_tuner
import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from ressearch.arch.hypermodel import build_with_values, load_hypermodel
from ressearch.config import ArchitectureSpace, HypermodelConfig, TrainSpace
from ressearch.errors import HypermodelError
from ressearch.search import sample, sample_train
from ressearch.search.hypermodel import (
    HpSuggester,
    HypermodelTrial,
    TrialHyperParameters,
    metric_check,
    suggest_hyperparameter,
)
from tests.helpers import one_line

REFERENCE = f"{__name__}:build"


def build(hp: keras_tuner.HyperParameters) -> keras.Model:
    """A tiny hypermodel: a wide (one layer of ``units``) or deep (``layers`` layers) network."""
    inputs = keras.Input((6,))
    x = inputs
    kind = hp.Choice("kind", ["wide", "deep"])
    with hp.conditional_scope("kind", ["wide"]):
        if kind == "wide":
            x = keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu")(x)
    with hp.conditional_scope("kind", ["deep"]):
        if kind == "deep":
            for _ in range(hp.Int("layers", 1, 3)):
                x = keras.layers.Dense(4, activation="relu")(x)
    if hp.Boolean("dropout"):
        x = keras.layers.Dropout(0.1)(x)
    outputs = keras.layers.Dense(hp.Fixed("classes", 3), activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    rate = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    model.compile(keras.optimizers.Adam(rate), "categorical_crossentropy", metrics=["accuracy"])
    return model


def uncompiled(hp: keras_tuner.HyperParameters) -> keras.Model:
    """A hypermodel that leaves compiling to the study, and picks a hyperparameter named batch_size."""
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(hp.Choice("batch_size", [8, 16]))])


def shape_of(model: keras.Model) -> list[tuple[str, int]]:
    """What makes two networks the same: their layers' kinds and parameter counts, in order."""
    return [(type(layer).__name__, layer.count_params()) for layer in model.layers]


def in_memory_study() -> optuna.Study:
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))


@pytest.mark.parametrize(
    ("kind", "asked"),
    [
        ("wide", {"kind", "units", "dropout", "learning_rate"}),
        ("deep", {"kind", "layers", "dropout", "learning_rate"}),
    ],
)
def test_a_trial_suggests_what_the_hypermodel_asks_for_and_the_params_rebuild_it(kind, asked):
    study = in_memory_study()
    study.enqueue_trial({"kind": kind})
    trial = study.ask()
    hp = TrialHyperParameters(trial)
    model = build(hp)

    # Only the active branch is suggested; the Fixed value is recorded, not suggested.
    assert set(trial.params) == asked
    assert hp.values == {**trial.params, "classes": 3}
    distributions = trial.distributions
    assert distributions["kind"] == CategoricalDistribution(["wide", "deep"])
    assert distributions["dropout"] == CategoricalDistribution([False, True])
    assert distributions["learning_rate"] == FloatDistribution(1e-4, 1e-1, log=True)
    if kind == "wide":
        assert distributions["units"] == IntDistribution(8, 32, step=8)
    else:
        assert distributions["layers"] == IntDistribution(1, 3)
    assert set(hp.asked) == asked | {"classes"}

    # The stored params alone rebuild the same network, through a FixedTrial...
    again = build(TrialHyperParameters(optuna.trial.FixedTrial(trial.params)))
    assert again.count_params() == model.count_params() and shape_of(again) == shape_of(model)
    # ... and the recorded values through a plain KerasTuner hp (what an export rebuilds with).
    loaded = load_hypermodel(HypermodelConfig(hypermodel=REFERENCE))
    rebuilt = build_with_values(loaded, hp.values)
    assert rebuilt.count_params() == model.count_params() and shape_of(rebuilt) == shape_of(model)
    assert float(rebuilt.optimizer.learning_rate.numpy()) == pytest.approx(trial.params["learning_rate"])


def test_fixed_values_are_not_searched():
    trial = in_memory_study().ask()
    hp = TrialHyperParameters(trial, fixed={"kind": "deep", "layers": 2})
    model = build(hp)
    assert set(trial.params) == {"dropout", "learning_rate"}
    assert hp.values["kind"] == "deep" and hp.values["layers"] == 2
    assert sum(isinstance(layer, keras.layers.Dense) for layer in model.layers) == 3


def test_a_fixed_name_in_an_inactive_scope_is_no_mistake():
    study = in_memory_study()
    study.enqueue_trial({"kind": "deep"})
    built = hypermodel_trial(study.ask(), fixed={"units": 16})  # units: only where kind is wide
    built.build()
    assert "units" not in built.hp.asked and built.hp.inactive_scopes


def test_kerastuner_scales_that_optuna_lacks_are_mapped():
    trial = in_memory_study().ask()
    hp = TrialHyperParameters(trial)
    # A log scale with a step multiplies: a choice among those values.
    assert hp.Int("filters", 8, 64, step=2, sampling="log") in (8, 16, 32, 64)
    assert trial.distributions["filters"] == CategoricalDistribution([8, 16, 32, 64])
    # reverse_log has no Optuna counterpart: sampled on a linear scale.
    value = hp.Float("momentum", 0.5, 0.99, sampling="reverse_log")
    assert 0.5 <= value <= 0.99 and trial.distributions["momentum"] == FloatDistribution(0.5, 0.99)
    assert round(hp.Float("dropout", 0.0, 0.5, step=0.1), 6) in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    assert trial.distributions["dropout"] == FloatDistribution(0.0, 0.5, step=0.1)
    assert hp.Int("blocks", 2, 32, sampling="log") in range(2, 33)
    assert trial.distributions["blocks"] == IntDistribution(2, 32, log=True)


def test_one_name_with_two_kinds_stops_with_one_line():
    study = in_memory_study()
    first = study.ask()
    TrialHyperParameters(first).Int("size", 1, 4)
    study.tell(first, 0.0)
    with pytest.raises(HypermodelError) as raised:
        suggest_hyperparameter(study.ask(), keras_tuner.engine.hyperparameters.Choice("size", ["s", "m"]))
    assert "hyperparameter 'size'" in one_line(raised.value)


def hypermodel_trial(trial, *, fixed=None, train=None, reference=REFERENCE) -> HypermodelTrial:
    loaded = load_hypermodel(HypermodelConfig(hypermodel=reference))
    space = TrainSpace.from_dict(train or {})
    return HypermodelTrial(loaded, trial, fixed=fixed or {}, space=space, train=sample_train(trial, space))


def test_a_hypermodel_trial_records_its_values():
    trial = in_memory_study().ask()
    built = hypermodel_trial(trial, fixed={"kind": "wide"}, train={"epochs": 2, "batch_size": [16, 32]})
    model = built.build()
    assert isinstance(model, keras.Model) and not built.own_fit
    assert built.config is not None and built.config.hypermodel is not None  # the caller stores it
    recorded = HypermodelConfig.from_dict(built.config.hypermodel)
    assert recorded.hypermodel == REFERENCE and recorded.hyperparameters == built.hp.values
    assert recorded.hyperparameters["kind"] == "wide" and "kind" not in trial.params
    assert trial.user_attrs["network"] == recorded.describe()  # the record shows the network at once
    # The hypermodel compiles its own model: the config keeps only the settings fit used.
    used = {"schema_version": 1, "epochs": 2, "batch_size": trial.params["batch_size"]}
    assert built.config.train == {**used, "early_stopping_patience": None}


@pytest.mark.parametrize(
    ("fixed", "train", "says"),
    [
        ({"batch_sise": 8}, {}, ["space.fixed.batch_sise", "asked for no hyperparameter", "batch_size"]),
        ({}, {"optimizer": "sgd"}, ["train.optimizer", "compiles its own model", "epochs, batch_size"]),
        ({}, {"learning_rate": [0.1, 0.01]}, ["train.learning_rate", "both train: and the hypermodel"]),
    ],
)
def test_a_hypermodel_that_does_not_fit_the_study_stops_with_one_line(fixed, train, says):
    reference = f"{__name__}:uncompiled" if fixed else REFERENCE  # fixed names: a model without scopes
    with pytest.raises(HypermodelError) as raised:
        hypermodel_trial(in_memory_study().ask(), fixed=fixed, train=train, reference=reference).build()
    line = one_line(raised.value)
    for expected in says:
        assert expected in line


def test_a_name_searched_by_train_and_by_the_hypermodel_stops_with_one_line():
    trial = in_memory_study().ask()
    built = hypermodel_trial(trial, train={"batch_size": [8, 16]}, reference=f"{__name__}:uncompiled")
    with pytest.raises(HypermodelError) as raised:
        built.build()
    assert one_line(raised.value) == (
        "train.batch_size: both train: and the hypermodel search a hyperparameter of this name; "
        "search it in one place"
    )
    # Where train: leaves it alone, the uncompiled model is the study's to compile.
    assert not hypermodel_trial(in_memory_study().ask(), reference=f"{__name__}:uncompiled").build().compiled


@pytest.mark.slow
def test_a_model_that_does_not_log_the_study_metric_stops_at_the_first_epoch():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")  # logs val_loss, not val_accuracy
    x, y = np.zeros((8, 2), "float32"), np.zeros(8, "int64")
    with pytest.raises(HypermodelError) as raised:
        model.fit(
            x, y, validation_data=(x, y), epochs=2, verbose=0, callbacks=[metric_check(["val_accuracy"])]
        )
    assert one_line(raised.value) == (
        "study.metric: the hypermodel's model logs val_loss, not val_accuracy; compile it with that "
        "metric, or choose study.metric among those"
    )


def test_kerastuner_can_drive_ressearch_sampling():
    space = ArchitectureSpace.from_dict({"block_type": ["basic", "plain"], "depth": {"low": 1, "high": 3}})
    hp = keras_tuner.HyperParameters()
    config = sample(HpSuggester(hp), space, input_shape=(16,), outputs=3)
    assert hp.values == {"block_type": "basic", "depth": 1}  # KerasTuner's defaults: the first, the low
    assert config == sample(optuna.trial.FixedTrial(hp.values), space, input_shape=(16,), outputs=3)
