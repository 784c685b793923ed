"""What counts towards a study's ``n_trials``, in one place for every reader: a run's summary
and its fast "nothing left to do", ``ressearch studies``, ``best``, the supervisor's progress.

A trial is *counted* when it finished (COMPLETE, PRUNED or FAIL) and holds one of the
``n_trials`` slots (:func:`ressearch.search.retry.counts`): it was not interrupted (Ctrl-C or
SIGTERM requeued it), no retry continues it (its worker vanished), and it is not surplus (it
started when every slot was taken). The *total* is the study file's ``n_trials``. Finished trials
that are not counted are ``not_counted``: each is continued by a retry or was never run.

Two forms, one rule: :func:`count_trials` reads Optuna's trials; :func:`count_stored` asks the
database for the state counts and for the few trials that carry a mark (``interrupted``,
``surplus``, ``retry_history``) or that a retry names, so a listing of 100,000 trials loads no
trial. Both end in :func:`_tally` over those marked trials: a trial with no mark, which no retry
names, is counted exactly when its state is finished, so leaving it out of ``_tally``'s trials
(the database form) or passing it (the trials form) gives the same numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from ressearch.errors import RessearchError
from ressearch.search.record import StudyMeta, TrialRecord
from ressearch.search.retry import COUNTED_STATES, RETRY_HISTORY, Marked, counts, superseded

__all__ = [
    "MARK_SYSTEM_ATTRS",
    "MARK_USER_ATTRS",
    "TrialCounts",
    "count_stored",
    "count_trials",
    "study_target",
]

MARK_USER_ATTRS = TrialRecord.keys("interrupted", "surplus")  # what `counts` reads of a record
MARK_SYSTEM_ATTRS = (RETRY_HISTORY,)  # what `superseded` reads


@dataclass(frozen=True)
class TrialCounts:
    """A study's trials as they count towards its total.

    ``complete``, ``pruned`` and ``failed`` are counted trials only, so ``counted`` is their
    sum; ``not_counted`` are finished trials that hold no slot (interrupted, continued by a
    retry, surplus); ``target`` is the study file's ``n_trials`` (None for a study ressearch
    did not create).

    Example:
        >>> counts = TrialCounts(complete=5, pruned=3, failed=0, not_counted=1, target=8)
        >>> counts.counted, counts.stored, counts.finished
        (8, 9, True)
        >>> counts.describe()
        '8/8 trials (5 complete, 3 pruned, 0 failed; 1 more not counted: interrupted, retried or surplus)'
    """

    complete: int = 0
    pruned: int = 0
    failed: int = 0
    not_counted: int = 0
    running: int = 0
    waiting: int = 0
    target: int | None = None

    @property
    def counted(self) -> int:
        return self.complete + self.pruned + self.failed

    @property
    def stored(self) -> int:
        """Every trial the storage holds, in any state."""
        return self.counted + self.not_counted + self.running + self.waiting

    @property
    def finished(self) -> bool:
        """Whether the counted trials reach the total: a run has nothing left to start."""
        return self.target is not None and self.counted >= self.target

    def to_dict(self) -> dict[str, int | None]:
        """The counts as JSON: ``counted`` of ``target``, by state, and the rest."""
        return {
            "counted": self.counted,
            "target": self.target,
            "complete": self.complete,
            "pruned": self.pruned,
            "failed": self.failed,
            "not_counted": self.not_counted,
            "running": self.running,
            "waiting": self.waiting,
        }

    def of_target(self) -> str:
        """``8/8``, or the counted trials alone where the total is unknown."""
        return f"{self.counted}" if self.target is None else f"{self.counted}/{self.target}"

    def describe(self) -> str:
        """``8/8 trials (5 complete, 3 pruned, 0 failed)``, and the finished trials not counted."""
        text = (
            f"{self.of_target()} trials ({self.complete} complete, {self.pruned} pruned, {self.failed} failed"
        )
        if self.not_counted:
            text += f"; {self.not_counted} more not counted: interrupted, retried or surplus"
        return text + ")"


def _tally(states: Mapping[TrialState, int], marked: Sequence[Marked], target: int | None) -> TrialCounts:
    """The counts from the number of trials in each state and (at least) every trial that has a
    mark or that a retry names: the others count exactly when they finished."""
    replaced = superseded(marked)
    off = Counter(
        trial.state for trial in marked if trial.state in COUNTED_STATES and not counts(trial, replaced)
    )
    return TrialCounts(
        complete=states.get(TrialState.COMPLETE, 0) - off[TrialState.COMPLETE],
        pruned=states.get(TrialState.PRUNED, 0) - off[TrialState.PRUNED],
        failed=states.get(TrialState.FAIL, 0) - off[TrialState.FAIL],
        not_counted=sum(off.values()),
        running=states.get(TrialState.RUNNING, 0),
        waiting=states.get(TrialState.WAITING, 0),
        target=target,
    )


def count_trials(trials: Iterable[optuna.trial.FrozenTrial], target: int | None = None) -> TrialCounts:
    """The counts of these trials (all of one study), read from the trials themselves."""
    trials = list(trials)
    return _tally(Counter(trial.state for trial in trials), trials, target)


def count_stored(
    storage: optuna.storages.BaseStorage, study_id: int, target: int | None = None
) -> TrialCounts:
    """The counts of a stored study, asking the database for the marked trials only (see the module)."""
    from ressearch.storage.marks import marked_trials, trials_by_number
    from ressearch.storage.tables import state_counts

    marked: list[Marked] = list(
        marked_trials(storage, study_id, user_attrs=MARK_USER_ATTRS, system_attrs=MARK_SYSTEM_ATTRS)
    )
    named = superseded(marked) - {trial.number for trial in marked}
    marked += trials_by_number(storage, study_id, named)
    return _tally(state_counts(storage, study_id), marked, target)


def study_target(user_attrs: Mapping[str, Any], study_name: str) -> int | None:
    """The ``n_trials`` a ressearch study was last run to (from its metadata); None for another
    study, or where its metadata cannot be read here (its artifact folder is elsewhere)."""
    try:
        meta = StudyMeta.from_attrs(dict(user_attrs), study_name)
    except RessearchError:  # no study.json here, or a newer ressearch's: the counts stand alone
        return None
    if meta is None:
        return None
    target = meta.definition.get("study", {}).get("n_trials")
    return target if isinstance(target, int) else None
