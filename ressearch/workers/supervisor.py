"""The supervisor of N local worker processes (``ressearch run --workers N``).

Each worker is a ``ressearch worker`` subprocess in a session of its own (so a Ctrl-C reaches
the supervisor only, which stops every worker once, with SIGTERM), with its index and devices
in its environment and its output in a log file. A worker that dies is restarted with back-off
(its trial is retried from its checkpoint by the next worker that looks), one that ran its share
of trials (``--recycle-after``) is replaced at once, since only a new process gives back the
memory TensorFlow keeps; one that exits with a
user mistake (code 2) stops them all. All exit when the study reaches its total. The storage URL
travels in the environment, never on a command line that ``ps`` shows. What the workers do is
read back from the storage at each poll (:class:`StudyWatcher`): the same epoch and trial events
a run in one process sends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import optuna
from optuna.trial import FrozenTrial, TrialState

from ressearch.search.objective import EpochEvent
from ressearch.search.record import TrialRecord
from ressearch.search.retry import counted
from ressearch.search.runner import TrialEvent, best_so_far
from ressearch.search.watch import StudyWatcher
from ressearch.signals import stop_signals
from ressearch.storage.outages import is_outage
from ressearch.storage.urls import STORAGE_ENV, describe_storage, open_storage
from ressearch.workers.devices import WorkerPlan, worker_env

__all__ = ["StudyProgress", "Supervisor", "SupervisorResult"]

_USER_ERROR = 2
_RECYCLED = 3  # `ressearch worker --max-trials` ran its share: start a fresh process at once
_STORAGE_UNAVAILABLE = 4  # the storage stayed away for longer than the study waits
_STOP_GRACE_S = 60.0
_EXIT_CHECK_S = 0.05  # how often the supervisor checks its workers' processes between looks


@dataclass(frozen=True)
class StudyProgress:
    """Where the study stands, as the supervisor polls it."""

    done: int
    target: int
    running: dict[int, int]  # worker index -> the trial number it runs
    best: list[float] | None
    restarts: int
    in_flight: tuple[int, ...] = ()  # every running trial of the study, this supervisor's or not


@dataclass
class SupervisorResult:
    """How the workers ended."""

    interrupted: bool = False
    error: str | None = None  # a worker's one-line user error, or why the workers gave up
    user_error: bool = False  # the error is a user mistake a worker reported (its exit code 2)
    storage_unavailable: bool = False  # the storage stayed away (a worker's exit code 4, or polling)
    restarts: int = 0
    recycled: int = 0  # worker processes replaced after their share of trials
    logs: list[Path] = field(default_factory=list)


@dataclass
class _Worker:
    plan: WorkerPlan
    log: Path
    process: subprocess.Popen[bytes] | None = None
    handle: IO[bytes] | None = None
    restarts: int = 0
    start_at: float = 0.0  # when to (re)start it
    done: bool = False


class Supervisor:
    """Start, watch and restart the local workers of one study until it reaches its total."""

    def __init__(
        self,
        study_file: Path,
        *,
        name: str,
        target: int,
        storage: str,
        artifacts: Path,
        plans: list[WorkerPlan],
        log_dir: Path,
        n_trials: int | None = None,
        timeout: float | None = None,
        recycle_after: int | None = None,
        outage_s: float | None = None,
        max_restarts: int = 5,
        poll_s: float = 1.0,
        env: Mapping[str, str] | None = None,
        on_progress: Callable[[StudyProgress], None] | None = None,
        on_restart: Callable[[int, int | None, float], None] | None = None,
        on_epoch: Callable[[EpochEvent], None] | None = None,
        on_trial: Callable[[TrialEvent], None] | None = None,
    ) -> None:
        self.study_file = study_file
        self.name = name
        self.target = target
        self.storage = storage
        self.artifacts = artifacts
        self.log_dir = log_dir
        self.n_trials = n_trials
        self.timeout = timeout
        self.recycle_after = recycle_after
        self.outage_s = outage_s
        self.recycled = 0
        self.max_restarts = max_restarts
        self.poll_s = poll_s
        self.env = dict(os.environ if env is None else env)
        self.on_progress = on_progress
        self.on_restart = on_restart
        self.on_epoch = on_epoch
        self.on_trial = on_trial
        self.workers = [_Worker(plan, log_dir / f"worker-{plan.index}.log") for plan in plans]
        self._stop = threading.Event()
        self._user_error = False
        self._storage_unavailable = False

    def command(self, plan: WorkerPlan) -> list[str]:
        """The command line of one worker (the storage URL is in its environment, not here)."""
        command = [
            sys.executable,
            "-m",
            "ressearch",
            "worker",
            str(self.study_file),
            "--index",
            str(plan.index),
        ]
        command += ["--artifacts", str(self.artifacts)]
        if self.n_trials is not None:
            command += ["--n-trials", str(self.n_trials)]
        if self.timeout is not None:
            command += ["--timeout", str(self.timeout)]
        if self.recycle_after is not None:
            command += ["--max-trials", str(self.recycle_after)]
        return command

    def _start(self, worker: _Worker) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        worker.handle = worker.log.open("ab")
        env = {**worker_env(worker.plan, self.env), STORAGE_ENV: self.storage, "PYTHONUNBUFFERED": "1"}
        worker.process = subprocess.Popen(
            self.command(worker.plan),
            stdin=subprocess.DEVNULL,
            stdout=worker.handle,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def _ended(self, worker: _Worker, code: int, study_done: bool, now: float) -> str | None:
        """Handle a worker that exited; a reason to stop them all, or None."""
        self._user_error = code == _USER_ERROR
        self._storage_unavailable = code == _STORAGE_UNAVAILABLE
        if worker.handle is not None:
            worker.handle.close()
        worker.process = None
        if code == 0 or study_done:
            worker.done = True
            return None
        if code == _RECYCLED:  # its memory goes back with the process: a fresh one goes on
            self.recycled += 1
            worker.start_at = now
            return None
        if code in (_USER_ERROR, _STORAGE_UNAVAILABLE):
            return _last_error_line(worker.log) or f"worker {worker.plan.index} stopped with code {code}"
        if worker.restarts >= self.max_restarts:
            return (
                f"worker {worker.plan.index} exited with code {code} {worker.restarts + 1} times; "
                f"see {worker.log}"
            )
        worker.restarts += 1
        delay = min(60.0, 2.0 ** (worker.restarts - 1))
        worker.start_at = now + delay
        if self.on_restart:
            self.on_restart(worker.plan.index, code, delay)
        return None

    def _wait(self) -> None:
        """Until the next look at the storage, or sooner once a worker's process has ended (a
        cheap check every 50 ms; the storage is read once a ``poll_s``): a study's end, a
        recycled worker and a restart are handled at once, not up to ``poll_s`` later. (At the
        end of a two-worker `hmda` study the last trial still ends 2.1-2.2 s before ``run``
        returns, against 1.1-2.8 s before this: most of it is the worker's own exit.)"""
        deadline = time.monotonic() + self.poll_s
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            ended = any(
                worker.process is not None and worker.process.poll() is not None for worker in self.workers
            )
            if left <= 0 or ended:
                return
            self._stop.wait(min(left, _EXIT_CHECK_S))

    def _stop_all(self) -> None:
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_S
        for worker in self.workers:
            if worker.process is None:
                continue
            try:
                worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            if worker.handle is not None:
                worker.handle.close()

    def progress(self, study: optuna.Study) -> StudyProgress:
        """Where the study stands now (one look at its trials)."""
        return self._progress(study.get_trials(deepcopy=False), best_so_far(study)[1])

    def _progress(self, trials: list[FrozenTrial], best: list[float] | None) -> StudyProgress:
        pids = {
            worker.process.pid: worker.plan.index for worker in self.workers if worker.process is not None
        }
        running = {}
        in_flight = []
        for trial in trials:
            if trial.state == TrialState.RUNNING:
                in_flight.append(trial.number)
                pid = (TrialRecord.from_trial(trial).worker or "").rpartition(":")[2]
                if pid.isdigit() and int(pid) in pids:
                    running[pids[int(pid)]] = trial.number
        return StudyProgress(
            done=len(counted(trials)),
            target=self.target,
            running=running,
            best=best,
            restarts=sum(worker.restarts for worker in self.workers),
            in_flight=tuple(in_flight),
        )

    def _look(self, study: optuna.Study, watcher: StudyWatcher) -> StudyProgress:
        """One look at the study: tell ``on_progress``, then each epoch and trial end since the last."""
        trials = study.get_trials(deepcopy=False)
        status = self._progress(trials, best_so_far(study)[1])
        if self.on_progress:
            self.on_progress(status)
        for event in watcher.poll(trials, best=status.best):
            if isinstance(event, EpochEvent) and self.on_epoch:
                self.on_epoch(event)
            elif isinstance(event, TrialEvent) and self.on_trial:
                self.on_trial(event)
        return status

    def run(self) -> SupervisorResult:
        """Run the workers until the study is done, one gives up, or a signal stops them."""
        storage = open_storage(self.storage, heartbeat=False, outage_s=self.outage_s)
        study = optuna.load_study(study_name=self.name, storage=storage)
        result = SupervisorResult(logs=[worker.log for worker in self.workers])
        metric = study.metric_names[0] if study.metric_names and len(study.directions) == 1 else None
        watcher = StudyWatcher(study.get_trials(deepcopy=False), target=self.target, metric=metric)
        with stop_signals(lambda signum: self._stop.set()):  # each worker requeues its trial
            try:
                while not self._stop.is_set():
                    now = time.monotonic()
                    try:
                        status = self._look(study, watcher)
                    except Exception as failure:
                        if not is_outage(failure):
                            raise
                        result.error = (
                            f"storage: {describe_storage(storage)} stopped answering; the workers were "
                            "stopped (their trials are requeued, or retried by the next run): run the "
                            "same command again once it is back"
                        )
                        result.storage_unavailable = True
                        return result
                    study_done = status.done >= self.target
                    for worker in self.workers:
                        if worker.done:
                            continue
                        if worker.process is None:
                            if not study_done and now >= worker.start_at:
                                self._start(worker)
                            elif study_done:
                                worker.done = True
                            continue
                        code = worker.process.poll()
                        if code is not None:
                            error = self._ended(worker, code, study_done, now)
                            if error is not None:
                                result.error, result.user_error = error, self._user_error
                                result.storage_unavailable = self._storage_unavailable
                                return result
                    if all(worker.done for worker in self.workers):
                        break
                    self._wait()
                else:
                    result.interrupted = True
            finally:
                self._stop_all()
                result.restarts = sum(worker.restarts for worker in self.workers)
                result.recycled = self.recycled
        self._look(study, watcher)  # what the workers finished after the last look
        return result


def _last_error_line(log: Path) -> str | None:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    errors = [line for line in lines if line.startswith("error: ")]
    return errors[-1].removeprefix("error: ") if errors else None
