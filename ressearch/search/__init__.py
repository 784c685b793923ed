"""The search: the only code that drives Optuna (sampling, samplers and pruners, the objective,
the record of each trial, running studies). Must not import the results or CLI layers.
"""

from ressearch.search.objective import Objective, SampledTrial
from ressearch.search.record import STUDY_ATTR, StudyMeta, TrialRecord
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

__all__ = [
    "STUDY_ATTR",
    "Objective",
    "PreparedStudy",
    "RunStart",
    "RunSummary",
    "SampledTrial",
    "StudyMeta",
    "TrialEvent",
    "TrialRecord",
    "best_so_far",
    "finished_trials",
    "make_pruner",
    "make_sampler",
    "optimize",
    "prepare",
    "run_study",
    "sample",
    "sample_train",
    "summarize",
]
