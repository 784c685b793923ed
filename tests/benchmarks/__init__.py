"""Tests of the scripts in ``benchmarks/``, which are not a package: :func:`benchmark` imports one."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@contextmanager
def benchmark(name: str) -> Iterator[ModuleType]:
    """The script ``benchmarks/NAME.py`` as a module, with ``benchmarks/`` on the import path
    meanwhile (the scripts import their neighbours ``report`` and ``tabular``)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))
