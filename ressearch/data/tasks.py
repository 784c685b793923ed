"""What a dataset's task can be measured by: the check a study passes before anything is written.

Keras-free on purpose: ``ressearch run --workers N`` prepares the study in the parent process,
which trains nothing, and importing Keras there (TensorFlow's ~4 s import on this project's
2-core CPU) delayed every worker's start by as much (README, "Where a trial's time goes").
"""

from __future__ import annotations

from collections.abc import Sequence

from ressearch.data.dataset import Dataset
from ressearch.errors import ConfigError

__all__ = ["TASK_METRICS", "check_task", "task_kind"]

# Which validation metrics each task can report (the names Keras logs; compile makes them).
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("val_accuracy", "val_loss", "val_auc"),
    "multiclass": ("val_accuracy", "val_loss"),
    "regression": ("val_rmse", "val_loss"),
}
_ALWAYS = ("model_params", "latency")


def task_kind(dataset: Dataset) -> str:
    """``binary``, ``multiclass`` or ``regression``: what the head and the metrics are built for."""
    if dataset.task == "regression":
        return "regression"
    return "binary" if dataset.outputs == 1 else "multiclass"


def check_task(metrics: Sequence[str], dataset: Dataset, *, label_smoothing: bool = False) -> None:
    """Fail before any trial (and before a study is created) if the study does not fit the task:
    a metric the task cannot measure, or label smoothing without classes to smooth."""
    kind = task_kind(dataset)
    if label_smoothing and kind == "regression":
        raise ConfigError("train.label_smoothing: smooths class labels, and this task is regression")
    allowed = (*TASK_METRICS[kind], *_ALWAYS)
    for metric in metrics:
        if metric not in allowed:
            raise ConfigError(
                f"study.metric: {metric} cannot be measured on a {kind} task; use one of {', '.join(allowed)}"
            )
