"""``ressearch run`` and ``ressearch worker``: create or resume a study and run it, shown as it goes
(``ressearch.cli.display``: live on a terminal, plain lines in a log, or JSON events)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ressearch.cli.app import app
from ressearch.cli.display import Display, LogFormat, LogFormatOption, QuietOption, Workers, choose_display
from ressearch.cli.options import ArtifactsOption, StorageOption
from ressearch.cli.output import err, user_errors
from ressearch.runtime import import_tensorflow_quietly, quiet_optuna

RECYCLED_EXIT = 3  # a worker that stopped to be replaced by a fresh process (the supervisor does)


def _finish(display: Display, summary: Any) -> None:
    """Show how the run ended, and exit with its code: 0 done, 1 interrupted, 3 recycled."""
    display.end(summary)
    if summary.interrupted:
        raise typer.Exit(1)  # 0 done, 2 a user mistake, 1 anything else (an interruption too)
    if summary.recycled:
        raise typer.Exit(RECYCLED_EXIT)


NTrialsOption = Annotated[
    int | None, typer.Option("--n-trials", min=1, help="The total number of trials the study should reach.")
]
TimeoutOption = Annotated[
    float | None, typer.Option(min=1, metavar="S", help="Stop starting trials after S seconds.")
]


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
        typer.Option(
            metavar="GPUS",
            help="GPUs for the workers: all, or indices like 0,1 (one per worker, round robin).",
        ),
    ] = None,
    trials_per_gpu: Annotated[int, typer.Option(min=1, help="Workers sharing one GPU.")] = 1,
    recycle_after: Annotated[
        int, typer.Option(min=1, help="Replace each worker process by a fresh one after N trials.")
    ] = 20,
    quiet: QuietOption = False,
    log_format: LogFormatOption = LogFormat.text,
    enqueue: Annotated[
        list[str] | None,
        typer.Option(
            "--enqueue",
            metavar="CONFIG_OR_PRESET",
            help="Seed the study with a preset, a config.json (or export folder), or study:NAME[:K] "
            "(the top K trials of another study); repeatable. Counts towards n_trials.",
        ),
    ] = None,
) -> None:
    """Create a study from STUDY_FILE, or resume it, and run it to its total of trials.

    Writes the study and its trials to the storage (default ./ressearch.db, created if missing),
    each trained model and per-epoch checkpoint to the artifact folder (default
    ressearch.db.artifacts/ beside the SQLite file, ./ressearch-artifacts/ for PostgreSQL), and with
    --workers each worker's log to ARTIFACTS/workers/STUDY/. The summary goes to stdout.
    """
    from ressearch.config.files import load_study_file
    from ressearch.config.warmstart import parse_warm_start

    display = choose_display(log_format, quiet=quiet, live=True)
    definition = load_study_file(study_file)
    extra = tuple(parse_warm_start(value, where="--enqueue") for value in enqueue or ())
    definition = definition.with_warm_starts(extra)
    plans = None
    if workers is not None or gpus is not None:
        from ressearch.workers import plan_workers

        plans = plan_workers(workers, gpus, trials_per_gpu)  # a bad flag fails before any work
    if _nothing_left(definition, storage, artifacts, n_trials, display):
        return
    if plans is not None:
        _run_workers(
            study_file, definition, plans, storage, artifacts, n_trials, timeout, recycle_after, display
        )
        return
    _run_here(definition, storage, artifacts, n_trials, timeout, worker_index=None, display=display)


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
        float | None,
        typer.Option(min=1, metavar="MB", help="Exit (code 3) after a trial that leaves RSS above MB."),
    ] = None,
    quiet: QuietOption = False,
    log_format: LogFormatOption = LogFormat.text,
) -> None:
    """Join the study of STUDY_FILE (from any machine that reaches its storage) and run trials
    until it reaches its total.

    Writes trials to the storage (the study is created if missing) and trained models and
    per-epoch checkpoints to the artifact folder, which workers on several machines must share.
    """
    import os

    from ressearch.config.files import load_study_file
    from ressearch.workers.devices import WORKER_INDEX_ENV

    # A worker's output goes to a log file: plain lines, even where it runs on a terminal.
    display = choose_display(log_format, quiet=quiet, live=False)
    definition = load_study_file(study_file)
    if index is None and os.environ.get(WORKER_INDEX_ENV, "").isdigit():
        index = int(os.environ[WORKER_INDEX_ENV])
    if _nothing_left(definition, storage, artifacts, n_trials, display):
        return
    if index is None:  # no index given: a seed stream of this process's own
        import socket

        index = hash((socket.gethostname(), os.getpid())) % 2**31
    from ressearch.search.runner import Recycle

    recycle = Recycle(max_trials=max_trials, max_rss_mb=max_rss_mb)
    _run_here(
        definition,
        storage,
        artifacts,
        n_trials,
        timeout,
        worker_index=index,
        display=display,
        recycle=recycle,
    )


def _nothing_left(
    definition: Any, storage: str | None, artifacts: Path | None, n_trials: int | None, display: Display
) -> bool:
    """Whether the study already has its total; then it says so in one line. Reads the storage
    only: no data, no TensorFlow (see ``ressearch.search.resume.finished_study``)."""
    from ressearch.search.resume import finished_study

    quiet_optuna()
    finished = finished_study(definition.with_overrides(n_trials=n_trials), storage, artifacts)
    if finished is None:
        return False
    from ressearch.redact import redact

    display.finished(finished, redact(storage) if storage else None)
    return True


def _run_here(
    definition: Any,
    storage: str | None,
    artifacts: Path | None,
    n_trials: int | None,
    timeout: float | None,
    *,
    worker_index: int | None,
    display: Display,
    recycle: Any = None,
) -> None:
    """Run trials in this process, shown by ``display``."""
    import_tensorflow_quietly()
    quiet_optuna()
    from ressearch.search.runner import run_study

    try:
        summary = run_study(
            definition,
            storage=storage,
            artifacts=artifacts,
            n_trials=n_trials,
            timeout=timeout,
            on_start=display.start,
            on_trial=display.trial,
            on_epoch=display.epoch,
            worker_index=worker_index,
            recycle=recycle,
        )
    finally:
        display.close()
    _finish(display, summary)


def _prepares_with_tensorflow(definition: Any) -> bool:
    """Whether ``prepare`` imports TensorFlow for this study: image and Keras datasets load
    through it, and a hypermodel is made once to check it. Rows of columns (CSV, npz, the
    built-in tables) do not."""
    return definition.hypermodel is not None or definition.data.kind in ("images", "keras")


def _run_workers(
    study_file: Path,
    definition: Any,
    plans: list[Any],
    storage: str | None,
    artifacts: Path | None,
    n_trials: int | None,
    timeout: float | None,
    recycle_after: int,
    display: Display,
) -> None:
    """Create or resume the study here, then supervise local worker processes until it is done.

    This process trains nothing: TensorFlow is imported here only where preparing the study
    needs it (image or Keras datasets, a hypermodel), with its start-up chatter muted. Imported
    for every study, it held back each worker's start by its ~4 s import (README, "Where a
    trial's time goes")."""
    import os
    import time

    if _prepares_with_tensorflow(definition):
        import_tensorflow_quietly()
    quiet_optuna()
    from ressearch.search.runner import prepare, summarize
    from ressearch.storage.urls import resolve_storage_url
    from ressearch.workers import Supervisor, worker_threads

    started = time.monotonic()
    overridden = definition.with_overrides(n_trials=n_trials, timeout=timeout)
    # Prepared once here: the study exists before its workers start, so they never race to create it.
    prepared = prepare(overridden, storage=storage, artifacts=artifacts)
    devices = ", ".join(sorted({plan.devices for plan in plans if plan.devices is not None})) or "inherited"
    settings = overridden.settings
    log_dir = prepared.artifacts / "workers" / settings.name
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
        on_progress=display.progress,
        on_restart=display.restart,
        on_epoch=display.epoch,
        on_trial=display.trial,
    )
    try:
        display.start(
            prepared.start_event(),
            Workers(len(plans), devices, log_dir, worker_threads(plans[0], os.environ)),
        )
        result = supervisor.run()
    finally:
        display.close()
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
    _finish(display, summarize(prepared, interrupted=result.interrupted, elapsed=time.monotonic() - started))
