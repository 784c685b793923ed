"""The median pruner of ``pruner: median``: Optuna's rule, with finished trials held at their end.

Optuna's :class:`~optuna.pruners.MedianPruner` judges a trial's best value so far against the
median of the finished trials' values *at the same epoch*. A finished trial that early
stopping ended at epoch 12 has no value at epoch 13, so a trial that gets past the epochs where
the finished ones stopped is judged against nobody and runs to its last epoch: a slow learner
that stays just above the bar for a dozen epochs then runs all 60 unjudged, the long tail of
a study's time. Here a finished trial counts past its last epoch with the value it finished
at (its objective value): a trial that has had more epochs than the others needed must still
reach the median of what they finished with. At an epoch every finished trial reached, the
rule is Optuna's, unchanged; at one some of them did not reach, those count at their final value
where Optuna's leaves them out.
"""

from __future__ import annotations

import math
import statistics

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

__all__ = ["MedianPruner"]


class MedianPruner(optuna.pruners.MedianPruner):
    """Prune a trial whose best value so far is worse than the median of the finished trials'
    values at its epoch, each finished trial counting past its last epoch at the value it
    finished with.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(direction="maximize", pruner=MedianPruner(n_startup_trials=1))
        >>> first = study.ask()
        >>> for epoch, value in enumerate([0.6, 0.8, 0.9]):
        ...     first.report(value, epoch)
        >>> _ = study.tell(first, 0.9)
        >>> second = study.ask()
        >>> for epoch, value in enumerate([0.5, 0.7, 0.85, 0.88]):
        ...     second.report(value, epoch)
        >>> second.should_prune()  # at epoch 3 the first trial counts at 0.9, its final value
        True
    """

    def __init__(self, *, n_startup_trials: int = 5, n_warmup_steps: int = 0) -> None:
        super().__init__(n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps)

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        finished = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        step = trial.last_step
        if (
            not finished
            or len(finished) < self._n_startup_trials
            or step is None
            or step < self._n_warmup_steps
        ):
            return False
        maximize = study.direction == StudyDirection.MAXIMIZE
        own = [value for value in trial.intermediate_values.values() if not math.isnan(value)]
        if not own:
            return True  # only NaN so far: Optuna prunes it too
        best = max(own) if maximize else min(own)
        others = [value for value in (_value_at(other, step) for other in finished) if value is not None]
        if not others:
            return False
        median = statistics.median(others)
        return best < median if maximize else best > median


def _value_at(trial: FrozenTrial, step: int) -> float | None:
    """A finished trial's value at ``step``: the one it reported there or, past its last
    epoch, the value it finished with; None where it has neither (or NaN)."""
    value = trial.intermediate_values.get(step)
    if value is None and trial.last_step is not None and step > trial.last_step and trial.values:
        value = trial.values[0]
    return None if value is None or math.isnan(value) else float(value)
