"""``ressearch report``: a study's report as one self-contained HTML page and its PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ressearch.cli.app import app
from ressearch.cli.options import StorageOption, StudyName
from ressearch.cli.output import out, user_errors
from ressearch.runtime import quiet_optuna


@app.command()
@user_errors
def report(
    name: StudyName,
    out_dir: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder to write (must be new or empty).")
    ],
    storage: StorageOption = None,
    top: Annotated[
        int,
        typer.Option(
            "--top", min=1, metavar="K", help="How many of the best trials the table and curves show."
        ),
    ] = 5,
    force: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
) -> None:
    """Write a report of study NAME: index.html (plots embedded, opens offline) and the PNG plots.

    Writes into --out only: index.html, optimization_history.png, learning_curves.png,
    param_importances.png, parallel_coordinate.png, intermediate_values.png (pareto_front.png
    for several objectives). Reads the storage; creates nothing there.
    """
    from ressearch.results.report import write_report

    quiet_optuna()
    result = write_report(name, out_dir, storage=storage, top=top, force=force)
    left_out = f", {len(result.left_out)} left out (the page says why)" if result.left_out else ""
    out.print(
        f"wrote the report of {name} to {result.page} ({len(result.plots)} plots{left_out})", markup=False
    )
