"""Retries of trials whose worker vanished: found by a dead pid on this host, capped, counted once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import optuna
from optuna.distributions import IntDistribution
from optuna.trial import TrialState

from ressearch.search import TrialRecord, finished_trials
from ressearch.search.record import RETRIED_REASON
from ressearch.search.retry import (
    StaleTrialRetry,
    chain_number,
    process_start_time,
    reap_vanished_workers,
    requeue,
)
from ressearch.storage import open_storage


def _study(storage_url: str, name: str) -> optuna.Study:
    return optuna.create_study(study_name=name, storage=open_storage(storage_url, heartbeat=False))


def _running(study: optuna.Study, worker: str, started: float | None) -> optuna.Trial:
    trial = study.ask({"width": IntDistribution(4, 64)})
    TrialRecord(worker=worker, worker_started=started).write(trial)
    return trial


def test_a_dead_local_worker_is_failed_and_retried_at_once(storage_url, unique_name):
    study = _study(storage_url, unique_name)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host = socket.gethostname()
    dead = _running(study, f"{host}:{int(gone.stdout)}", 1.0)
    alive = _running(study, f"{host}:{os.getpid()}", process_start_time(os.getpid()))
    # The same pid, another process start: a reused pid is not the worker that ran the trial.
    reused = _running(study, f"{host}:{os.getpid()}", 12.0)
    elsewhere = _running(study, f"another-host:{int(gone.stdout)}", 1.0)

    assert sorted(reap_vanished_workers(study, StaleTrialRetry(max_retries=3))) == [
        dead.number,
        reused.number,
    ]
    trials = {trial.number: trial for trial in study.get_trials()}
    assert trials[dead.number].state == TrialState.FAIL
    assert TrialRecord.from_trial(trials[dead.number]).fail_reason == RETRIED_REASON
    assert (
        trials[alive.number].state == trials[elsewhere.number].state == TrialState.RUNNING
    )  # heartbeats decide
    retries = [trial for trial in study.get_trials() if trial.state == TrialState.WAITING]
    assert sorted(chain_number(trial) for trial in retries) == [dead.number, reused.number]
    assert all(trial.params == trials[chain_number(trial)].params for trial in retries)
    assert all(TrialRecord.from_trial(trial) == TrialRecord() for trial in retries)  # they start clean
    assert not finished_trials(study)  # the failed ones are continued, not counted


def test_retries_are_capped_and_the_last_failure_counts(storage_url, unique_name):
    study = _study(storage_url, unique_name)
    retry = StaleTrialRetry(max_retries=1)
    first = study.ask({"width": IntDistribution(4, 64)})
    study.tell(first, state=TrialState.FAIL)
    retry(study, study.get_trials()[-1])
    second = study.ask()  # pops the waiting retry
    assert chain_number(study.get_trials()[second.number]) == first.number
    study.tell(second, state=TrialState.FAIL)
    retry(study, study.get_trials()[-1])  # past max_retries: no third trial
    assert len(study.get_trials()) == 2
    assert [trial.number for trial in finished_trials(study)] == [second.number]


def test_an_interrupted_trial_is_requeued_without_a_cap(storage_url, unique_name):
    study = _study(storage_url, unique_name)
    study.enqueue_trial({"width": 8}, user_attrs=TrialRecord(warm_start="resnet20").to_attrs())
    trial = study.ask({"width": IntDistribution(4, 64)})
    TrialRecord(seed=3).write(trial)
    requeue(study, trial._trial_id)
    TrialRecord.interruption().write(trial)
    study.tell(trial, state=TrialState.FAIL)
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert (
        len(waiting) == 1 and waiting[0].params == trial.params and chain_number(waiting[0]) == trial.number
    )
    # A retry starts clean but for the warm start its chain was enqueued for.
    assert TrialRecord.from_trial(waiting[0]) == TrialRecord(warm_start="resnet20")


REAPER = """
import sys, time
import optuna
from ressearch.search.retry import StaleTrialRetry, reap_vanished_workers
from ressearch.storage import open_storage
url, name, at = sys.argv[1:]
study = optuna.load_study(study_name=name, storage=open_storage(url, heartbeat=False))
time.sleep(max(0.0, float(at) - time.time()))
print(len(reap_vanished_workers(study, StaleTrialRetry(max_retries=3))))
"""


def test_workers_that_reap_the_same_dead_worker_at_once_queue_one_retry_each(storage_url, unique_name):
    """Every worker of a host looks for dead workers between its trials, so several can find the
    same dead one at the same moment: each of its trials is failed once and retried once."""
    study = _study(storage_url, unique_name)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = [_running(study, f"{socket.gethostname()}:{int(gone.stdout)}", 1.0).number for _ in range(6)]
    at = f"{time.time() + 8:.3f}"  # after every reaper has imported Optuna and loaded the study
    reapers = [
        subprocess.Popen(
            [sys.executable, "-c", REAPER, storage_url, unique_name, at], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    reaped = [int(reaper.communicate(timeout=120)[0].strip().splitlines()[-1]) for reaper in reapers]
    assert sum(reaped) == len(dead), reaped  # each dead trial failed by one reaper alone
    retries = [trial for trial in study.get_trials() if trial.state == TrialState.WAITING]
    assert sorted(chain_number(trial) for trial in retries) == dead
