"""Watch a study from its storage: the progress of trials that other processes run.

``run --workers N`` trains in worker processes; the supervisor polls the storage, and
:class:`StudyWatcher` turns what changed since its last look into the events a run in one
process sends: an :class:`EpochEvent` as a trial starts training and for each epoch it reports
(the objective metric, an intermediate value of the trial), and a :class:`TrialEvent` as a
counted trial ends. Reads only: it never writes to the study.
"""

from __future__ import annotations

import time
from datetime import datetime

from optuna.trial import FrozenTrial, TrialState

from ressearch.search.objective import EpochEvent
from ressearch.search.record import RETRIED_REASON, TrialRecord
from ressearch.search.retry import counted, counts, superseded
from ressearch.search.runner import TrialEvent, trial_event

__all__ = ["StudyWatcher"]

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class StudyWatcher:
    """What changed in a study between two looks at its trials, as events.

    Trials that had finished before the first look are not told again. A trial's epochs are
    those it reported as intermediate values (single-objective studies report their objective
    metric each epoch; a study with several objectives shows starts and ends only). Like a run in
    one process, it tells of counted trials' ends only: an interrupted trial, or one whose vanished
    worker a retry continues, has no end (its retry starts as a new trial).

    Example (the supervisor's loop)::

        watcher = StudyWatcher(study.get_trials(), target=10, metric="val_accuracy")
        for event in watcher.poll(study.get_trials(), best=None):
            ...  # an EpochEvent or a TrialEvent
    """

    def __init__(self, trials: list[FrozenTrial], *, target: int, metric: str | None) -> None:
        self.target = target
        self.metric = metric or "value"
        self.started = time.monotonic()
        self._ended = {trial.number for trial in trials if trial.state in _FINISHED}
        self._told: dict[int, int] = {}  # trial number -> the last epoch told
        self._undecided: set[int] = set()  # failed as vanished, its retry not seen yet

    def poll(self, trials: list[FrozenTrial], *, best: list[float] | None) -> list[EpochEvent | TrialEvent]:
        """The events since the last poll, from the study's ``trials`` now, in trial order."""
        replaced = superseded(trials)
        done = len(counted(trials))
        events: list[EpochEvent | TrialEvent] = []
        for trial in sorted(trials, key=lambda trial: trial.number):
            if trial.number in self._ended or trial.state not in (TrialState.RUNNING, *_FINISHED):
                continue
            events.extend(self._epochs(trial))
            if trial.state == TrialState.RUNNING:
                continue
            record = TrialRecord.from_trial(trial)
            vanished = record.fail_reason == RETRIED_REASON and trial.number not in replaced
            if vanished and trial.number not in self._undecided:
                # Its retry is queued just after the failure: look once more before calling it final.
                self._undecided.add(trial.number)
                continue
            self._ended.add(trial.number)
            self._told.pop(trial.number, None)
            if counts(trial, replaced):
                elapsed = time.monotonic() - self.started
                events.append(trial_event(trial, done=done, target=self.target, best=best, elapsed=elapsed))
        return events

    def _epochs(self, trial: FrozenTrial) -> list[EpochEvent]:
        """The trial's start (once it has sampled what it trains) and its epochs not told yet."""
        record = TrialRecord.from_trial(trial)
        planned = record.planned_epochs
        if planned is None:  # not sampled yet, or failed before it was
            return []
        epochs = int(planned)
        now = trial.datetime_complete or datetime.now()
        elapsed = max(0.0, (now - (trial.datetime_start or now)).total_seconds())
        events = []
        if trial.number not in self._told:
            restored = record.resumed_from or 0
            self._told[trial.number] = restored
            events.append(EpochEvent(trial.number, restored, epochs, {}, elapsed))
        for step in sorted(trial.intermediate_values):
            if step + 1 > self._told[trial.number]:
                value = float(trial.intermediate_values[step])
                events.append(EpochEvent(trial.number, step + 1, epochs, {self.metric: value}, elapsed))
                self._told[trial.number] = step + 1
        return events
