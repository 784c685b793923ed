"""Data sources by kind: each module turns a ``data:`` section into raw rows and labels.

A source is one module with ``load(config, base_dir) -> Raw``; :data:`LOADERS` maps the
``source:`` kinds to them. Heavy libraries (TensorFlow, Keras) are imported inside the loaders
that need them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ressearch.config.data import DataConfig
from ressearch.data.sources import builtin, csv, images, keras, npz
from ressearch.data.sources.base import Raw, resolve_path
from ressearch.data.sources.images import IMAGE_SUFFIXES

__all__ = ["IMAGE_SUFFIXES", "LOADERS", "Raw", "resolve_path"]

LOADERS: dict[str, Callable[[DataConfig, Path | None], Raw]] = {
    "builtin": builtin.load,
    "csv": csv.load,
    "images": images.load,
    "keras": keras.load,
    "npz": npz.load,
}
