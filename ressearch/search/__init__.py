"""The search: the only code that drives Optuna (sampling, samplers and pruners, the objective,
the record of each trial, running studies). Must not import the results or CLI layers.

The names below are loaded on first use, so that a module that needs only the record of a
trial or the retry rules (``ressearch.search.retry``) does not load the data and training layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ressearch.runtime import lazy_exports

if TYPE_CHECKING:
    from ressearch.search.inverse import params_for
    from ressearch.search.objective import EpochEvent, Objective, SampledTrial
    from ressearch.search.record import STUDY_ATTR, StudyMeta, TrialConfig, TrialMeasurements, TrialRecord
    from ressearch.search.runner import (
        PreparedStudy,
        RunStart,
        RunSummary,
        TrialEvent,
        best_so_far,
        finished_trials,
        optimize,
        prepare,
        run_study,
        summarize,
    )
    from ressearch.search.samplers import make_pruner, make_sampler
    from ressearch.search.space import sample, sample_train

_EXPORTS = {
    "params_for": "ressearch.search.inverse",
    "EpochEvent": "ressearch.search.objective",
    "Objective": "ressearch.search.objective",
    "SampledTrial": "ressearch.search.objective",
    "STUDY_ATTR": "ressearch.search.record",
    "StudyMeta": "ressearch.search.record",
    "TrialConfig": "ressearch.search.record",
    "TrialMeasurements": "ressearch.search.record",
    "TrialRecord": "ressearch.search.record",
    "PreparedStudy": "ressearch.search.runner",
    "RunStart": "ressearch.search.runner",
    "RunSummary": "ressearch.search.runner",
    "TrialEvent": "ressearch.search.runner",
    "best_so_far": "ressearch.search.runner",
    "finished_trials": "ressearch.search.runner",
    "optimize": "ressearch.search.runner",
    "prepare": "ressearch.search.runner",
    "run_study": "ressearch.search.runner",
    "summarize": "ressearch.search.runner",
    "make_pruner": "ressearch.search.samplers",
    "make_sampler": "ressearch.search.samplers",
    "sample": "ressearch.search.space",
    "sample_train": "ressearch.search.space",
}

__all__ = [
    "EpochEvent",
    "Objective",
    "PreparedStudy",
    "RunStart",
    "RunSummary",
    "STUDY_ATTR",
    "SampledTrial",
    "StudyMeta",
    "TrialConfig",
    "TrialEvent",
    "TrialMeasurements",
    "TrialRecord",
    "best_so_far",
    "finished_trials",
    "make_pruner",
    "make_sampler",
    "optimize",
    "params_for",
    "prepare",
    "run_study",
    "sample",
    "sample_train",
    "summarize",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
