"""Training one trial: compile, fit with callbacks, measure. A pruner arrives as a Keras callback.

Keras, the arch and data layers only: must not import Optuna, the storage, search, results or
CLI layers.
"""

from ressearch.training.callbacks import CurveRecorder
from ressearch.training.compile import check_task, compile_model, task_kind
from ressearch.training.fit import TrialResult, train_trial
from ressearch.training.measure import evaluate, measure_latency

__all__ = [
    "CurveRecorder",
    "TrialResult",
    "check_task",
    "compile_model",
    "evaluate",
    "measure_latency",
    "task_kind",
    "train_trial",
]
