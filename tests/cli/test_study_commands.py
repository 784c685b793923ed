"""Real tiny studies end to end through the CLI, on SQLite and on the local PostgreSQL.

One study per backend is run and resumed once (a module fixture); each test then checks one
thing of it, so an early failure does not hide the later ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from ressearch.config import load_study_file
from ressearch.data import load_dataset
from ressearch.search import TrialRecord
from ressearch.storage import load_study, open_storage
from ressearch.training import evaluate
from tests.helpers import cli, one_line, stored_config, stored_measurements, tiny_study, user_error

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class RanStudy:
    name: str
    storage: str
    path: Path
    outputs: list[str]  # stdout of the first run, the resume to 3 trials, and the run with nothing to do


@pytest.fixture(scope="module")
def ran(module_storage_url: str, tmp_path_factory: pytest.TempPathFactory) -> RanStudy:
    """A 2-trial study run, then resumed to a total of 3, then run again with nothing to add."""
    folder = tmp_path_factory.mktemp("study")
    storage = module_storage_url
    name = f"t-{uuid.uuid4().hex[:8]}"
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(tiny_study(name), sort_keys=False))
    artifacts = folder / "artifacts"
    outputs = []
    for extra in ([], ["--n-trials", "3"], ["--n-trials", "3"]):
        result = cli("run", path, "--storage", storage, "--artifacts", artifacts, *extra)
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    return RanStudy(name, storage, path, outputs)


def test_n_trials_is_the_total_and_resuming_adds_only_the_missing(ran):
    assert "2/2 trials" in ran.outputs[0]
    assert "3/3 trials" in ran.outputs[1] and "3/3 trials" in ran.outputs[2]
    assert [trial.number for trial in load_study(ran.name, ran.storage).trials] == [0, 1, 2]


def test_each_trial_records_its_network_curve_and_model(ran):
    study = load_study(ran.name, ran.storage)
    trial = study.best_trial
    record = TrialRecord.from_trial(trial)
    assert record.version == 3 and record.worker and record.model_artifact and record.network
    config, measured = stored_config(study, trial), stored_measurements(study, trial)
    assert config.architecture is not None and config.train is not None
    assert record.epochs is not None and len(measured.curve["val_accuracy"]) == record.epochs >= 1
    # Each epoch was reported to the pruner, and every measurable metric was recorded.
    assert sorted(trial.intermediate_values) == list(range(record.epochs))
    assert "latency" not in measured.metrics  # measured only where the study optimises it
    assert measured.metrics["model_params"] == record.model_params > 0
    assert record.metrics == {"val_accuracy": trial.value}  # the record keeps the objective only
    assert record.train_seconds > 0
    assert measured.seconds["fit"] > 0 and set(measured.seconds) >= {"sample", "build", "save", "upload"}


def test_export_rebuilds_the_network_and_the_model_scores_the_recorded_value(ran, tmp_path):
    study = load_study(ran.name, ran.storage)
    trial = study.best_trial
    record = TrialRecord.from_trial(trial)
    out = tmp_path / "export"
    exported = cli("export", ran.name, "--out", out, "--storage", ran.storage)
    assert exported.exit_code == 0, exported.output
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.keras", "metrics.json", "trials.csv"}
    config = json.loads((out / "config.json").read_text())
    assert config["architecture"] == stored_config(study, trial).architecture
    built = cli("build", out / "config.json", "--json")
    assert json.loads(built.stdout)["model_params"] == record.model_params

    import ressearch.arch.layers  # noqa: F401  (registers the custom layers for loading)

    model = keras.models.load_model(out / "model.keras")
    definition = load_study_file(ran.path)
    dataset = load_dataset(definition.data, seed=definition.settings.seed)
    assert abs(evaluate(model, dataset)["val_accuracy"] - trial.value) < 1e-3
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["value"] == trial.value and metrics["number"] == trial.number
    assert metrics["params"] == trial.params  # params: the sampled hyperparameters, as in Optuna

    assert "exists and is not empty" in user_error("export", ran.name, "--out", out, "--storage", ran.storage)


def test_best_trials_and_studies_read_the_study_back(ran):
    study = load_study(ran.name, ran.storage)
    trial = study.best_trial
    described = json.loads(cli("best", ran.name, "--storage", ran.storage, "--json").stdout)
    assert described["number"] == trial.number and described["value"] == trial.value
    assert described["params"] == trial.params and described["model_params"] > 0
    assert described["architecture"] == stored_config(study, trial).architecture
    assert described["network"] == TrialRecord.from_trial(trial).network
    shown = cli("best", ran.name, "--storage", ran.storage).stdout
    assert f"trial {trial.number}: val_accuracy" in shown
    assert described["network"] in " ".join(shown.split())  # wrapped at its commas
    assert max(len(line) for line in shown.splitlines()) <= 80, shown
    for key, value in trial.params.items():
        expected = f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
        assert expected in " ".join(shown.split()), (expected, shown)

    csv = cli("trials", ran.name, "--storage", ran.storage, "--format", "csv")
    assert csv.exit_code == 0 and csv.stdout.count("\n") == 4
    assert "param_width" in csv.stdout.splitlines()[0]
    rows = json.loads(cli("trials", ran.name, "--storage", ran.storage, "--format", "json").stdout)
    assert [row["number"] for row in rows] == [0, 1, 2]
    assert json.loads(cli("trials", ran.name, "--storage", ran.storage, "--json").stdout) == rows
    listed = json.loads(cli("studies", "--storage", ran.storage, "--json").stdout)
    assert any(row["name"] == ran.name and row["trials"] == 3 for row in listed)
    table = cli("studies", "--storage", ran.storage)
    assert table.exit_code == 0 and ran.name in table.stdout


def test_optunas_own_cli_reads_the_study(ran):
    # An ordinary Optuna study: Optuna's own CLI reads it without ressearch.
    optuna_cli = Path(sys.executable).with_name("optuna")
    listed = subprocess.run(
        [optuna_cli, "trials", "--study-name", ran.name, "--storage", ran.storage, "-f", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(json.loads(listed.stdout)) == 3


def test_legacy_metric_name_params_still_runs(write_study, unique_name, tmp_path):
    # Study files written before `model_params` say `params`: read as the same metric.
    storage = f"sqlite:///{tmp_path / 'legacy.db'}"
    study = tiny_study(unique_name, study={"n_trials": 1, "sampler": "nsga2"})
    del study["study"]["direction"], study["study"]["metric"]
    study["study"]["metrics"] = ["val_accuracy", "params"]
    result = cli("run", write_study(study), "--storage", storage)
    assert result.exit_code == 0, result.output
    assert load_study(unique_name, storage).metric_names == ["val_accuracy", "model_params"]


def test_multi_objective_exports_the_pareto_set(write_study, unique_name, tmp_path):
    storage = f"sqlite:///{tmp_path / 'multi.db'}"
    study = tiny_study(unique_name)
    del study["study"]["direction"], study["study"]["metric"]
    study["study"].update({"metrics": ["val_accuracy", "model_params"], "sampler": "nsga2", "n_trials": 3})
    result = cli("run", write_study(study), "--storage", storage)
    assert result.exit_code == 0, result.output
    assert "pruning is not used" in result.stderr
    out = tmp_path / "pareto"
    assert cli("export", unique_name, "--out", out, "--storage", storage).exit_code == 0
    pareto = json.loads((out / "pareto.json").read_text())
    assert pareto and all((out / item["folder"] / "model.keras").is_file() for item in pareto)
    assert all(len(item["values"]) == 2 for item in pareto)
    # --trial N: one trial of the set, in the folder itself (no pareto.json), with both values.
    one = pareto[-1]["number"]
    chosen = cli("export", unique_name, "--out", tmp_path / "one", "--storage", storage, "--trial", one)
    assert chosen.exit_code == 0, chosen.output
    assert (tmp_path / "one" / "model.keras").is_file() and not (tmp_path / "one" / "pareto.json").exists()
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["values"] == pareto[-1]["values"]
    # --refit retrains every trial of the set; --ensemble has no single ranking to take K from.
    refit = cli("export", unique_name, "--out", tmp_path / "refit", "--storage", storage, "--refit")
    assert refit.exit_code == 0, refit.output
    for item in pareto:
        done = json.loads((tmp_path / "refit" / item["folder"] / "metrics.json").read_text())["refit"]
        assert (done["train_rows"], done["validation_rows"]) == (400, 0)
    assert refit.stdout.count("refit trial ") == len(pareto)
    message = user_error(
        "export", unique_name, "--out", tmp_path / "mean", "--storage", storage, "--ensemble", 2
    )
    assert "has 2 objectives" in message


def test_a_failing_trial_fails_alone(write_study, unique_name, tmp_path):
    storage = f"sqlite:///{tmp_path / 'fail.db'}"
    # A grid of two widths: exactly one model is over the limit, and the other still trains.
    study = tiny_study(
        unique_name,
        study={"max_params": 2000, "n_trials": 2, "sampler": "grid"},
        space={"block_type": "basic", "width": [4, 64]},
    )
    result = cli("run", write_study(study), "--storage", storage)
    assert result.exit_code == 0, result.output
    assert "above study.max_params=2,000" in result.stderr
    by_width = {t.params["width"]: t for t in load_study(unique_name, storage).trials}
    assert by_width[64].state == optuna.trial.TrialState.FAIL
    assert "above study.max_params=2,000" in TrialRecord.from_trial(by_width[64]).fail_reason
    assert by_width[4].state == optuna.trial.TrialState.COMPLETE


def test_a_csv_the_tests_never_saw(write_study, unique_name, tmp_path):
    rng = np.random.default_rng(7)
    rows = 240
    size = rng.normal(50, 10, rows)
    colour = rng.choice(["red", "green", "blue"], rows)
    score = size + np.where(colour == "red", 15, 0) + rng.normal(0, 3, rows)
    label = np.where(score > np.median(score), "high", "low")
    lines = ["size,colour,noise,label"]
    for i in range(rows):
        noise = "" if i % 17 == 0 else f"{rng.normal():.3f}"
        lines.append(f"{size[i]:.2f},{colour[i]},{noise},{label[i]}")
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    study = tiny_study(unique_name, space={"stages": 1, "depth": [1, 2], "width": [8, 16]})
    study["data"] = {"source": "csv:rows.csv", "target": "label", "validation_split": 0.25}
    study["study"]["metric"] = "val_auc"
    storage = f"sqlite:///{tmp_path / 'csv.db'}"
    path = write_study(study, "my-study.yaml")
    assert cli("run", path, "--storage", storage).exit_code == 0
    resumed = cli("run", path, "--storage", storage, "--n-trials", "3")
    assert resumed.exit_code == 0, resumed.output
    assert len(load_study(unique_name, storage).trials) == 3
    out = tmp_path / "best"
    assert cli("export", unique_name, "--out", out, "--storage", storage).exit_code == 0
    recipe = json.loads((out / "preprocessing.json").read_text())
    assert recipe["class_names"] == ["high", "low"] and recipe["kind"] == "csv" and recipe["version"] == 2

    # The study's raw validation rows, label column and all, scored by `ressearch predict`,
    # give the validation accuracy the best trial recorded.
    definition = load_study_file(path)
    val_rows = load_dataset(definition.data, seed=definition.settings.seed).val_rows
    raw = pd.read_csv(tmp_path / "rows.csv")
    raw.iloc[val_rows].to_csv(tmp_path / "val.csv", index=False)
    scored = cli("predict", out, tmp_path / "val.csv", "--proba", "--out", tmp_path / "scored.csv")
    assert scored.exit_code == 0, scored.output
    assert "ignored columns not used by the model: label" in scored.stderr
    predictions = pd.read_csv(tmp_path / "scored.csv")
    assert list(predictions.columns) == ["row", "prediction", "proba_high", "proba_low"]
    assert list(predictions["row"]) == list(range(len(val_rows)))
    accuracy = float(np.mean(predictions["prediction"].to_numpy() == raw["label"].to_numpy()[val_rows]))
    study = load_study(unique_name, storage)
    measured = stored_measurements(study, study.best_trial)  # every metric, not only the objective
    assert accuracy == pytest.approx(measured.metrics["val_accuracy"], abs=1e-6)
    np.testing.assert_allclose(predictions[["proba_high", "proba_low"]].sum(axis=1), 1.0, rtol=1e-6)
    # The same from Python, on a frame without the label.
    import ressearch

    frame = ressearch.predict(out, raw.iloc[val_rows].drop(columns="label"), proba=True)
    np.testing.assert_allclose(frame["proba_high"], predictions["proba_high"], rtol=1e-5)
    assert user_error("predict", out, tmp_path / "nope.csv").endswith("nope.csv: no such file or folder")


def test_password_in_storage_url_never_appears(write_study, unique_name, tmp_path, postgres_url):
    secret = "hunter2-very-secret"
    unreachable = f"postgresql://postgres:{secret}@127.0.0.1:1/nowhere"
    refused = cli("run", write_study(tiny_study(unique_name)), "--storage", unreachable)
    assert refused.exit_code == 4, refused.output  # a storage that cannot be used now
    message = one_line(refused.stderr)
    assert secret not in message and "postgres:***@" in message
    # Trust auth accepts any password: a real run on PostgreSQL with one in the URL.
    with_password = postgres_url.replace("postgres@", f"postgres:{secret}@")
    result = cli(
        "run", write_study(tiny_study(unique_name, study={"n_trials": 1})), "--storage", with_password
    )
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    out = tmp_path / "export"
    assert cli("export", unique_name, "--out", out, "--storage", with_password).exit_code == 0
    for file in out.rglob("*"):
        if file.is_file() and file.suffix != ".keras":
            assert secret not in file.read_text()
    assert secret not in json.dumps(load_study(unique_name, postgres_url).user_attrs)


BAD_STUDIES = [
    ({"study": {"nmae": "x"}}, "study.nmae: unknown key (did you mean 'name'?)"),
    ({"study": {"n_trials": "many"}}, "study.n_trials: Input should be a valid integer"),
    (
        {"space": {"width": {"low": 64, "high": 8}}},
        "space.width: `low <= high` must hold, got low=64, high=8",
    ),
    ({"data": {"source": "csv:missing.csv", "target": "y"}}, "missing.csv"),
    ({"space": {"block_type": ["basic", "densenet"]}}, "space.block_type[1]: Input should be 'basic'"),
    ({"study": {"metric": "val_f1"}}, "study.metric: Input should be 'val_accuracy', 'val_loss'"),
    ({"study": {"metric": "val_rmse"}}, "study.metric: val_rmse cannot be measured on a multiclass task"),
    (
        {"train": {"optimizer": "lbfgs"}},
        "train.optimizer: Input should be 'adam', 'adamw', 'sgd' or 'rmsprop'",
    ),
    (
        {
            "data": {"source": "builtin:diabetes"},
            "study": {"metric": "val_rmse", "direction": "minimize"},
            "train": {"label_smoothing": 0.1},
        },
        "train.label_smoothing: smooths class labels, and this task is regression",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD_STUDIES)
def test_bad_study_files_exit_2_with_one_line(write_study, unique_name, tmp_path, change, message):
    study = tiny_study(unique_name)
    for section, values in change.items():
        study[section] = {**study[section], **values}
    path = write_study(study)
    storage = tmp_path / "bad.db"
    assert message in user_error("run", path, "--storage", f"sqlite:///{storage}")
    assert not list(tmp_path.glob("*.artifacts"))
    if storage.exists():  # nothing half-written: no study was created
        assert not optuna.get_all_study_summaries(f"sqlite:///{storage}")


def test_unknown_study_and_bad_yaml(write_study, tmp_path):
    storage = f"sqlite:///{tmp_path / 'empty.db'}"
    open_storage(storage, heartbeat=False)  # a database with no study
    assert f"study 'nope' is not in {storage} " in user_error("best", "nope", "--storage", storage)
    path = tmp_path / "broken.yaml"
    path.write_text("study: [unclosed\n")
    assert f"{path}: not valid YAML at line" in user_error("run", path, "--storage", storage)
