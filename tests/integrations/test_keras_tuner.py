"""The KerasTuner bridge end to end: hypermodels run as ressearch studies, exported and loaded.

From Python (``ressearch.keras_tuner.run``, with pruning and SQLite), from a study file through
``ressearch run --workers 2`` (worker processes import the hypermodel from the study file's
folder), and KerasTuner's own ``HyperResNet`` on the digits: each study trains real networks,
exports the best, and the export loads with plain Keras and scores what the study recorded.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import keras
import keras_tuner
import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState
from sklearn.datasets import load_digits

import ressearch.keras_tuner
from ressearch.config import HypermodelConfig, load_study_file
from ressearch.data import load_dataset
from ressearch.results import export_study
from ressearch.search import TrialRecord
from ressearch.storage import load_study
from tests.helpers import cli, one_line, stored_config, stored_measurements
from tests.search.helpers import RESSEARCH

pytestmark = pytest.mark.slow

DATA = {"source": "builtin:digits", "max_rows": 300, "validation_split": 0.25}
GOOD, STILL = 0.02, 1e-9  # learning rates: one that learns in two epochs, one that does not


def build(hp: keras_tuner.HyperParameters, input_shape: tuple[int, ...], classes: int) -> keras.Model:
    """A tiny build(hp) function: the data's shape and classes come as arguments."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hp.Int("units", 8, 16, step=8), activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))
    optimizer = keras.optimizers.Adam(hp.Choice("lr", [GOOD, STILL]))
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_python_api_runs_a_hypermodel_with_pruning_and_sqlite(tmp_path, unique_name):
    storage = f"sqlite:///{tmp_path / 'kt.db'}"
    events = []
    common = {
        "data": DATA,
        "study": {"name": unique_name, "metric": "val_accuracy", "sampler": "random", "pruner": "median"},
        "fixed": {"units": 8},
        "train": {"epochs": 3, "batch_size": 32},
        "storage": storage,
        "artifacts": tmp_path / "artifacts",
    }
    first = ressearch.keras_tuner.run(build, **common, n_trials=1, on_epoch=events.append)
    assert first.done == 1 and [event.epoch for event in events] == [0, 1, 2, 3]
    # Two trials that learn, then one that cannot: the median pruner stops it after its second epoch.
    study = optuna.load_study(study_name=unique_name, storage=storage)
    for rate in (GOOD, GOOD, STILL):
        study.enqueue_trial({"lr": rate})
    summary = ressearch.keras_tuner.run(build, **common, n_trials=4)
    assert (summary.done, summary.complete, summary.pruned, summary.failed) == (4, 3, 1, 0)

    stored = load_study(unique_name, storage)
    trials = stored.trials
    for trial in trials:
        config = stored_config(stored, trial)
        network = HypermodelConfig.from_dict(config.hypermodel)
        assert network.hypermodel == f"{__name__}:build" and config.architecture is None
        assert network.input_shape == (8, 8, 1) and network.classes == 10
        # The fixed value is recorded, not searched; the hypermodel compiled: fit's settings only.
        assert network.hyperparameters == {"units": 8, "lr": trial.params["lr"]} and list(trial.params) == [
            "lr"
        ]
        assert config.train == {
            "schema_version": 1,
            "epochs": 3,
            "batch_size": 32,
            "early_stopping_patience": None,
        }
        curve = stored_measurements(stored, trial).curve
        assert len(trial.intermediate_values) == len(curve["val_accuracy"])
    pruned = trials[3]
    assert pruned.state == TrialState.PRUNED and pruned.params == {"lr": STILL}
    assert len(stored_measurements(stored, pruned).curve["loss"]) == 2
    assert all(trial.state == TrialState.COMPLETE for trial in trials[:3])
    # Run again: the study is whole, nothing more runs.
    again = ressearch.keras_tuner.run(build, **common, n_trials=4)
    assert again.done_before == 4 and len(load_study(unique_name, storage).trials) == 4
    # The best network refits through its hypermodel (no fit of its own) on all 300 rows.
    out = tmp_path / "refit"
    export_study(unique_name, out, storage=storage, refit=True)
    refit = json.loads((out / "metrics.json").read_text())["refit"]
    assert (refit["train_rows"], refit["validation_rows"]) == (300, 0)
    assert 1 <= refit["epochs"] <= 3
    assert len(ressearch.predict(out, load_digits().images[:5])) == 5


def test_an_instance_without_a_name_is_refused_at_once(tmp_path):
    class Local(keras_tuner.HyperModel):
        def build(self, hp):
            raise AssertionError("never built")

    with pytest.raises(ressearch.ConfigError) as raised:
        ressearch.keras_tuner.run(Local(), data=DATA, study={"name": "x", "metric": "val_accuracy"})
    assert "pass its class and arguments" in one_line(raised.value)


HYPERMODEL = """
import keras
import keras_tuner


class Net(keras_tuner.HyperModel):
    def __init__(self, input_shape, classes, width=8, **kwargs):
        super().__init__(**kwargs)
        self.input_shape, self.classes, self.width = input_shape, classes, width

    def build(self, hp):
        inputs = keras.Input(self.input_shape)
        x = keras.layers.Conv2D(self.width * hp.Int("multiplier", 1, 2), 3, activation="relu")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        head = hp.Choice("head", ["dense", "none"])
        with hp.conditional_scope("head", ["dense"]):
            if head == "dense":
                x = keras.layers.Dense(hp.Choice("head_units", [8, 16]), activation="relu")(x)
        model = keras.Model(inputs, keras.layers.Dense(self.classes, activation="softmax")(x))
        model.compile(keras.optimizers.Adam(0.02), "categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):  # KerasTuner's hook: this one picks the batch size
        return model.fit(*args, batch_size=hp.Choice("batch_size", [32, 64]), **kwargs)
"""


def run_cli(*args: object) -> str:
    """The output of a ``ressearch`` command run in-process (it must succeed)."""
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_study_file_runs_a_hypermodel_with_workers_and_exports_it(tmp_path, unique_name):
    module = f"hm_{uuid.uuid4().hex[:8]}"
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / f"{module}.py").write_text(HYPERMODEL)
    study_file = studies / "study.yaml"
    study = {
        "study": {"name": unique_name, "metric": "val_accuracy", "n_trials": 3, "sampler": "random"},
        "data": DATA,
        "space": {"hypermodel": f"{module}:Net", "arguments": {"width": 4}},
        "train": {"epochs": 2},
    }
    study_file.write_text(yaml.safe_dump(study, sort_keys=False))
    elsewhere = tmp_path / "elsewhere"  # the module is found beside the study file, not in the cwd
    elsewhere.mkdir()
    storage = f"sqlite:///{tmp_path / 'kt.db'}"
    common = ["--storage", storage, "--artifacts", tmp_path / "artifacts"]
    # Worker processes: each imports the module from the study file's folder, wherever they start.
    workers = subprocess.run(
        [*RESSEARCH, "run", study_file, "--workers", "2", *map(str, common)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert workers.returncode == 0, workers.stdout + workers.stderr

    study = load_study(unique_name, storage)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 3
    for trial in trials:
        values = stored_config(study, trial).hypermodel["hyperparameters"]
        # Only the active branch is searched; the batch size the hypermodel's fit chose is recorded.
        assert values == trial.params and {"multiplier", "head", "batch_size"} <= set(values)
        assert ("head_units" in values) == (values["head"] == "dense")
    best = run_cli("best", unique_name, "--storage", storage)
    assert f"Net ({module}:Net)" in best and "multiplier=" in best

    out = tmp_path / "export"
    # Its own fit(hp, model, ...) cannot be replayed without validation rows: no refit.
    refused = cli("export", unique_name, "--out", out, "--storage", storage, "--refit")
    assert refused.exit_code == 2 and "own fit(hp, model, ...)" in one_line(refused.stderr)
    run_cli("export", unique_name, "--out", out, "--storage", storage)
    config = json.loads((out / "config.json").read_text())
    best_study = load_study(unique_name, storage)
    record = TrialRecord.from_trial(best_study.best_trial)
    assert config["hypermodel"] == stored_config(best_study, best_study.best_trial).hypermodel
    assert "architecture" not in config
    assert config["hypermodel"]["arguments"] == {"width": 4}
    # Its fit picked the batch size (a hyperparameter above): train keeps what ressearch decided.
    assert config["train"] == {"schema_version": 1, "epochs": 2, "early_stopping_patience": None}

    # The model loads with plain Keras, and scores the recorded accuracy on the validation rows.
    model = keras.models.load_model(out / "model.keras")
    dataset = load_dataset(load_study_file(study_file).data, seed=0)
    raw = load_digits().images[dataset.val_rows]
    assert model.predict(dataset.x_val, verbose=0).shape == (len(raw), 10)
    np.savez(tmp_path / "val.npz", x=raw)
    scored = pd.read_csv(pd.io.common.StringIO(run_cli("predict", out, tmp_path / "val.npz")))
    accuracy = float(np.mean(scored["prediction"].to_numpy() == load_digits().target[dataset.val_rows]))
    assert accuracy == pytest.approx(record.metrics["val_accuracy"], abs=1e-6)

    # `ressearch build` rebuilds the network through the hypermodel from the export alone.
    built = json.loads(run_cli("build", out / "config.json", "--json"))
    assert built["model_params"] == model.count_params() == record.model_params


def test_hyperresnet_runs_through_the_bridge_and_its_export_loads(tmp_path, unique_name):
    """KerasTuner's HyperResNet, its depth fixed to the smallest (ResNet-50 v2, 23.6M parameters)
    and SGD (no optimizer slots in the saved file): 1 trial of 1 epoch on 120 digits (40 s of fit)."""
    study_file = tmp_path / "study.yaml"
    study = {
        "study": {
            "name": unique_name,
            "metric": "val_accuracy",
            "n_trials": 1,
            "sampler": "random",
            "pruner": "none",
        },
        "data": {"source": "builtin:digits", "max_rows": 160, "validation_split": 0.25},
        "space": {
            "hypermodel": "keras_tuner.applications:HyperResNet",
            "fixed": {"version": "v2", "conv3_depth": 4, "conv4_depth": 6, "optimizer": "sgd"},
        },
        "train": {"epochs": 1, "batch_size": 128},
    }
    study_file.write_text(yaml.safe_dump(study, sort_keys=False))
    storage = f"sqlite:///{tmp_path / 'kt.db'}"
    result = cli("run", study_file, "--storage", storage, "--artifacts", tmp_path / "artifacts")
    assert result.exit_code == 0, result.output
    trials = load_study(unique_name, storage).trials
    assert [trial.state for trial in trials] == [TrialState.COMPLETE]
    assert all(set(trial.params) == {"pooling", "learning_rate"} for trial in trials)

    out = tmp_path / "export"
    export_study(unique_name, out, storage=storage)
    record = TrialRecord.from_trial(load_study(unique_name, storage).best_trial)
    values = json.loads((out / "config.json").read_text())["hypermodel"]["hyperparameters"]
    assert values == {**values, "version": "v2", "conv3_depth": 4, "conv4_depth": 6, "optimizer": "sgd"}
    model = keras.models.load_model(out / "model.keras")
    assert model.count_params() == record.model_params == 23_579_018
    dataset = load_dataset(load_study_file(study_file).data, seed=0)
    scored = ressearch.predict(out, load_digits().images[dataset.val_rows])  # class names: "0" to "9"
    predicted = scored["prediction"].astype(int).to_numpy()
    accuracy = float(np.mean(predicted == load_digits().target[dataset.val_rows]))
    assert accuracy == pytest.approx(record.metrics["val_accuracy"], abs=1e-6)
