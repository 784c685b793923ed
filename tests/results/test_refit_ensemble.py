"""`export --refit` and `export --ensemble K` on one real tiny study: what they train and load,
what they record, that `predict` serves them unchanged, and every bad combination as one line.

The study: four trials of a small residual MLP on 300 of breast_cancer's 569 rows (a quarter
kept for validation), early stopping on; the other 269 rows are held out from everything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_breast_cancer

import ressearch
from ressearch.config import StudyDefinition, TrainConfig
from ressearch.config.data import DataConfig
from ressearch.data import load_dataset
from ressearch.errors import ConfigError
from ressearch.results import export_study
from ressearch.results.ensemble import ensemble_members
from ressearch.results.refit import refit_epochs
from ressearch.search import TrialRecord, run_study
from ressearch.storage import download_model, load_study
from tests.helpers import cli, one_line, stored_config, stored_measurements, tiny_study, user_error

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Study:
    name: str
    storage: str
    artifacts: Path
    definition: StudyDefinition
    plain: Path  # the best trial exported as it is


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    folder = tmp_path_factory.mktemp("refit")
    name = "refit"
    definition = StudyDefinition.from_dict(
        tiny_study(
            name,
            study={"n_trials": 4, "pruner": "none"},
            data={"source": "builtin:breast_cancer", "max_rows": 300, "validation_split": 0.25},
            space={"block_type": ["basic", "preact"], "width": [8, 16]},
            train={"epochs": 4, "batch_size": 32, "early_stopping_patience": 2},
        )
    )
    storage = f"sqlite:///{folder / 'studies.db'}"
    summary = run_study(definition, storage=storage, artifacts=folder / "artifacts")
    assert summary.complete == 4, summary
    export_study(name, folder / "plain", storage=storage)
    return Study(name, storage, folder / "artifacts", definition, folder / "plain")


def _held_out() -> tuple[np.ndarray, np.ndarray]:
    """Raw rows none of the study's trials saw (outside its seeded subsample of 300), and their
    class names."""
    from ressearch.data.split import subsample

    data = load_breast_cancer()
    names = tuple(str(name) for name in data.target_names)
    used = subsample(data.target, "classification", names, size=300, seed=0, notes=[])
    unseen = np.setdiff1d(np.arange(len(data.target)), used)
    validation = load_dataset(DataConfig(source="builtin:breast_cancer", max_rows=300), seed=0).val_rows
    assert len(unseen) == 269 and not set(unseen) & set(validation)  # the same subsample as the study's
    return data.data[unseen], np.asarray(names)[data.target[unseen]]


def test_refit_trains_on_training_and_validation_rows_for_the_epochs_it_needed(study, tmp_path):
    out = tmp_path / "refit"
    result = cli("export", study.name, "--out", out, "--storage", study.storage, "--refit")
    assert result.exit_code == 0, result.output
    stored = load_study(study.name, study.storage)
    best = stored.best_trial
    metrics = json.loads((out / "metrics.json").read_text())
    refit = metrics["refit"]
    # Every row of the study trained, none left for validation; the epochs: where early stopping
    # restored the trial's weights.
    assert (refit["train_rows"], refit["searched_train_rows"], refit["validation_rows"]) == (300, 225, 0)
    train = stored_config(stored, best).train
    epochs, why = refit_epochs(
        stored_measurements(stored, best).curve,
        TrainConfig.from_dict(train),
        metric="val_accuracy",
        direction="maximize",
    )
    assert (refit["epochs"], refit["epochs_from"]) == (epochs, why)
    assert why.startswith("early stopping")
    assert refit["seed"] == TrialRecord.from_trial(best).seed
    assert set(refit["train_metrics"]) >= {"loss", "accuracy"}
    assert not any(name.startswith("val_") for name in refit["train_metrics"])
    assert (
        f"refit trial {best.number} on 300 rows (training + validation) for {epochs} epochs" in result.stdout
    )
    # The recipe was fitted on the rows the refit trained on: training and validation rows.
    merged = load_dataset(study.definition.data, seed=0, merge_validation=True)
    recipe = json.loads((out / "preprocessing.json").read_text())
    assert recipe == json.loads(
        json.dumps({**merged.preprocessing, "class_names": ["malignant", "benign"], "model_input": "raw"})
    )
    assert recipe != json.loads((study.plain / "preprocessing.json").read_text())
    assert json.loads((out / "config.json").read_text()) == json.loads(
        (study.plain / "config.json").read_text()
    )

    # predict serves it from raw rows, unchanged; it is another model than the trial's own.
    rows, labels = _held_out()
    refit_scores = ressearch.predict(out, rows, proba=True)
    plain_scores = ressearch.predict(study.plain, rows, proba=True)
    assert not np.allclose(refit_scores["proba_benign"], plain_scores["proba_benign"])
    accuracy = float(np.mean(refit_scores["prediction"].to_numpy() == labels))
    plain_accuracy = float(np.mean(plain_scores["prediction"].to_numpy() == labels))
    assert accuracy > 0.8, (accuracy, plain_accuracy)  # a sanity floor: 63 % are one class


def test_an_ensemble_predicts_the_mean_of_its_members(study, tmp_path):
    out = tmp_path / "ensemble"
    result = cli(
        "export",
        study.name,
        "--out",
        out,
        "--storage",
        study.storage,
        "--ensemble",
        3,
        "-f",
        "keras,savedmodel",
    )
    assert result.exit_code == 0, result.output
    stored = load_study(study.name, study.storage)
    ranked = sorted(
        stored.get_trials(states=(optuna.trial.TrialState.COMPLETE,)), key=lambda t: (-t.value, t.number)
    )[:3]
    metrics = json.loads((out / "metrics.json").read_text())
    members = metrics["ensemble"]["members"]
    assert [(m["trial"], m["value"]) for m in members] == [(t.number, t.value) for t in ranked]
    assert set(metrics["ensemble"]["validation"]) >= {"val_accuracy", "val_loss"}
    assert sorted(path.name for path in (out / "members").iterdir()) == sorted(
        f"trial-{t.number}" for t in ranked
    )
    assert json.loads((out / "preprocessing.json").read_text()) == json.loads(
        (study.plain / "preprocessing.json").read_text()
    )
    assert "the mean of trials " + ", ".join(str(t.number) for t in ranked) in result.stdout

    # The averaged model's probabilities are the mean of the members' own, on raw rows through predict.
    rows, _ = _held_out()
    recipe = json.loads((out / "preprocessing.json").read_text())
    from ressearch.arch.saving import load_model
    from ressearch.data.recipes import apply_preprocessing

    x = apply_preprocessing(recipe, rows)
    member_outputs = []
    for trial in ranked:
        path = tmp_path / f"member-{trial.number}.keras"
        download_model(
            study.artifacts, TrialRecord.from_trial(trial).model_artifact, path, trial_number=trial.number
        )
        member_outputs.append(load_model(path).predict(x, verbose=0))
    mean = np.mean(member_outputs, axis=0)[:, 0]
    scores = ressearch.predict(out, rows, proba=True)
    np.testing.assert_allclose(scores["proba_benign"].to_numpy(), mean, rtol=1e-5, atol=1e-6)
    import tensorflow as tf

    serving = tf.saved_model.load(str(out / "savedmodel"))  # held: its functions use its variables
    served = serving.serve(np.asarray(rows, dtype=np.float32)).numpy()[:, 0]  # raw rows: the recipe is inside
    np.testing.assert_allclose(served, mean, rtol=1e-5, atol=1e-6)


def test_export_trial_n_writes_that_trial_and_refits_it(study, tmp_path):
    stored = load_study(study.name, study.storage)
    worst = min(
        stored.get_trials(states=(optuna.trial.TrialState.COMPLETE,)), key=lambda t: (t.value, -t.number)
    )
    assert worst.number != stored.best_trial.number
    out = tmp_path / "chosen"
    result = cli("export", study.name, "--out", out, "--storage", study.storage, "--trial", worst.number)
    assert result.exit_code == 0, result.output
    assert f"exported trial {worst.number} of {study.name} to {out}" in result.stdout
    assert json.loads((out / "config.json").read_text())["trial"] == worst.number
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["number"], metrics["value"]) == (worst.number, worst.value)
    # Its model is the trial's own stored network (the recipe inside), not the best trial's.
    rows, _ = _held_out()
    from ressearch.arch.saving import load_model
    from ressearch.data.recipes import apply_preprocessing

    own = tmp_path / "own.keras"
    download_model(
        study.artifacts, TrialRecord.from_trial(worst).model_artifact, own, trial_number=worst.number
    )
    x = apply_preprocessing(json.loads((out / "preprocessing.json").read_text()), rows)
    expected = load_model(own).predict(x, verbose=0)[:, 0]
    scores = ressearch.predict(out, rows, proba=True)
    np.testing.assert_allclose(scores["proba_benign"].to_numpy(), expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(
        scores["proba_benign"], ressearch.predict(study.plain, rows, proba=True)["proba_benign"]
    )

    refit = export_study(
        study.name, tmp_path / "chosen-refit", storage=study.storage, refit=True, trial=worst.number
    )
    assert refit.trials == [worst.number] and refit.refits[0]["trial"] == worst.number
    assert json.loads((tmp_path / "chosen-refit" / "metrics.json").read_text())["refit"]["train_rows"] == 300


def test_an_export_in_a_fresh_process_prints_its_line_and_nothing_of_tensorflows(study, tmp_path):
    """The model is loaded to put the recipe inside it; TensorFlow's C++ start-up lines (absl,
    CUDA stubs) stay off the user's terminal, as in every other command."""
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "RESSEARCH_TF_VERBOSE"}
    out = tmp_path / "fresh"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ressearch",
            "export",
            study.name,
            "--out",
            str(out),
            "--storage",
            study.storage,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("exported trial ") and (out / "model.keras").is_file()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--ensemble", 1], "--ensemble: K must be at least 2, got 1"),
        (["--ensemble", 0], "--ensemble: K must be at least 2, got 0"),
        (["--ensemble", 9], "--ensemble 9: study 'refit' has only 4 complete trial(s) with a stored model"),
        (["--ensemble", 2, "--refit"], "--refit and --ensemble: choose one"),
        (["--ensemble", 2, "--trial", 1], "--trial and --ensemble: choose one"),
        (["--trial", 9], "--trial: study 'refit' has no trial 9; it has trials 0-3"),
    ],
)
def test_a_bad_k_or_combination_is_one_line_and_writes_nothing(study, tmp_path, flags, expected):
    out = tmp_path / "never"
    message = user_error("export", study.name, "--out", out, "--storage", study.storage, *flags)
    assert expected in message
    assert not out.exists()
    assert not list(tmp_path.glob(".never-*"))


def test_a_study_of_several_objectives_has_no_ensemble_ranking():
    several = optuna.create_study(directions=["maximize", "minimize"])
    with pytest.raises(ConfigError) as raised:
        ensemble_members(several, 2)
    assert "has 2 objectives" in one_line(raised.value)


def test_export_help_lists_what_each_option_writes():
    result = cli("export", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for written in (
        "--refit",
        "--ensemble",
        "--trial",
        "members/trial-N/config.json",
        "metrics.json",
        "preprocessing.json",
    ):
        assert written in text
