"""CSV files: a label column and feature columns, numeric or text, with missing values."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd

from ressearch.config.data import DataConfig
from ressearch.data.messages import first_line, quoted
from ressearch.data.recipes import fit_csv
from ressearch.data.sources.base import Raw, resolve_path
from ressearch.errors import DataError

__all__ = ["load"]


def load(config: DataConfig, base_dir: Path | None) -> Raw:
    path = resolve_path(config.location, base_dir, what="csv file")
    if path.is_dir():
        raise DataError(f"data.source: {path} is a folder, not a csv file")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"data.source: csv file {path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"data.source: {path} is not parseable CSV ({first_line(error)})") from None
    columns = [str(name) for name in frame.columns]
    frame.columns = pd.Index(columns)
    if frame.empty:
        raise DataError(f"data.source: csv file {path} has no rows, only the header {quoted(columns)}")
    target = str(config.target)
    if target not in columns:
        raise DataError(f"data.target: column {target!r} is not in {path}; it has columns {quoted(columns)}")
    if config.features is None:
        features = [name for name in columns if name != target]
    else:
        features = list(config.features)
        for name in features:
            if name not in columns:
                raise DataError(
                    f"data.features: column {name!r} is not in {path}; it has columns {quoted(columns)}"
                )
    if not features:
        raise DataError(f"data.source: {path} has no feature columns besides the target {target!r}")
    return Raw(
        x=frame[features],
        y=frame[target].to_numpy(),
        fit=partial(
            fit_csv, where=str(path), scaling=config.scaling, clip=config.clip, max_onehot=config.max_onehot
        ),
        target=target,
    )
