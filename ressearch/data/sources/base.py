"""What a source loader returns, and how its paths resolve."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy.typing as npt
import pandas as pd

from ressearch.data.recipes import Recipe
from ressearch.data.split import Task
from ressearch.errors import DataError

__all__ = ["Array", "Raw", "resolve_path"]

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Raw:
    """What a loader found: raw inputs and labels, and how to fit a recipe to training rows."""

    x: pd.DataFrame | Array
    y: Array
    fit: Callable[[Any], Recipe]
    target: str | None = None
    task: Task | None = None  # the task the source implies, used when the config says "auto"
    class_names: tuple[str, ...] | None = None  # when y already holds class indices
    floats_are_values: bool = False  # a float y with non-integer values is a regression target


def resolve_path(location: str, base_dir: Path | None, *, what: str) -> Path:
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    if not path.exists():
        raise DataError(f"data.source: {what} {path} does not exist")
    return path
