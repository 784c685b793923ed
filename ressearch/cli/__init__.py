"""The ``ressearch`` command: a Typer app, one module per command group; the only place that prints.

Each command parses, calls the library and prints; library errors become one line on stderr and
exit code 2. May import every layer below it.
"""

from __future__ import annotations

from ressearch.cli import ablate, arch, report, results, serve, study  # noqa: F401  (each registers its commands)
from ressearch.cli.app import app
from ressearch.runtime import configure_runtime

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``ressearch`` console script and ``python -m ressearch``."""
    configure_runtime()
    app()
