"""``space: tabular`` and ``train: tabular`` run end to end: a real study from the command line on
a small CSV with text columns and missing values, and the trial records what they expanded to."""

from __future__ import annotations

import pytest
import yaml

from ressearch import ArchitectureConfig, TrainConfig
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
