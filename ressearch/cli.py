"""The ``ressearch`` command: each command parses, calls the library, and prints.

User mistakes (:class:`RessearchError`) become one line on stderr and exit code 2; anything
else is a bug and exits 1 with its traceback. Only this module prints.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import warnings
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ressearch.errors import ConfigError, RessearchError

__all__ = ["app", "main"]

# Optuna marks heartbeats, grouped TPE and metric names experimental: nothing a user can act on.
warnings.filterwarnings("ignore", message=r".*(is an experimental feature|is experimental \(supported)")

app = typer.Typer(
    name="ressearch",
    help="Hyperparameter search for residual networks: Optuna studies over Keras 3 models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(function: F) -> F:
    """Turn a library error into one line on stderr and exit code 2."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except RessearchError as error:
            from ressearch.redact import redact

            err.print(f"error: {redact(str(error))}", markup=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up chatter (oneDNN, CUDA stubs) kept off stderr.

    Set RESSEARCH_TF_VERBOSE=1 to see it. Python errors still surface: only fd 2 is muted,
    and only while the import and the first op run.
    """
    if "tensorflow" in sys.modules or os.environ.get("RESSEARCH_TF_VERBOSE"):
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


def _parse_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    parts = re.split(r"[,x]", text.strip())
    shape = tuple(int(part) for part in parts if part.strip().isdigit())
    if len(shape) != len(parts):
        shape = ()
    if not shape or len(shape) > 3 or min(shape) < 1:
        raise ConfigError(
            f"--input-shape: expected 1 to 3 positive integers such as 32,32,3 or 26, got {text!r}"
        )
    return shape


@app.command()
@_user_errors
def presets(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per preset family.")] = False,
) -> None:
    """List the named architectures (parametric where the papers are)."""
    from ressearch.presets import get_preset, list_presets

    rows: list[dict[str, Any]] = []
    for preset in list_presets():
        config = get_preset(preset.example)
        rows.append(
            {
                "pattern": preset.pattern,
                "example": preset.example,
                "description": preset.description,
                "block_type": config.block_type,
                "depths": list(config.depths),
                "widths": list(config.widths),
            }
        )
    if as_json:
        _print_json(rows)
        return
    table = Table("example", "family", "block", "depths", "widths")
    for row in rows:
        table.add_row(
            row["example"],
            row["description"],
            row["block_type"],
            "-".join(map(str, row["depths"])),
            "/".join(map(str, row["widths"])),
        )
    out.print(table)
    out.print("Numbers vary as in the papers: resnet20/32/44/56/110, preact-resnet164, wrn-16-4, ...")


@app.command()
@_user_errors
def build(
    spec: Annotated[str, typer.Argument(help="A preset name, or the path of a config JSON.")],
    input_shape: Annotated[
        str | None, typer.Option(help="Input shape, e.g. 32,32,3 (images), 100,4 (sequences), 26 (rows).")
    ] = None,
    outputs: Annotated[int | None, typer.Option(min=1, help="Number of outputs (classes).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print params and the full config as JSON.")
    ] = False,
) -> None:
    """Build a network from a preset or a config file and show its shape and parameters."""
    from ressearch.presets import load_architecture

    config = load_architecture(spec, input_shape=_parse_shape(input_shape), outputs=outputs)
    _import_tensorflow_quietly()
    from ressearch.builder import summarize

    summary = summarize(config)
    if as_json:
        _print_json({**summary.to_dict(), "config": config.to_dict()})
        return
    out.print(
        f"[bold]{config.name}[/bold]: {config.block_type} blocks, input {config.input_shape}, "
        f"{config.outputs} outputs ({config.head})"
    )
    table = Table("stage", "blocks", "width")
    for stage, (depth, width) in enumerate(zip(config.depths, config.widths, strict=True), 1):
        table.add_row(str(stage), str(depth), str(width))
    out.print(table)
    out.print(
        f"{summary.weight_layers} weight layers, skip length {config.skip_length}, "
        f"RoR levels {config.ror_levels}, shortcut {config.shortcut}"
    )
    out.print(f"parameters: {summary.params:,} ({summary.trainable_params:,} trainable)")


StorageOption = Annotated[
    str | None,
    typer.Option(
        "--storage", help="Database URL (default: $RESSEARCH_STORAGE, else sqlite:///ressearch.db)."
    ),
]
StudyName = Annotated[str, typer.Argument(help="Study name.")]
ArtifactsOption = Annotated[
    Path | None,
    typer.Option(help="Folder of trained models (default: beside the SQLite file, or $RESSEARCH_ARTIFACTS)."),
]


def _quiet_optuna() -> None:
    import optuna

    # Failed trials are reported by the progress display in one line, not as Optuna tracebacks.
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _format_values(values: list[float] | None) -> str:
    if not values:
        return "-"
    return ", ".join(f"{value:.4g}" for value in values)


@app.command()
@_user_errors
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

    from ressearch.studyfile import load_study_file

    definition = load_study_file(study_file)
    _import_tensorflow_quietly()
    _quiet_optuna()
    from ressearch.study import RunStart, TrialEvent, run_study

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


@app.command()
@_user_errors
def studies(
    storage: StorageOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the studies in the storage."""
    from ressearch.export import list_studies
    from ressearch.storage import open_storage

    _quiet_optuna()
    rows = list_studies(open_storage(storage, heartbeat=False))
    if as_json:
        _print_json(rows)
        return
    table = Table("name", "metrics", "trials", "complete", "pruned", "failed", "running", "best")
    for row in rows:
        best = row["best_value"]
        table.add_row(
            row["name"],
            ", ".join(row["metrics"] or row["directions"]),
            *(str(row[key]) for key in ("trials", "complete", "pruned", "failed", "running")),
            "-" if best is None else f"{best:.4g}",
        )
    out.print(table)


class TrialsFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
@_user_errors
def trials(
    name: StudyName,
    storage: StorageOption = None,
    output_format: Annotated[
        TrialsFormat, typer.Option("--format", help="Output format.")
    ] = TrialsFormat.table,
) -> None:
    """Show every trial of study NAME."""
    from ressearch.export import trials_frame
    from ressearch.study import load_study

    frame = trials_frame(load_study(name, storage))
    if output_format is TrialsFormat.csv:
        sys.stdout.write(frame.to_csv(index=False))
    elif output_format is TrialsFormat.json:
        sys.stdout.write(frame.to_json(orient="records", indent=2) + "\n")
    else:
        # The sampled parameters make the table too wide for a terminal: csv and json have them.
        columns = [column for column in frame.columns if not str(column).startswith("param_")]
        columns = [column for column in columns if column not in ("fail_reason", "duration_s")]
        table = Table(*[str(column) for column in columns])
        for record in frame[columns].to_dict(orient="records"):
            table.add_row(*[_cell(value) for value in record.values()])
        out.print(table)
        out.print("sampled parameters: --format csv or --format json", markup=False)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@app.command()
@_user_errors
def best(
    name: StudyName,
    storage: StorageOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the best trial of study NAME (the Pareto set for several objectives)."""
    from ressearch.export import best_trials, describe_trial
    from ressearch.study import load_study

    study = load_study(name, storage)
    described = [describe_trial(study, trial) for trial in best_trials(study)]
    if as_json:
        _print_json(described[0] if len(study.directions) == 1 else described)
        return
    for item in described:
        values = item.get("values") or [item.get("value")]
        names = item.get("metrics") or [item.get("metric")]
        scores = ", ".join(f"{metric} {value:.4g}" for metric, value in zip(names, values, strict=False))
        architecture = item["architecture"] or {}
        out.print(
            f"trial {item['number']}: {scores}; {architecture.get('block_type')} blocks, "
            f"depths {architecture.get('depths')}, widths {architecture.get('widths')}, "
            f"{item['model_params'] or 0:,} parameters",
            markup=False,
        )
        out.print(f"  params: {json.dumps(item['params'])}", markup=False)


@app.command()
@_user_errors
def export(
    name: StudyName,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write (must be new or empty).")],
    storage: StorageOption = None,
    artifacts: ArtifactsOption = None,
    force: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
) -> None:
    """Export the best model of study NAME: config.json, model.keras, metrics.json, trials.csv."""
    from ressearch.export import export_study

    result = export_study(name, out_dir, storage=storage, artifacts=artifacts, force=force)
    trial_list = ", ".join(map(str, result.trials))
    out.print(f"exported trial {trial_list} of {name} to {result.out}", markup=False)


@app.command()
@_user_errors
def dashboard(
    storage: StorageOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    artifacts: ArtifactsOption = None,
) -> None:
    """Serve optuna-dashboard on the same storage, with the trained models as artifacts."""
    from optuna_dashboard import run_server

    from ressearch.redact import redact
    from ressearch.storage import artifact_dir_for, open_artifact_store, open_storage, resolve_storage_url

    url = resolve_storage_url(storage)
    backend = open_storage(url, heartbeat=False)
    store = open_artifact_store(artifact_dir_for(url, artifacts))
    err.print(f"optuna-dashboard for {redact(url)} on http://{host}:{port} (Ctrl-C stops it)", markup=False)
    run_server(backend, host=host, port=port, artifact_store=store)


def main() -> None:
    """Entry point of the ``ressearch`` console script."""
    app()
