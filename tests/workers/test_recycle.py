"""Worker processes are recycled after their share of trials: memory goes back with the process."""

from __future__ import annotations

import pytest

from ressearch.search import TrialRecord, finished_trials
from ressearch.storage import load_study
from tests.helpers import cli, tiny_study

pytestmark = pytest.mark.slow


def test_a_worker_leaves_after_its_share_and_the_next_one_finishes(write_study, unique_name, tmp_path):
    storage = f"sqlite:///{tmp_path / 'recycle.db'}"
    path = write_study(tiny_study(unique_name, study={"n_trials": 3}, train={"epochs": 1}))
    first = cli("worker", path, "--storage", storage, "--index", "0", "--max-trials", "2")
    assert first.exit_code == 3, first.output  # recycled: the supervisor starts a fresh process
    assert "recycled, 2/3 trials" in first.stdout
    second = cli("worker", path, "--storage", storage, "--index", "0", "--max-trials", "2")
    assert second.exit_code == 0, second.output  # the study is done: nothing to recycle for
    study = load_study(unique_name, storage)
    assert len(finished_trials(study)) == 3
    assert all(TrialRecord.from_trial(trial).worker_rss_mb > 100 for trial in study.trials)  # measured
