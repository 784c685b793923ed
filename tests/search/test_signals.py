"""Real `ressearch run` processes: Ctrl-C (SIGINT) and SIGTERM stop a run cleanly; a rerun finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import optuna
import pytest

from ressearch.search import TrialRecord, finished_trials
from ressearch.storage import load_study
from tests.helpers import tiny_study, wait_for
from tests.search.helpers import RESSEARCH, running_trials

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_and_resume_finishes(write_study, unique_name, tmp_path, signum):
    storage = f"sqlite:///{tmp_path / 'signal.db'}"
    long = tiny_study(unique_name, study={"n_trials": 2}, train={"epochs": 400})
    process = subprocess.Popen(
        [*RESSEARCH, "run", str(write_study(long)), "--storage", storage],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # As a background job would: SIGINT inherited ignored. The run must still stop on it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        wait_for(lambda: running_trials(unique_name, storage), 120, "a RUNNING trial")
        time.sleep(2)  # inside fit()
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr
    assert "interrupted" in stdout
    assert "Traceback" not in stderr
    study = load_study(unique_name, storage)
    assert not running_trials(unique_name, storage)
    interrupted = [trial for trial in study.trials if TrialRecord.from_trial(trial).is_interrupted]
    assert len(interrupted) == 1 and interrupted[0].state == optuna.trial.TrialState.FAIL
    assert not finished_trials(study)  # the interrupted trial does not count

    quick = tiny_study(unique_name, study={"n_trials": 2})
    resumed = subprocess.run(
        [*RESSEARCH, "run", str(write_study(quick, "quick.yaml")), "--storage", storage],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert len(finished_trials(load_study(unique_name, storage))) == 2
