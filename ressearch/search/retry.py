"""Trials that outlive their worker: requeue an interrupted one, retry one whose worker vanished.

A retry is a WAITING trial with the same parameters and the ``failed_trial``/``retry_history``
system attributes of Optuna's ``RetryHeartbeatStaleTrialCallback``, so its static
``retried_trial_number`` names the first trial of the chain, whose checkpoint the retry
continues. The trial it replaces stops counting towards ``n_trials`` (a trial in some retry's
``retry_history`` is not counted), so none counts twice.
A retry that would pass ``study.max_retries`` is not made, and the failure then counts.

Three ways to find a vanished worker: Optuna's heartbeats (RDB storages, any machine; after the
grace period); through the gRPC storage proxy, which carries no Optuna heartbeats, a trial
attribute the worker refreshes (:func:`beating`, :func:`fail_silent_trials`; any machine, after
the grace period, as read by the clock of the worker that checks); and, on the same host, a
recorded worker process that is gone (at once; its start time is recorded too, so a reused pid
is not mistaken for it).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.storages import GrpcStorageProxy, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from ressearch.search.record import TrialRecord

__all__ = [
    "COUNTED_STATES",
    "RETRY_HISTORY",
    "SURPLUS_REASON",
    "Marked",
    "StaleTrialRetry",
    "chain_number",
    "counted",
    "counts",
    "beating",
    "fail_silent_trials",
    "free_slots",
    "is_retry",
    "process_start_time",
    "reap_vanished_workers",
    "requeue",
    "superseded",
    "take_slot",
]

COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
SURPLUS_REASON = "surplus: the study's n_trials were done or running when it started; not counted"
HEARTBEAT_ATTR = "ressearch:heartbeat"  # seconds since the epoch, refreshed through a proxy
RETRY_HISTORY = "retry_history"  # the system attribute of Optuna's retries: the chain before it


class Marked(Protocol):
    """What the counting rules read of a trial: a ``FrozenTrial``, or the few columns of one
    that :mod:`ressearch.storage.marks` reads from the database."""

    @property
    def number(self) -> int: ...
    @property
    def state(self) -> TrialState: ...
    @property
    def user_attrs(self) -> dict[str, Any]: ...
    @property
    def system_attrs(self) -> dict[str, Any]: ...


def chain_number(trial: FrozenTrial) -> int:
    """The number of the first trial this one retries (itself if it is no retry)."""
    first = RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)
    return trial.number if first is None else int(first)


def is_retry(trial: FrozenTrial) -> bool:
    return RetryHeartbeatStaleTrialCallback.retried_trial_number(trial) is not None


def superseded(trials: Sequence[Marked]) -> set[int]:
    """The numbers of the trials that a later trial retries (as Optuna's ``retry_history`` reads)."""
    return {int(number) for trial in trials for number in trial.system_attrs.get(RETRY_HISTORY, [])}


def counts(trial: Marked, replaced: set[int]) -> bool:
    """Whether ``trial`` (finished or not) holds one of the ``n_trials`` slots, given the
    ``superseded`` numbers: not if a retry continues it, nor if it was interrupted or surplus.

    Reads the user attributes ``interrupted`` and ``surplus`` and nothing else of the record
    (:mod:`ressearch.search.counting` counts from the database on that).
    """
    record = TrialRecord.from_attrs(trial.user_attrs)
    return trial.number not in replaced and not (record.is_interrupted or record.surplus)


def counted(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """The finished trials that count towards ``n_trials`` (none counts twice)."""
    replaced = superseded(trials)
    return [trial for trial in trials if trial.state in COUNTED_STATES and counts(trial, replaced)]


def free_slots(trials: list[FrozenTrial], n_trials: int, *, before: FrozenTrial | None = None) -> int:
    """How many of the ``n_trials`` slots no trial holds: counted, running or waiting ones do.

    With ``before`` (a new running trial), only the running trials that started before it, or
    that continue a chain, are counted against it: of two that start at once the later yields.
    """
    replaced = superseded(trials)
    held = 0
    for trial in trials:
        if (before is not None and trial.number == before.number) or not counts(trial, replaced):
            continue
        if trial.state == TrialState.RUNNING and before is not None:
            held += trial.number < before.number or is_retry(trial)
        else:
            held += trial.state in (*COUNTED_STATES, TrialState.RUNNING, TrialState.WAITING)
    return n_trials - held


def take_slot(trial: optuna.Trial, n_trials: int) -> bool:
    """Whether one of the study's ``n_trials`` slots is free for ``trial`` (a retry takes the
    slot of the trial it continues). If not (another worker won the race), the trial is marked
    surplus, so it is never counted, and this worker's study stops starting trials.
    """
    frozen = trial.study._storage.get_trial(trial._trial_id)
    if is_retry(frozen) or free_slots(trial.study.get_trials(deepcopy=False), n_trials, before=frozen) > 0:
        return True
    TrialRecord(surplus=True, fail_reason=SURPLUS_REASON).write(trial)
    trial.study.stop()
    return False


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
    the user attributes are not copied (a retry starts without its predecessor's outcome), but
    for the warm-start entry the chain was enqueued for.
    """
    history = [*RetryHeartbeatStaleTrialCallback.retry_history(trial), trial.number]
    if max_retries is not None and len(history) > max_retries:
        return False
    if trial.number in superseded(study.get_trials(deepcopy=False)):
        return True  # queued already, by another worker that found the same trial
    study.add_trial(
        optuna.create_trial(
            state=TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            system_attrs={
                **trial.system_attrs,
                "failed_trial": chain_number(trial),
                RETRY_HISTORY: history,
            },
            user_attrs=TrialRecord(warm_start=TrialRecord.from_trial(trial).warm_start).to_attrs(),
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
        with _one_reaper(study):
            _queue_retry(study, trial, max_retries=self.max_retries)


def requeue(study: optuna.Study, trial_id: int) -> None:
    """Queue a retry of a running trial that is being interrupted (no cap: the user stopped it)."""
    with _one_reaper(study):
        _queue_retry(study, study._storage.get_trial(trial_id), max_retries=None)


@contextmanager
def _one_reaper(study: optuna.Study) -> Iterator[None]:
    """Hold this host's lock for ``study``'s failing and retrying of trials.

    Optuna reads a trial's state, then writes FAIL; PostgreSQL locks the row between the two
    (``SELECT ... FOR UPDATE``), SQLite does not, so two workers that found the same dead worker
    at the same moment both failed its trials and queued two retries of each (tests/search/
    test_retry.py: 4 reapers, 6 dead trials, 9-11 retries). An SQLite file is on one host, so
    a lock file of this host (in the temporary folder, one per study name) makes them take
    turns. Where the lock file cannot be opened (another user's), nothing is locked.
    """
    digest = hashlib.sha256(study.study_name.encode()).hexdigest()[:16]
    try:
        handle = open(Path(tempfile.gettempdir()) / f"ressearch-retry-{digest}.lock", "a")  # noqa: SIM115
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fail_and_retry(study: optuna.Study, trial: FrozenTrial, retry: StaleTrialRetry) -> bool:
    """Fail a RUNNING trial whose worker vanished and queue its retry; False if another worker
    finished or reaped it first."""
    storage = study._storage
    with _one_reaper(study):
        try:  # under the lock, a trial another worker failed first is finished: Optuna raises
            TrialRecord.vanished().write_to_storage(storage, trial._trial_id)
            if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                return False
        except optuna.exceptions.UpdateFinishedTrialError:
            return False
    retry(study, storage.get_trial(trial._trial_id))
    return True


def reap_vanished_workers(study: optuna.Study, retry: StaleTrialRetry) -> list[int]:
    """Fail and retry the RUNNING trials of workers on this host whose process is gone.

    Returns:
        The numbers of the trials failed here.
    """
    host = socket.gethostname()
    reaped = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        record = TrialRecord.from_trial(trial)
        worker_host, _, pid = (record.worker or "").rpartition(":")
        if worker_host != host or not pid.isdigit() or _alive(int(pid), record.worker_started):
            continue
        if _fail_and_retry(study, trial, retry):
            reaped.append(trial.number)
    return reaped


def _through_proxy(study: optuna.Study) -> bool:
    return isinstance(study._storage, GrpcStorageProxy)


@contextmanager
def beating(trial: optuna.Trial, interval: float) -> Iterator[None]:
    """While the block runs, refresh the trial's heartbeat attribute every ``interval`` seconds,
    where the storage is the gRPC proxy (an RDB storage has Optuna's heartbeats instead).

    A failed refresh (the proxy is restarting) is tried again at the next beat: a trial is
    failed as silent only after a whole grace period without one.
    """
    if not _through_proxy(trial.study):
        yield
        return
    storage, trial_id = trial.study._storage, trial._trial_id
    stop = threading.Event()

    def beat() -> None:
        while True:
            # Any failure (the proxy is restarting): the next beat tries again; the trial goes on.
            with suppress(Exception):
                storage.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="ressearch-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def fail_silent_trials(study: optuna.Study, grace_period: float, retry: StaleTrialRetry) -> list[int]:
    """Through the gRPC proxy: fail and retry the RUNNING trials whose heartbeat attribute (or,
    before the first beat, start) is older than ``grace_period`` seconds.

    Returns:
        The numbers of the trials failed here.
    """
    if not _through_proxy(study):
        return []
    now = time.time()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        last = trial.system_attrs.get(HEARTBEAT_ATTR)
        if last is None and trial.datetime_start is not None:
            last = trial.datetime_start.timestamp()
        if last is None or now - float(last) < grace_period:
            continue
        if _fail_and_retry(study, trial, retry):
            failed.append(trial.number)
    return failed
