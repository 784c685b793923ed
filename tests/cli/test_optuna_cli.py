"""Optuna's own CLI on a study ressearch ran: short lines, and each trial's files beside its model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from optuna.artifacts import get_all_artifact_meta
from optuna.trial import TrialState

from ressearch.arch import build_model
from ressearch.config import load_config_file
from ressearch.search import StudyMeta, TrialRecord
from ressearch.storage import load_study
from tests.helpers import cli, tiny_study

OPTUNA = [str(Path(sys.executable).with_name("optuna"))] if shutil.which("optuna") is None else ["optuna"]


def _optuna(*args: str) -> list[str]:
    """The lines the optuna CLI prints, as a person's terminal gets them."""
    done = subprocess.run(
        [*OPTUNA, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.slow
def test_optuna_prints_short_lines_and_each_trial_keeps_its_config_and_metrics(
    write_study, unique_name, tmp_path
):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study_file = write_study(tiny_study(unique_name, study={"n_trials": 3, "pruner": "none"}))
    # The study attribute names its artifact folder in full, so the line grows with that path:
    # here a short one, as in a project folder, not pytest's 80-character tmp_path.
    artifacts = Path(tempfile.mkdtemp(prefix="rs-", dir="/tmp"))
    try:
        ran = cli("run", study_file, "--storage", storage, "--artifacts", str(artifacts))
        assert ran.exit_code == 0, ran.output[-3000:]
        _check(storage, unique_name, tmp_path)
    finally:
        shutil.rmtree(artifacts, ignore_errors=True)


def _check(storage: str, unique_name: str, tmp_path: Path) -> None:

    studies = _optuna("studies", "--storage", storage)
    assert max(map(len, studies)) <= 300, "\n".join(studies)
    trials = _optuna("trials", "--study-name", unique_name, "--storage", storage)
    # Optuna prints every trial's params and user attributes in one row each; ressearch's part is
    # short (configs, curves and every metric are artifacts), so a row is a few hundred characters.
    assert max(map(len, trials)) <= 800, "\n".join(trials)
    for listed in json.loads(
        "\n".join(_optuna("trials", "--study-name", unique_name, "--storage", storage, "-f", "json"))
    ):
        assert len(json.dumps(listed["user_attrs"])) <= 600, listed["user_attrs"]

    study = load_study(unique_name, storage)
    folder = StudyMeta.folder_of(study)
    assert folder is not None
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 3
    for trial in complete:
        record = TrialRecord.from_trial(trial)
        files = {
            meta.filename: meta.artifact_id for meta in get_all_artifact_meta(trial, storage=study._storage)
        }
        assert files == {
            "model.keras": record.model_artifact,
            "config.json": record.config_artifact,
            "metrics.json": record.metrics_artifact,
        }
        # The trial's config.json alone rebuilds its network: same config, same parameter count.
        config_file = tmp_path / f"config-{trial.number}.json"
        config_file.write_bytes((folder / str(record.config_artifact)).read_bytes())
        architecture, train = load_config_file(config_file)
        assert architecture.describe() == record.network
        assert build_model(architecture).count_params() == record.model_params
        assert train is not None and train.epochs == record.epochs == record.max_epochs
        measured = json.loads((folder / str(record.metrics_artifact)).read_text())
        assert measured["metrics"]["val_accuracy"] == trial.value == record.metrics["val_accuracy"]
        assert len(measured["curve"]["val_accuracy"]) == record.epochs
