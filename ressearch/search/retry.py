"""Trials that outlive their worker: requeue an interrupted one, retry one whose worker vanished.

A retry is a WAITING trial with the same parameters and the ``failed_trial``/``retry_history``
system attributes of Optuna's ``RetryHeartbeatStaleTrialCallback``, so its static
``retried_trial_number`` names the first trial of the chain, whose checkpoint the retry
continues. The trial it replaces stops counting towards ``n_trials`` (a trial in some retry's
``retry_history`` is not counted), so none counts twice.
A retry that would pass ``study.max_retries`` is not made, and the failure then counts.

Two ways to find a vanished worker: Optuna's heartbeats (any machine; after the grace period)
and, on the same host, a recorded worker process that is gone (at once; its start time is
recorded too, so a reused pid is not mistaken for it).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from ressearch.search.record import TrialRecord

__all__ = [
    "StaleTrialRetry",
    "chain_number",
    "process_start_time",
    "reap_vanished_workers",
    "requeue",
]


def chain_number(trial: FrozenTrial) -> int:
    """The number of the first trial this one retries (itself if it is no retry)."""
    first = RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)
    return trial.number if first is None else int(first)


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (clock ticks after boot), None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the name in parentheses may hold spaces
    if not fields or fields[0] in ("Z", "X"):  # a killed child its parent has not waited for yet
        return None
    return float(fields[19])


def _alive(pid: int, started: float | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    now = process_start_time(pid)
    if now is None:
        return not Path("/proc").is_dir()  # no /proc to ask: trust the signal check
    return started is None or now == started


def _queue_retry(study: optuna.Study, trial: FrozenTrial, *, max_retries: int | None) -> bool:
    """Add a WAITING trial with ``trial``'s parameters that continues its chain; False at the cap.

    The system attributes are those of Optuna's ``RetryHeartbeatStaleTrialCallback``; unlike it,
    the user attributes are not copied: a retry starts without its predecessor's outcome.
    """
    history = [*RetryHeartbeatStaleTrialCallback.retry_history(trial), trial.number]
    if max_retries is not None and len(history) > max_retries:
        return False
    study.add_trial(
        optuna.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            system_attrs={
                **trial.system_attrs,
                "failed_trial": chain_number(trial),
                "retry_history": history,
            },
        )
    )
    return True


class StaleTrialRetry:
    """Retry a failed trial whose worker vanished, at most ``max_retries`` times per chain.

    The storage's heartbeat-stale callback (Optuna has failed the trial already) and the
    handler of dead local workers.
    """

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        _queue_retry(study, trial, max_retries=self.max_retries)


def requeue(study: optuna.Study, trial_id: int) -> None:
    """Queue a retry of a running trial that is being interrupted (no cap: the user stopped it)."""
    _queue_retry(study, study._storage.get_trial(trial_id), max_retries=None)


def reap_vanished_workers(study: optuna.Study, retry: StaleTrialRetry) -> list[int]:
    """Fail and retry the RUNNING trials of workers on this host whose process is gone.

    Returns:
        The numbers of the trials failed here.
    """
    host = socket.gethostname()
    storage = study._storage
    reaped = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        record = TrialRecord.from_trial(trial)
        worker_host, _, pid = (record.worker or "").rpartition(":")
        if worker_host != host or not pid.isdigit() or _alive(int(pid), record.worker_started):
            continue
        try:
            TrialRecord.vanished().write_to_storage(storage, trial._trial_id)
            if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker reaped it first
            continue
        retry(study, storage.get_trial(trial._trial_id))
        reaped.append(trial.number)
    return reaped
