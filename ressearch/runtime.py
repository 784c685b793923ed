"""Process-wide settings that only entry points may change: environment, warnings, log levels.

Importing ressearch changes nothing global, so a notebook, a test or a worker thread keeps the
settings it had. The ``ressearch`` command (and ``python -m ressearch``) calls
:func:`configure_runtime` once, before TensorFlow is imported; a script that wants the same quiet
start calls it too. Must not import anything of ressearch but errors.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "configure_runtime",
    "import_tensorflow_quietly",
    "lazy_exports",
    "quiet_optuna",
    "resident_mb",
]

# Optuna marks heartbeats, grouped TPE and metric names experimental: nothing a user can act on.
_EXPERIMENTAL = r".*(is an experimental feature|is experimental \(supported)"


def configure_runtime(*, keras_backend: str = "tensorflow") -> None:
    """Set what an entry point sets before TensorFlow loads; values already set are kept.

    - ``KERAS_BACKEND`` (default ``tensorflow``) and ``TF_CPP_MIN_LOG_LEVEL=2`` (TensorFlow's C++
      start-up chatter off), unless the environment has them;
    - ``MPLBACKEND=Agg`` unless set: the command draws plots into files, never in a window;
    - Optuna's "experimental feature" warnings ignored;
    - Optuna's log level ERROR once Optuna is imported (see :func:`quiet_optuna`).
    """
    os.environ.setdefault("KERAS_BACKEND", keras_backend)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MPLBACKEND", "Agg")
    warnings.filterwarnings("ignore", message=_EXPERIMENTAL)


def quiet_optuna() -> None:
    """Failed trials are reported by ressearch in one line, not as Optuna's tracebacks."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("optuna_integration").setLevel(logging.ERROR)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up chatter (oneDNN, CUDA stubs) kept off stderr.

    Set RESSEARCH_TF_VERBOSE=1 to see it. Python errors still surface: only fd 2 is muted, and
    only while the import and the first op run, at start-up before any thread of ours exists.
    TensorFlow's warning that a function "triggered tf.function retracing" is dropped as well: a
    process that trains one new model per trial (or per ablation run) retraces by design.
    """
    if os.environ.get("RESSEARCH_TF_VERBOSE"):
        return
    logging.getLogger("tensorflow").addFilter(_not_retracing)  # the same filter is added once
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.constant(1) + 1  # the CPU-feature notice comes with the first op
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _not_retracing(record: logging.LogRecord) -> bool:
    return "triggered tf.function retracing" not in record.getMessage()


def resident_mb() -> float:
    """This process's resident memory in MB (VmRSS), or its peak where /proc is not there."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lazy_exports(
    package: str, exports: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` that import each name of ``exports`` (name ->
    module) on first use and keep it in ``namespace`` (the package's ``globals()``)."""

    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *exports})

    return getattr_, dir_
