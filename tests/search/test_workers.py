"""Two real `ressearch run` processes share one PostgreSQL study, and each trial records its worker."""

from __future__ import annotations

import subprocess

import pytest

from ressearch.search import TrialRecord, finished_trials
from ressearch.storage import load_study
from tests.helpers import tiny_study, wait_for
from tests.search.helpers import RESSEARCH, running_trials

pytestmark = pytest.mark.slow


@pytest.mark.postgres
def test_two_workers_share_one_postgres_study(write_study, unique_name, postgres_url, tmp_path):
    target = 6
    # Trials long enough that the first worker cannot finish alone while the second starts up.
    path = write_study(tiny_study(unique_name, study={"n_trials": target}, train={"epochs": 4}))
    command = [*RESSEARCH, "run", str(path), "--storage", postgres_url]
    # The first worker writes to a file: a pipe nobody reads while the second runs could fill up.
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        # The second worker joins a study that exists and is running, as on another machine.
        wait_for(lambda: running_trials(unique_name, postgres_url), 120, "the first worker's trial")
        second = subprocess.run(command, capture_output=True, text=True, timeout=300)
        first.wait(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    assert first.returncode == 0, (tmp_path / "first.log").read_text()[-2000:]
    assert second.returncode == 0, second.stderr
    study = load_study(unique_name, postgres_url)
    assert not running_trials(unique_name, postgres_url)
    # Exactly the total: a worker starts a trial only in a free slot, and waits for the other's.
    assert len(finished_trials(study)) == target
    assert len({TrialRecord.from_trial(trial).worker for trial in study.trials}) == 2
