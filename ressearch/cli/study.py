"""``ressearch run``: create or resume a study and run it, with a progress display."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ressearch.cli.app import app
from ressearch.cli.options import ArtifactsOption, StorageOption
from ressearch.cli.output import err, out, user_errors
from ressearch.runtime import import_tensorflow_quietly, quiet_optuna


def _format_values(values: list[float] | None) -> str:
    if not values:
        return "-"
    return ", ".join(f"{value:.4g}" for value in values)


@app.command()
@user_errors
def run(
    study_file: Annotated[Path, typer.Argument(help="The study file (YAML).")],
    storage: StorageOption = None,
    n_trials: Annotated[
        int | None, typer.Option(min=1, help="The total number of trials the study should reach.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Stop starting trials after S seconds.")
    ] = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Create a study from STUDY_FILE, or resume it, and run it to its total of trials."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ressearch.config.files import load_study_file

    definition = load_study_file(study_file)
    import_tensorflow_quietly()
    quiet_optuna()
    from ressearch.search.runner import RunStart, TrialEvent, run_study

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )
    task: list[Any] = []

    def on_start(start: RunStart) -> None:
        verb = "created" if start.created else "resuming"
        err.print(
            f"study {start.name} ({verb}) on {start.storage}: {start.done}/{start.target} trials done, "
            f"optimising {', '.join(start.metrics)}",
            markup=False,
        )
        data = start.data
        err.print(
            f"data: {data.get('source')} -> {data.get('n_train')} train / "
            f"{data.get('n_val')} validation rows, input {tuple(data.get('input_shape') or ())}, "
            f"task {data.get('task')}",
            markup=False,
        )
        if start.multi_objective:
            err.print(
                "pruning is not used: Optuna cannot prune studies with several objectives", markup=False
            )
        progress.start()
        best = _format_values(start.best)
        task.append(progress.add_task(start.name, total=start.target, completed=start.done, best=best))

    def on_trial(event: TrialEvent) -> None:
        line = f"trial {event.number} {event.state.lower()}"
        if event.values and event.state == "PRUNED":
            line += f" (last reported {_format_values(event.values)})"
        elif event.values:
            line += f": {_format_values(event.values)}"
        if event.reason:
            line += f" ({event.reason})"
        progress.console.print(line, markup=False)
        progress.update(task[0], completed=event.done, best=_format_values(event.best))

    try:
        summary = run_study(
            definition,
            storage=storage,
            artifacts=artifacts,
            n_trials=n_trials,
            timeout=timeout,
            on_start=on_start,
            on_trial=on_trial,
        )
    finally:
        progress.stop()
    state = "interrupted" if summary.interrupted else "done"
    out.print(
        f"{summary.name}: {state}, {summary.done}/{summary.target} trials "
        f"({summary.complete} complete, {summary.pruned} pruned, {summary.failed} failed) "
        f"in {summary.elapsed:.0f}s",
        markup=False,
    )
    if summary.best_number is not None:
        out.print(f"best: trial {summary.best_number} = {_format_values(summary.best_values)}", markup=False)
    elif summary.pareto:
        out.print(f"Pareto set: trials {', '.join(map(str, summary.pareto))}", markup=False)
    if summary.interrupted:
        out.print("run the same command again to finish the study", markup=False)
        raise typer.Exit(1)  # 0 done, 2 a user mistake, 1 anything else (an interruption too)
