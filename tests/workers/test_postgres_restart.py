"""A PostgreSQL restart in the middle of a 3-worker study: the workers wait it out, nothing lost.

The server is a PostgreSQL cluster of the test's own (created, restarted and dropped here, on a
port of its own), so restarting it cannot disturb the other tests that use the main server.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from ressearch.search import finished_trials
from ressearch.search.record import TrialRecord
from tests.helpers import OwnCluster, own_postgres_cluster, tiny_study, wait_for
from tests.search.helpers import RESSEARCH

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[OwnCluster]:
    with own_postgres_cluster("ressearch-restart") as cluster:
        yield cluster


def test_three_workers_survive_a_database_restart_with_nothing_lost(own_cluster, write_study, unique_name):
    own_server = own_cluster.url
    target = 6
    path = write_study(
        tiny_study(
            unique_name,
            study={"n_trials": target, "pruner": "none", "grace_period": 60},
            train={"epochs": 4},
        )
    )
    supervisor = subprocess.Popen(
        [*RESSEARCH, "run", str(path), "--storage", own_server, "--workers", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def under_way() -> bool:
            try:
                study = optuna.load_study(study_name=unique_name, storage=own_server)
            except KeyError:
                return False
            states = [trial.state for trial in study.get_trials(deepcopy=False)]
            return TrialState.COMPLETE in states and TrialState.RUNNING in states

        wait_for(under_way, 240, "a finished trial and a running one")
        # Fast shutdown: every connection is cut; the server is back a few seconds later.
        own_cluster.ctl("restart")
        _, err = supervisor.communicate(timeout=400)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
    assert supervisor.returncode == 0, err[-3000:]
    study = optuna.load_study(study_name=unique_name, storage=own_server)
    trials = study.get_trials(deepcopy=False)
    # Workers that come back from the outage together can start a trial at the same moment
    # when one slot is left: the later one is marked surplus as it starts (before it trains
    # anything) and is not counted; every other trial must have finished.
    lost = [
        f"trial {trial.number} {trial.state.name}: {trial.user_attrs.get('fail_reason')}"
        for trial in trials
        if trial.state != TrialState.COMPLETE and not TrialRecord.from_trial(trial).surplus
    ]
    assert not lost, "; ".join(lost)
    counted = finished_trials(study)
    assert len(counted) == target and all(trial.state == TrialState.COMPLETE for trial in counted)
    logs = Path(os.environ["RESSEARCH_ARTIFACTS"]) / "workers" / unique_name
    waited = [log.name for log in logs.glob("worker-*.log") if "unreachable" in log.read_text()]
    print(f"workers that waited for the database: {waited}")
