"""``space: tabular`` and ``train: tabular`` run end to end: a real study from the command line on
a small CSV with text columns and missing values, and the trial records what they expanded to."""

from __future__ import annotations

import pytest
import yaml

from ressearch import ArchitectureConfig, ConfigError, TrainConfig
from ressearch.config.named import NAMED_SPACES
from ressearch.storage import load_study
from tests.data.helpers import write_csv
from tests.helpers import cli, stored_config


@pytest.mark.slow
def test_a_study_with_the_tabular_space_runs_from_the_command_line(tmp_path, unique_name):
    write_csv(tmp_path / "rows.csv", rows=240)
    study = {
        "study": {"name": unique_name, "metric": "val_auc", "n_trials": 1, "seed": 0},
        "data": {"source": "csv:rows.csv", "target": "label"},
        "space": "tabular",
        "train": {"extends": "tabular", "epochs": 3},  # the named section, fewer epochs
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    storage = f"sqlite:///{tmp_path / 'studies.db'}"

    result = cli("run", path, "--storage", storage)
    assert result.exit_code == 0, result.output

    stored = load_study(unique_name, storage)
    (trial,) = stored.trials
    assert trial.state.name == "COMPLETE"
    ranges = [key for key, spec in NAMED_SPACES["tabular"].items() if isinstance(spec, dict)]
    assert set(ranges) <= set(trial.params)
    assert {"learning_rate", "weight_decay"} <= set(trial.params)
    config = stored_config(stored, trial)
    architecture = ArchitectureConfig.from_dict(config.architecture)
    assert architecture.numeric_embedding == "piecewise_linear" and architecture.ensemble_k == 4
    assert architecture.block_type == "preact" and len(architecture.depths) == 1
    train = TrainConfig.from_dict(config.train)
    assert (train.optimizer, train.epochs, train.batch_size) == ("adamw", 3, 256)
    assert train.early_stopping_patience == 5 and train.clipnorm == 1.0
    assert train.label_smoothing == 0.1  # class labels: a binary task here


@pytest.mark.slow
def test_a_regression_study_drops_the_named_label_smoothing_and_a_resumed_study_keeps_its_keys(
    tmp_path, unique_name, monkeypatch
):
    """`train: tabular` smooths class labels: on a regression target the key goes (the study
    is created without it), while one the study file writes itself stays an error. A
    study created before a named section changed resumes with the keys it was created with."""
    from ressearch.config import parse_study
    from ressearch.config.named import NAMED_TRAIN
    from ressearch.search.record import StudyMeta
    from ressearch.search.runner import prepare

    write_csv(tmp_path / "rows.csv", rows=240)
    study = {
        "study": {"name": unique_name, "metric": "val_rmse", "direction": "minimize", "n_trials": 1},
        "data": {"source": "csv:rows.csv", "target": "income", "task": "regression"},
        "space": {"extends": "tabular", "width": 16, "depth": 1},
        "train": {"extends": "tabular", "epochs": 1},
    }
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    definition = parse_study(study, path=tmp_path / "study.yaml")
    assert definition.train.dimensions["label_smoothing"].value == 0.1
    prepared = prepare(definition, storage=storage, artifacts=tmp_path / "artifacts")
    assert "label_smoothing" not in prepared.definition.train
    stored = StudyMeta.from_study(prepared.study).study_definition()
    assert "label_smoothing" not in stored.train and stored.train.dimensions["epochs"].value == 1
    written = {**study, "train": {"extends": "tabular", "epochs": 1, "label_smoothing": 0.1}}
    with pytest.raises(ConfigError, match="train.label_smoothing: smooths class labels"):
        prepare(
            parse_study(written, path=tmp_path / "study.yaml"), storage=storage, artifacts=tmp_path / "a2"
        )

    classes = {**study, "study": {"name": f"{unique_name}-c", "metric": "val_auc", "n_trials": 1}}
    classes["data"] = {"source": "csv:rows.csv", "target": "label"}
    monkeypatch.setitem(NAMED_TRAIN, "tabular", {**NAMED_TRAIN["tabular"], "label_smoothing": 0.2})
    first = prepare(
        parse_study(classes, path=tmp_path / "study.yaml"), storage=storage, artifacts=tmp_path / "c"
    )
    assert first.created and first.definition.train.dimensions["label_smoothing"].value == 0.2
    monkeypatch.undo()  # the name's keys change; the study exists already
    resumed = prepare(
        parse_study(classes, path=tmp_path / "study.yaml"), storage=storage, artifacts=tmp_path / "c"
    )
    assert not resumed.created and resumed.definition.train.dimensions["label_smoothing"].value == 0.2
    explicit = {**classes, "train": {"extends": "tabular", "epochs": 2}}  # a key the file writes wins
    again = prepare(
        parse_study(explicit, path=tmp_path / "study.yaml"), storage=storage, artifacts=tmp_path / "c"
    )
    assert again.definition.train.dimensions["epochs"].value == 2
    assert again.definition.train.dimensions["label_smoothing"].value == 0.2
