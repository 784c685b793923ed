"""Real tiny studies end to end through the CLI, on SQLite and on the local PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import optuna
import pytest
from conftest import tiny_study
from typer.testing import CliRunner

from ressearch.cli import app
from ressearch.data import load_dataset
from ressearch.study import load_study
from ressearch.studyfile import load_study_file
from ressearch.training import evaluate

runner = CliRunner()
pytestmark = pytest.mark.slow


def cli(*args: str):
    return runner.invoke(app, [str(arg) for arg in args])


def test_run_resume_export_rebuild_load(storage_url, write_study, unique_name, tmp_path):
    path = write_study(tiny_study(unique_name))
    first = cli("run", path, "--storage", storage_url)
    assert first.exit_code == 0, first.output
    assert "2/2 trials" in first.stdout
    study = load_study(unique_name, storage_url)
    assert len(study.trials) == 2

    # n_trials is the total: a second run adds only the missing trials.
    second = cli("run", path, "--storage", storage_url, "--n-trials", "3")
    assert second.exit_code == 0, second.output
    assert [trial.number for trial in load_study(unique_name, storage_url).trials] == [0, 1, 2]
    third = cli("run", path, "--storage", storage_url, "--n-trials", "3")
    assert third.exit_code == 0 and "3/3 trials" in third.stdout
    study = load_study(unique_name, storage_url)
    assert len(study.trials) == 3

    trial = study.best_trial
    for key in ("architecture", "train", "model_params", "curve", "train_seconds", "model_artifact"):
        assert key in trial.user_attrs, key
    assert len(trial.user_attrs["curve"]["val_accuracy"]) == trial.user_attrs["epochs"] >= 1
    # Each epoch was reported to the pruner, and every measurable metric was recorded.
    assert sorted(trial.intermediate_values) == list(range(trial.user_attrs["epochs"]))
    assert trial.user_attrs["metrics"]["latency"] > 0
    assert trial.user_attrs["metrics"]["params"] == trial.user_attrs["model_params"]

    out = tmp_path / "export"
    exported = cli("export", unique_name, "--out", out, "--storage", storage_url)
    assert exported.exit_code == 0, exported.output
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.keras", "metrics.json", "trials.csv"}
    config = json.loads((out / "config.json").read_text())
    built = cli("build", out / "config.json", "--json")
    assert json.loads(built.stdout)["params"] == trial.user_attrs["model_params"]

    import ressearch.layers  # noqa: F401  (registers the custom layers for loading)

    model = keras.models.load_model(out / "model.keras")
    definition = load_study_file(path)
    dataset = load_dataset(definition.data, seed=definition.settings.seed)
    assert abs(evaluate(model, dataset)["val_accuracy"] - trial.value) < 1e-3
    assert config["architecture"] == trial.user_attrs["architecture"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["value"] == trial.value and metrics["number"] == trial.number

    best = cli("best", unique_name, "--storage", storage_url, "--json")
    described = json.loads(best.stdout)
    assert {"number", "value", "params", "architecture"} <= set(described)
    assert described["number"] == trial.number

    csv = cli("trials", unique_name, "--storage", storage_url, "--format", "csv")
    assert csv.exit_code == 0 and csv.stdout.count("\n") == 4
    rows = json.loads(cli("trials", unique_name, "--storage", storage_url, "--format", "json").stdout)
    assert [row["number"] for row in rows] == [0, 1, 2]
    listed = json.loads(cli("studies", "--storage", storage_url, "--json").stdout)
    assert any(row["name"] == unique_name and row["trials"] == 3 for row in listed)

    # An ordinary Optuna study: Optuna's own CLI reads it without ressearch.
    optuna_cli = Path(sys.executable).with_name("optuna")
    listed_by_optuna = subprocess.run(
        [optuna_cli, "trials", "--study-name", unique_name, "--storage", storage_url, "-f", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(json.loads(listed_by_optuna.stdout)) == 3

    again = cli("export", unique_name, "--out", out, "--storage", storage_url)
    assert again.exit_code == 2 and "exists and is not empty" in again.stderr


def test_multi_objective_exports_the_pareto_set(write_study, unique_name, tmp_path):
    storage = f"sqlite:///{tmp_path / 'multi.db'}"
    study = tiny_study(unique_name)
    del study["study"]["direction"], study["study"]["metric"]
    study["study"].update({"metrics": ["val_accuracy", "params"], "sampler": "nsga2", "n_trials": 3})
    result = cli("run", write_study(study), "--storage", storage)
    assert result.exit_code == 0, result.output
    assert "pruning is not used" in result.stderr
    out = tmp_path / "pareto"
    assert cli("export", unique_name, "--out", out, "--storage", storage).exit_code == 0
    pareto = json.loads((out / "pareto.json").read_text())
    assert pareto and all((out / item["folder"] / "model.keras").is_file() for item in pareto)
    assert all(len(item["values"]) == 2 for item in pareto)


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
    assert "above study.max_params=2,000" in by_width[64].user_attrs["fail_reason"]
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
    assert recipe["class_names"] == ["high", "low"]


def test_password_in_storage_url_never_appears(write_study, unique_name, tmp_path, postgres_url):
    secret = "hunter2-very-secret"
    unreachable = f"postgresql://postgres:{secret}@127.0.0.1:1/nowhere"
    result = cli("run", write_study(tiny_study(unique_name)), "--storage", unreachable)
    assert result.exit_code == 2
    assert secret not in result.output and "postgres:***@" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
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
    ({"train": {"label_smoothing": 0.1}}, "train.label_smoothing: supported for binary tasks only"),
]


@pytest.mark.parametrize(("change", "message"), BAD_STUDIES)
def test_bad_study_files_exit_2_with_one_line(write_study, unique_name, tmp_path, change, message):
    study = tiny_study(unique_name)
    for section, values in change.items():
        study[section] = {**study[section], **values}
    path = write_study(study)
    storage = tmp_path / "bad.db"
    result = cli("run", path, "--storage", f"sqlite:///{storage}")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not list(tmp_path.glob("*.artifacts"))
    if storage.exists():  # nothing half-written: no study was created
        assert not optuna.get_all_study_summaries(f"sqlite:///{storage}")


def test_unknown_study_and_bad_yaml(write_study, tmp_path):
    storage = f"sqlite:///{tmp_path / 'empty.db'}"
    result = cli("best", "nope", "--storage", storage)
    assert result.exit_code == 2 and "study 'nope' is not in the storage" in result.stderr
    path = tmp_path / "broken.yaml"
    path.write_text("study: [unclosed\n")
    result = cli("run", path, "--storage", storage)
    assert result.exit_code == 2 and f"{path}: not valid YAML at line" in result.stderr


@pytest.mark.parametrize(
    "command", ["run", "studies", "trials", "best", "export", "dashboard", "presets", "build"]
)
def test_every_command_has_help(command):
    result = cli(command, "--help")
    assert result.exit_code == 0 and "Usage" in result.stdout
