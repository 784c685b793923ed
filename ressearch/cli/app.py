"""The ``ressearch`` Typer app; the command modules register their commands on it."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    name="ressearch",
    help="Hyperparameter search for residual networks: Optuna studies over Keras 3 models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
