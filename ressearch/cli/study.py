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


def _trial_line(event: Any) -> str:
    line = f"trial {event.number} {event.state.lower()}"
    if event.values and event.state == "PRUNED":
        line += f" (last reported {_format_values(event.values)})"
    elif event.values:
        line += f": {_format_values(event.values)}"
    if event.reason:
        line += f" ({event.reason})"
    return line


def _start_lines(start: Any) -> list[str]:
    verb = "created" if start.created else "resuming"
    data = start.data
    lines = [
        f"study {start.name} ({verb}) on {start.storage}: {start.done}/{start.target} trials done, "
        f"optimising {', '.join(start.metrics)}",
        f"data: {data.get('source')} -> {data.get('n_train')} train / {data.get('n_val')} validation rows, "
        f"input {tuple(data.get('input_shape') or ())}, task {data.get('task')}",
    ]
    if start.multi_objective:
        lines.append("pruning is not used: Optuna cannot prune studies with several objectives")
    return lines


RECYCLED_EXIT = 3  # a worker that stopped to be replaced by a fresh process (the supervisor does)


def _print_summary(summary: Any) -> None:
    state = "interrupted" if summary.interrupted else "recycled" if summary.recycled else "done"
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
    if summary.recycled:
        raise typer.Exit(RECYCLED_EXIT)


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TextColumn("{task.fields[running]}"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


NTrialsOption = Annotated[
    int | None, typer.Option("--n-trials", min=1, help="The total number of trials the study should reach.")
]
TimeoutOption = Annotated[float | None, typer.Option(min=1, help="Stop starting trials after S seconds.")]


@app.command()
@user_errors
def run(
    study_file: Annotated[Path, typer.Argument(help="The study file (YAML).")],
    storage: StorageOption = None,
    n_trials: NTrialsOption = None,
    timeout: TimeoutOption = None,
    artifacts: ArtifactsOption = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Run N worker processes on this machine (default: in this one).")
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option(help="GPUs for the workers: all, or indices like 0,1 (one per worker, round robin)."),
    ] = None,
    trials_per_gpu: Annotated[int, typer.Option(min=1, help="Workers sharing one GPU.")] = 1,
    recycle_after: Annotated[
        int, typer.Option(min=1, help="Replace each worker process by a fresh one after N trials.")
    ] = 20,
) -> None:
    """Create a study from STUDY_FILE, or resume it, and run it to its total of trials."""
    from ressearch.config.files import load_study_file

    definition = load_study_file(study_file)
    if workers is not None or gpus is not None:
        from ressearch.workers import plan_workers

        plans = plan_workers(workers, gpus, trials_per_gpu)  # a bad flag fails before any work
        _run_workers(study_file, definition, plans, storage, artifacts, n_trials, timeout, recycle_after)
        return
    _run_here(definition, storage, artifacts, n_trials, timeout, worker_index=None, progress=True)


@app.command()
@user_errors
def worker(
    study_file: Annotated[Path, typer.Argument(help="The study file (YAML).")],
    storage: StorageOption = None,
    n_trials: NTrialsOption = None,
    timeout: TimeoutOption = None,
    artifacts: ArtifactsOption = None,
    index: Annotated[
        int | None, typer.Option(min=0, help="This worker's index: its own reproducible seed stream.")
    ] = None,
    max_trials: Annotated[
        int | None, typer.Option(min=1, help="Exit (code 3) after N trials, for a fresh process to go on.")
    ] = None,
    max_rss_mb: Annotated[
        float | None, typer.Option(min=1, help="Exit (code 3) after a trial that leaves RSS above MB.")
    ] = None,
) -> None:
    """Join the study of STUDY_FILE (from any machine that reaches its storage) and run trials
    until it reaches its total."""
    import os

    from ressearch.config.files import load_study_file
    from ressearch.workers.devices import WORKER_INDEX_ENV

    definition = load_study_file(study_file)
    if index is None and os.environ.get(WORKER_INDEX_ENV, "").isdigit():
        index = int(os.environ[WORKER_INDEX_ENV])
    if index is None:  # no index given: a seed stream of this process's own
        import socket

        index = hash((socket.gethostname(), os.getpid())) % 2**31
    from ressearch.search.runner import Recycle

    recycle = Recycle(max_trials=max_trials, max_rss_mb=max_rss_mb)
    _run_here(
        definition, storage, artifacts, n_trials, timeout, worker_index=index, progress=False, recycle=recycle
    )


def _run_here(
    definition: Any,
    storage: str | None,
    artifacts: Path | None,
    n_trials: int | None,
    timeout: float | None,
    *,
    worker_index: int | None,
    progress: bool,
    recycle: Any = None,
) -> None:
    """Run trials in this process: with a progress bar (``run``), or a line per trial (``worker``)."""
    import_tensorflow_quietly()
    quiet_optuna()
    from ressearch.search.runner import RunStart, TrialEvent, run_study

    bar = _progress() if progress else None
    task: list[Any] = []

    def on_start(start: RunStart) -> None:
        for line in _start_lines(start):
            err.print(line, markup=False)
        if bar is not None:
            bar.start()
            best = _format_values(start.best)
            task.append(
                bar.add_task(start.name, total=start.target, completed=start.done, best=best, running="")
            )

    def on_trial(event: TrialEvent) -> None:
        if bar is None:
            err.print(_trial_line(event), markup=False)
            return
        bar.console.print(_trial_line(event), markup=False)
        bar.update(task[0], completed=event.done, best=_format_values(event.best))

    try:
        summary = run_study(
            definition,
            storage=storage,
            artifacts=artifacts,
            n_trials=n_trials,
            timeout=timeout,
            on_start=on_start,
            on_trial=on_trial,
            worker_index=worker_index,
            recycle=recycle,
        )
    finally:
        if bar is not None:
            bar.stop()
    _print_summary(summary)


def _run_workers(
    study_file: Path,
    definition: Any,
    plans: list[Any],
    storage: str | None,
    artifacts: Path | None,
    n_trials: int | None,
    timeout: float | None,
    recycle_after: int,
) -> None:
    """Create or resume the study here, then supervise local worker processes until it is done."""
    import time

    import_tensorflow_quietly()
    quiet_optuna()
    from ressearch.search.runner import prepare, summarize
    from ressearch.storage.urls import resolve_storage_url
    from ressearch.workers import StudyProgress, Supervisor

    started = time.monotonic()
    overridden = definition.with_overrides(n_trials=n_trials, timeout=timeout)
    # Prepared once here: the study exists before its workers start, so they never race to create it.
    prepared = prepare(overridden, storage=storage, artifacts=artifacts)
    for line in _start_lines(prepared.start_event()):
        err.print(line, markup=False)
    devices = ", ".join(sorted({plan.devices for plan in plans if plan.devices is not None})) or "inherited"
    log_dir = prepared.artifacts / "workers" / overridden.settings.name
    err.print(f"{len(plans)} workers (GPUs: {devices}); their logs: {log_dir}", markup=False)
    bar = _progress()
    bar.start()
    settings = overridden.settings
    task = bar.add_task(
        settings.name, total=settings.n_trials, completed=prepared.done_before, best="-", running=""
    )

    def on_progress(status: StudyProgress) -> None:
        running = ", ".join(f"w{index}:#{number}" for index, number in sorted(status.running.items()))
        bar.update(task, completed=status.done, best=_format_values(status.best), running=running)

    def on_restart(index: int, code: int | None, delay: float) -> None:
        bar.console.print(f"worker {index} exited with code {code}: restarting in {delay:.0f}s", markup=False)

    supervisor = Supervisor(
        study_file.resolve(),
        name=settings.name,
        target=settings.n_trials,
        storage=resolve_storage_url(storage),
        artifacts=prepared.artifacts,
        plans=plans,
        log_dir=log_dir,
        n_trials=n_trials,
        timeout=timeout,
        recycle_after=recycle_after,
        outage_s=settings.outage_s,
        on_progress=on_progress,
        on_restart=on_restart,
    )
    try:
        result = supervisor.run()
    finally:
        bar.stop()
    if result.error is not None and result.storage_unavailable:
        from ressearch.errors import StorageUnavailable

        raise StorageUnavailable(result.error)  # one line, exit 4
    if result.error is not None and result.user_error:
        from ressearch.errors import RessearchError

        raise RessearchError(result.error)  # one line, exit 2
    if result.error is not None:
        err.print(f"error: {result.error}", markup=False)
        raise typer.Exit(1)
    # Summarised on a fresh connection: the one prepare() opened has sat idle while the workers ran.
    import dataclasses

    import optuna

    from ressearch.storage.urls import open_storage

    fresh = optuna.load_study(
        study_name=settings.name, storage=open_storage(storage, heartbeat=False, outage_s=settings.outage_s)
    )
    prepared = dataclasses.replace(prepared, study=fresh)
    _print_summary(summarize(prepared, interrupted=result.interrupted, elapsed=time.monotonic() - started))
