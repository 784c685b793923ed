"""Targets and the split: encode labels, infer the task, subsample, split once, weigh classes.

Every function is deterministic for a seed, so a study's validation split can be made again
(for export, for a resumed study) by calling the same code with the same seed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

from ressearch.config.data import DataConfig
from ressearch.data.messages import quoted
from ressearch.errors import DataError

if TYPE_CHECKING:
    from ressearch.data.sources.base import Raw

__all__ = [
    "Task",
    "balanced_weights",
    "encode_target",
    "infer_task",
    "label_name",
    "split_rows",
    "subsample",
    "take",
    "target_place",
]

Task = Literal["classification", "regression"]
Array = npt.NDArray[Any]

# task "auto": a float target with more distinct non-integer values than this is a regression.
_REGRESSION_MIN_DISTINCT = 20
# A numeric target with more distinct values than this is never a set of classes.
_MAX_CLASSES = 1000


def target_place(config: DataConfig, raw: Raw) -> str:
    if config.kind == "csv":
        return f"data.target: column {raw.target!r} of {config.location}"
    return f"data.source: the labels of {config.source}"


def label_name(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def encode_target(y: Array, config: DataConfig, raw: Raw) -> tuple[Task, Array, tuple[str, ...]]:
    place = target_place(config, raw)
    if y.dtype.kind in "OSUT":  # text (or pandas' mixed object) labels compare as text
        y = y.astype(str)
    numeric = y.dtype.kind in "iuf"
    distinct = np.unique(y)
    task: Task
    if config.task != "auto":
        task = config.task
    elif raw.task is not None:
        task = raw.task
    else:
        task = infer_task(y, distinct, floats_are_values=raw.floats_are_values)

    if task == "regression":
        if not numeric:
            text = [value for value in distinct if not _is_number(value)] or list(distinct)
            shown = quoted([label_name(value) for value in text], limit=3)
            raise DataError(f"{place} holds text ({shown}); regression needs numbers in every row")
        if not np.isfinite(y).all():
            raise DataError(f"{place} holds infinite values; regression needs finite numbers")
        return "regression", y.astype(np.float32), ()
    if numeric and len(distinct) > _MAX_CLASSES:
        raise DataError(
            f"{place} has {len(distinct)} distinct values, too many for classification "
            f"(at most {_MAX_CLASSES}); use task: regression"
        )
    if len(distinct) < 2:
        raise DataError(
            f"{place} has a single class ({label_name(distinct[0])!r}); classification needs at least 2"
        )
    if raw.class_names is not None:
        return "classification", y.astype(np.int64), raw.class_names
    codes = np.searchsorted(distinct, y).astype(np.int64)
    return "classification", codes, tuple(label_name(value) for value in distinct)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def infer_task(y: Array, distinct: Array, *, floats_are_values: bool) -> Task:
    if y.dtype.kind not in "iuf":
        return "classification"
    if len(distinct) > _MAX_CLASSES:
        return "regression"
    fractional = y.dtype.kind == "f" and not np.array_equal(distinct, np.round(distinct))
    if fractional and (floats_are_values or len(distinct) > _REGRESSION_MIN_DISTINCT):
        return "regression"
    return "classification"


def rare_class(codes: Array, class_names: tuple[str, ...]) -> str | None:
    """Why stratifying is impossible (a class with a single row), or None."""
    counts = np.bincount(codes, minlength=len(class_names))
    present = np.flatnonzero(counts)
    rarest = present[np.argmin(counts[present])]
    return f"class {class_names[rarest]!r} has 1 row" if counts[rarest] < 2 else None


def subsample(
    codes: Array, task: Task, class_names: tuple[str, ...], *, size: int, seed: int, notes: list[str]
) -> Array:
    rows = np.arange(len(codes))
    stratify = None
    if task == "classification":
        classes = len(np.unique(codes))
        why_not = rare_class(codes, class_names)
        if why_not is None and min(size, len(rows) - size) < classes:
            why_not = f"{min(size, len(rows) - size)} rows cannot hold all {classes} classes"
        if why_not is None:
            stratify = codes
        else:
            notes.append(f"max_rows subsample not stratified: {why_not}")
    kept, _ = train_test_split(rows, train_size=size, random_state=seed, stratify=stratify)
    return np.asarray(kept)


def split_rows(
    codes: Array, task: Task, class_names: tuple[str, ...], config: DataConfig, *, seed: int, notes: list[str]
) -> tuple[Array, Array, bool]:
    rows = np.arange(len(codes))
    n_val = math.ceil(config.validation_split * len(rows))  # as scikit-learn counts it
    n_train = len(rows) - n_val
    if n_train < 1 or n_val < 1:
        raise DataError(
            f"data.validation_split: {config.validation_split} of {len(rows)} rows leaves "
            f"{n_train} training and {n_val} validation rows; both need at least 1"
        )
    stratify = None
    if task == "classification":
        why_not = rare_class(codes, class_names)
        classes = len(np.unique(codes))
        if why_not is not None:
            notes.append(f"split not stratified: {why_not}")
        elif min(n_train, n_val) < classes:
            raise DataError(
                f"data.validation_split: {config.validation_split} of {len(rows)} rows gives {n_train} "
                f"training and {n_val} validation rows, too few to hold all {classes} classes; "
                "change validation_split or max_rows"
            )
        else:
            stratify = codes
    train, val = train_test_split(
        rows, test_size=config.validation_split, random_state=seed, stratify=stratify
    )
    return np.asarray(train), np.asarray(val), stratify is not None


def take(x: pd.DataFrame | Array, rows: Array) -> pd.DataFrame | Array:
    if isinstance(x, pd.DataFrame):
        return x.iloc[rows].reset_index(drop=True)
    return x[rows]


def balanced_weights(y_train: Array, num_classes: int) -> dict[int, float]:
    present = np.unique(y_train)
    weights = compute_class_weight("balanced", classes=present, y=y_train)
    result = dict.fromkeys(range(num_classes), 1.0)  # a class absent from training never counts
    result.update({int(label): float(weight) for label, weight in zip(present, weights, strict=True)})
    return result
