"""``.npz`` archives of arrays ``x`` (rows, sequences or images) and ``y``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ressearch.config.data import DataConfig
from ressearch.data.messages import first_line, quoted
from ressearch.data.recipes import Recipe, fit_image, fit_standardised
from ressearch.data.sources.base import Array, Raw, resolve_path
from ressearch.errors import DataError

__all__ = ["load"]


def load(config: DataConfig, base_dir: Path | None) -> Raw:
    path = resolve_path(config.location, base_dir, what="npz file")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # numpy raises many kinds for a file that is not an archive
        raise DataError(f"data.source: {path} is not a readable .npz file ({first_line(error)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"data.source: {path} holds one array, not an .npz archive of arrays 'x' and 'y'")
    with archive:
        names = sorted(archive.files)
        arrays: dict[str, Array] = {}
        for name in ("x", "y"):
            if name not in names:
                raise DataError(f"data.source: {path} has no array {name!r}; it has arrays {quoted(names)}")
            try:
                arrays[name] = np.asarray(archive[name])
            except ValueError as error:  # object arrays need pickle, which is unsafe to allow
                raise DataError(
                    f"data.source: array {name!r} in {path} cannot be read ({first_line(error)})"
                ) from None
    x, y = arrays["x"], arrays["y"]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(
            f"data.source: array 'y' in {path} has shape {y.shape}; expected one label or value per row"
        )
    if len(x) != len(y):
        raise DataError(
            f"data.source: arrays 'x' and 'y' in {path} differ in length: "
            f"{len(x)} rows in 'x', {len(y)} in 'y'"
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"data.source: array 'x' in {path} holds {x.dtype} values; expected numbers")
    if x.dtype.kind == "f" and np.isnan(x).any():
        raise DataError(
            f"data.source: array 'x' in {path} holds {int(np.isnan(x).sum())} missing (NaN) values; "
            "fill them, or use a csv: source, which imputes"
        )
    fit: Callable[[Any], Recipe]
    if x.ndim == 2:
        fit = partial(fit_standardised, kind="tabular", scaling=config.scaling, clip=config.clip)
    elif x.ndim == 3:
        fit = partial(fit_standardised, kind="sequence")
    elif x.ndim == 4:
        fit = partial(fit_image, max_value=255.0 if x.dtype == np.uint8 else None, flatten=config.flatten)
    else:
        raise DataError(
            f"data.source: array 'x' in {path} has rank {x.ndim} (shape {x.shape}); expected 2 "
            "(tabular rows), 3 (sequences: length, channels) or 4 (images: height, width, channels)"
        )
    return Raw(x=x, y=y, fit=fit, target="y", floats_are_values=True)
