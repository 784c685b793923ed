"""How ``ressearch run`` and ``ressearch worker`` show a run: live, as plain lines, or as JSON events.

The run tells what happens through the search layer's events (:class:`RunStart`,
:class:`EpochEvent`, :class:`TrialEvent`, :class:`RunSummary`) and the supervisor's (its polled
progress, a worker's restart); a :class:`Display` formats them, and decides nothing about the run.

- :class:`LiveDisplay` (a terminal): the study's bar and one line per running trial under it,
  redrawn in place; a line that stays for each finished trial.
- :class:`PlainDisplay` (a pipe, a log file, a worker): no bar, no escape codes; the start lines,
  a line per finished trial, and a running trial's epoch at most every ``every_s`` seconds.
- :class:`JsonDisplay` (``--log-format json``): one JSON object per line on stdout per event.
- :class:`Display` itself (``--quiet``): the final summary only.

Errors are not the display's: they are one line on stderr (``user_errors``) whatever it is.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from ressearch.cli.output import err, out
from ressearch.errors import ConfigError

if TYPE_CHECKING:
    from ressearch.search.objective import EpochEvent
    from ressearch.search.resume import Finished
    from ressearch.search.runner import Requeued, RunStart, RunSummary, TrialEvent
    from ressearch.workers import StudyProgress

__all__ = [
    "Display",
    "JsonDisplay",
    "LiveDisplay",
    "LogFormat",
    "LogFormatOption",
    "PlainDisplay",
    "QuietOption",
    "Workers",
    "choose_display",
    "data_counts",
    "epoch_line",
    "finished_line",
    "requeued_line",
    "summary_lines",
    "trial_line",
]

PLAIN_EPOCH_EVERY_S = 30.0  # a log file shows a running trial's epoch at most this often


class LogFormat(StrEnum):
    text = "text"
    json = "json"


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        help="text: lines for people (`run` on a terminal: live); json: one JSON event per line on stdout.",
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Show only errors and the final summary.")]


@dataclass(frozen=True)
class Workers:
    """The worker processes of ``run --workers``, for the start of the display."""

    count: int
    gpus: str
    logs: Path
    threads: int | None = None  # each worker's CPU threads, where the machine's cores are split


def format_values(values: list[float] | None) -> str:
    if not values:
        return "-"
    return ", ".join(f"{value:.4g}" for value in values)


def duration(seconds: float) -> str:
    """``14s``, ``3m05s``, ``2h04m``.

    Example:
        >>> duration(14.4), duration(185), duration(7440)
        ('14s', '3m05s', '2h04m')
    """
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def data_counts(data: dict[str, Any]) -> list[str]:
    """What the data summary says was dropped, left out or imputed (metrics.json has the same).

    Example:
        >>> for count in data_counts({"rows_loaded": 1000, "rows_dropped": {"missing_target": 3},
        ...                           "rows_used": 400, "imputed": {"age": 4, "city": 1}}):
        ...     print(count)
        3 rows dropped (missing target)
        597 rows left out by max_rows
        5 values imputed (age 4, city 1)
    """
    counts = [
        f"{count:,} rows dropped ({reason.replace('_', ' ')})"
        for reason, count in (data.get("rows_dropped") or {}).items()
    ]
    loaded, used = data.get("rows_loaded"), data.get("rows_used")
    if loaded is not None and used is not None:
        sampled_out = loaded - sum((data.get("rows_dropped") or {}).values()) - used
        if sampled_out > 0:
            counts.append(f"{sampled_out:,} rows left out by max_rows")
    imputed = data.get("imputed") or {}
    if imputed:
        columns = ", ".join(f"{column} {count:,}" for column, count in imputed.items())
        counts.append(f"{sum(imputed.values()):,} values imputed ({columns})")
    return counts + list(data.get("notes") or [])


def start_lines(start: RunStart, workers: Workers | None = None) -> list[str]:
    """What a run is about to do, in the lines a person reads before its trials."""
    verb = "created" if start.created else "resuming"
    data = start.data
    lines = [
        f"study {start.name} ({verb}) on {start.storage}: {start.done}/{start.target} trials done, "
        f"optimising {', '.join(start.metrics)}",
        "; ".join(
            [
                f"data: {data.get('source')} -> {data.get('n_train')} train / {data.get('n_val')} validation "
                f"rows, input {tuple(data.get('input_shape') or ())}, task {data.get('task')}",
                *data_counts(data),
            ]
        ),
    ]
    if start.warm_starts:
        lines.append(f"warm starts enqueued ({len(start.warm_starts)}): {', '.join(start.warm_starts)}")
    if start.multi_objective:
        lines.append("pruning is not used: Optuna cannot prune studies with several objectives")
    if workers is not None:
        threads = "" if workers.threads is None else f"; {workers.threads} CPU thread(s) each"
        lines.append(f"{workers.count} workers (GPUs: {workers.gpus}{threads}); their logs: {workers.logs}")
    return lines


def epoch_line(event: EpochEvent, metrics: Iterable[str], elapsed: float, worker: int | None = None) -> str:
    """``trial 7  epoch 3/6  val_accuracy 0.9412  12s``: the objective metric(s) the epoch
    measured, else its loss.

    Example:
        >>> from ressearch.search.objective import EpochEvent
        >>> event = EpochEvent(7, 3, 6, {"loss": 0.2, "val_accuracy": 0.94123}, 12.2)
        >>> epoch_line(event, ["val_accuracy"], event.elapsed)
        'trial 7  epoch 3/6  val_accuracy 0.9412  12s'
    """
    shown = {name: event.metrics[name] for name in metrics if name in event.metrics}
    if not shown and "loss" in event.metrics:
        shown = {"loss": event.metrics["loss"]}
    parts = [f"trial {event.number}", f"epoch {event.epoch}/{event.epochs}"]
    parts += [f"{name} {value:.4g}" for name, value in shown.items()]
    parts.append(duration(elapsed))
    if worker is not None:
        parts.append(f"worker {worker}")
    return "  ".join(parts)


def trial_line(event: TrialEvent) -> str:
    """``trial 7 complete: 0.9412  basic conv2d, 2x1 blocks, widths 16-32, skip 2  12,345 params  14s``;
    a pruned trial shows the last value it reported, a failed one its reason."""
    if event.state == "COMPLETE":
        head = f"trial {event.number} complete: {format_values(event.values)}"
    elif event.state == "PRUNED":
        head = f"trial {event.number} pruned"
        if event.values:
            head += f" (last reported {format_values(event.values)})"
    else:
        head = f"trial {event.number} {'failed' if event.state == 'FAIL' else event.state.lower()}"
        if event.reason:
            head += f": {event.reason}"
    parts = [head]
    if event.architecture:
        parts.append(event.architecture)
    if event.model_params is not None:
        parts.append(f"{event.model_params:,} params")
    if event.duration is not None:
        parts.append(duration(event.duration))
    return "  ".join(parts)


def summary_lines(summary: RunSummary) -> list[str]:
    """How the run ended: the counts, the best trial or the Pareto set, what to do next."""
    lines = [
        f"{summary.name}: {run_state(summary)}, {summary.counts.describe()} in {duration(summary.elapsed)}"
    ]
    if summary.best_number is not None:
        lines.append(f"best: trial {summary.best_number} = {format_values(summary.best_values)}")
    elif summary.pareto:
        lines.append(f"Pareto set: trials {', '.join(map(str, summary.pareto))}")
    if summary.interrupted:
        lines += [requeued_line(requeued) for requeued in summary.requeued]
        lines.append("run the same command again to finish the study")
    return lines


def requeued_line(requeued: Requeued) -> str:
    """What the next run does with an interrupted trial, as the search layer will do it.

    Example:
        >>> from ressearch.search.runner import Requeued
        >>> line = requeued_line(Requeued(number=4, retry=9, checkpointed=2, epochs=6))
        >>> head, tail = line.split(": ", 1)
        >>> head
        'trial 4 stopped in epoch 3/6'
        >>> tail
        'the next run continues it as trial 9 from its checkpoint (2/6 epochs kept)'
    """
    number, retry, kept, epochs = requeued.number, requeued.retry, requeued.checkpointed, requeued.epochs
    if epochs is None:
        return (
            f"trial {number} stopped before it trained: the next run starts it as trial {retry} (same params)"
        )
    if kept >= epochs:
        return (
            f"trial {number} stopped after its {epochs} epochs, before it was recorded: the next run "
            f"restores its checkpoint as trial {retry} and records it"
        )
    if kept == 0:
        return (
            f"trial {number} stopped in epoch 1/{epochs}, before its first checkpoint: the next run trains "
            f"it again from the start as trial {retry} (same parameters and seed)"
        )
    return (
        f"trial {number} stopped in epoch {kept + 1}/{epochs}: the next run continues it as trial {retry} "
        f"from its checkpoint ({kept}/{epochs} epochs kept)"
    )


def finished_line(finished: Finished, storage: str | None = None) -> str:
    """The one line of a run that finds its study done: the counts, the best trial, where to look.

    Example:
        >>> from ressearch.search.counting import TrialCounts
        >>> from ressearch.search.resume import Finished
        >>> counts = TrialCounts(complete=5, pruned=3, target=8)
        >>> print(finished_line(Finished("quickstart", counts, ("val_accuracy",), 3, [0.96667])))
        quickstart: 8/8 trials, nothing left to do; best #3 val_accuracy 0.9667 (ressearch best quickstart)
    """
    counts = finished.counts
    line = f"{finished.name}: {counts.of_target()} trials, nothing left to do"
    if counts.running:
        line += f" here ({counts.running} still running elsewhere)"
    hint = f"ressearch best {finished.name}" + (f" --storage {storage}" if storage else "")
    if finished.best_number is not None:
        scores = ", ".join(
            f"{metric} {value:.4g}"
            for metric, value in zip(finished.metrics, finished.best_values or [], strict=False)
        )
        return f"{line}; best #{finished.best_number} {scores} ({hint})"
    if finished.pareto:
        return f"{line}; Pareto set of {len(finished.pareto)} trials ({hint})"
    return f"{line}; no trial completed"


def run_state(summary: RunSummary) -> str:
    return "interrupted" if summary.interrupted else "recycled" if summary.recycled else "done"


class Display:
    """The quiet display (``--quiet``): the final summary, nothing else; the base of the others.

    Callbacks for the run (``start``, ``epoch``, ``trial``), the supervisor (``progress``,
    ``restart``), ``end`` with the summary, and ``close`` (always, even on an error).
    """

    def __init__(self) -> None:
        self.metrics: tuple[str, ...] = ()
        self.workers: dict[int, int] = {}  # trial number -> the index of the worker that runs it

    def start(self, start: RunStart, workers: Workers | None = None) -> None:
        self.metrics = start.metrics

    def epoch(self, event: EpochEvent) -> None:
        pass

    def trial(self, event: TrialEvent) -> None:
        pass

    def progress(self, status: StudyProgress) -> None:
        self.workers = {number: index for index, number in status.running.items()}

    def restart(self, index: int, code: int | None, delay: float) -> None:
        pass

    def end(self, summary: RunSummary) -> None:
        for line in summary_lines(summary):
            out.print(line, markup=False)

    def finished(self, finished: Finished, storage: str | None = None) -> None:
        """The study already has its total: one line, and nothing else (every display)."""
        out.print(finished_line(finished, storage), markup=False)

    def close(self) -> None:
        pass


class PlainDisplay(Display):
    """Plain lines on stderr: for pipes, log files and workers (no bar, no escape codes).

    A running trial's epoch is a line when ``every_s`` seconds have passed since its last line
    (or its start): every epoch of a long GPU trial, few of many short ones.
    """

    def __init__(self, *, every_s: float = PLAIN_EPOCH_EVERY_S, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.every_s = every_s
        self.clock = clock
        self._last: dict[int, float] = {}  # trial number -> when its last line was printed

    def start(self, start: RunStart, workers: Workers | None = None) -> None:
        super().start(start, workers)
        for line in start_lines(start, workers):
            err.print(line, markup=False)

    def epoch(self, event: EpochEvent) -> None:
        now = self.clock()
        if event.starting:
            self._last[event.number] = now
        elif now - self._last.setdefault(event.number, now) >= self.every_s:
            self._last[event.number] = now
            line = epoch_line(event, self.metrics, event.elapsed, self.workers.get(event.number))
            err.print(line, markup=False)

    def trial(self, event: TrialEvent) -> None:
        self._last.pop(event.number, None)
        err.print(trial_line(event), markup=False)

    def restart(self, index: int, code: int | None, delay: float) -> None:
        err.print(f"worker {index} exited with code {code}: restarting in {delay:.0f}s", markup=False)


class LiveDisplay(PlainDisplay):
    """A terminal: the plain display's lines, printed above the study's bar and a line per
    running trial, both redrawn in place (a trial's time goes on between its epochs)."""

    def __init__(self) -> None:
        super().__init__()
        self.board: _Board | None = None
        self.task: Any = None

    def start(self, start: RunStart, workers: Workers | None = None) -> None:
        super().start(start, workers)
        self.board = _Board(self)
        self.board.start()
        self.task = self.board.add_task(
            start.name, total=start.target, completed=start.done, best=format_values(start.best)
        )

    def epoch(self, event: EpochEvent) -> None:
        if self.board is None:
            return
        # Kept as the trial's start time, so the line's time goes on between epochs.
        self.board.running = {**self.board.running, event.number: (event, time.monotonic() - event.elapsed)}
        self.board.refresh()  # each epoch is drawn, however short

    def trial(self, event: TrialEvent) -> None:
        if self.board is None:
            return
        self.board.running = {n: row for n, row in self.board.running.items() if n != event.number}
        super().trial(event)  # printed above the live lines, and stays
        self.board.update(self.task, completed=event.done, best=format_values(event.best))

    def progress(self, status: StudyProgress) -> None:
        super().progress(status)
        if self.board is None:
            return
        running = self.board.running  # a trial that stopped without counting (requeued) goes
        self.board.running = {n: row for n, row in running.items() if n in status.in_flight}
        self.board.update(self.task, completed=status.done, best=format_values(status.best))

    def close(self) -> None:
        if self.board is not None:
            self.board.running = {}
            self.board.stop()
            self.board = None

    def lines(self) -> list[str]:
        """The running trials' lines as they read now."""
        if self.board is None:
            return []
        now = time.monotonic()
        return [
            epoch_line(event, self.metrics, now - started, self.workers.get(number))
            for number, (event, started) in sorted(self.board.running.items())
        ]


class _Board(Progress):
    """rich's progress bar, with the running trials' lines under it."""

    def __init__(self, display: LiveDisplay) -> None:
        # Set first: rich draws the display (calls get_renderables) as it is made.
        self.display = display
        # Replaced whole, never changed in place: rich's refresh thread reads it.
        self.running: dict[int, tuple[EpochEvent, float]] = {}
        super().__init__(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for line in self.display.lines():
            yield Text(line, no_wrap=True, overflow="ellipsis")


class JsonDisplay(Display):
    """``--log-format json``: one JSON object per line on stdout for every event, and nothing else.

    Each has ``event``, ``time`` (ISO 8601, UTC) and ``study``; the README lists the rest.
    """

    def __init__(self) -> None:
        super().__init__()
        self.study = ""

    def emit(self, event: str, **fields: Any) -> None:
        time_now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = {"event": event, "time": time_now, "study": self.study, **fields}
        sys.stdout.write(json.dumps(_json_safe(line), default=str) + "\n")
        sys.stdout.flush()

    def start(self, start: RunStart, workers: Workers | None = None) -> None:
        super().start(start, workers)
        self.study = start.name
        extra = (
            {}
            if workers is None
            else {
                "workers": workers.count,
                "gpus": workers.gpus,
                "threads": workers.threads,
                "logs": workers.logs,
            }
        )
        self.emit(
            "run_start",
            storage=start.storage,
            created=start.created,
            done=start.done,
            target=start.target,
            metrics=list(start.metrics),
            pruning=start.pruning,
            multi_objective=start.multi_objective,
            best=start.best,
            data=start.data,
            warm_starts=list(start.warm_starts),
            **extra,
        )

    def epoch(self, event: EpochEvent) -> None:
        worker = {"worker": self.workers[event.number]} if event.number in self.workers else {}
        if event.starting:
            self.emit("trial_start", trial=event.number, epoch=event.epoch, epochs=event.epochs, **worker)
            return
        self.emit(
            "epoch",
            trial=event.number,
            epoch=event.epoch,
            epochs=event.epochs,
            metrics=event.metrics,
            elapsed=round(event.elapsed, 3),
            **worker,
        )

    def trial(self, event: TrialEvent) -> None:
        self.emit(
            "trial_end",
            trial=event.number,
            state=event.state,
            values=event.values,
            reason=event.reason,
            metrics=event.metrics,
            model_params=event.model_params,
            architecture=event.architecture,
            epochs=event.epochs,
            duration=None if event.duration is None else round(event.duration, 3),
            done=event.done,
            target=event.target,
            best=event.best,
        )

    def restart(self, index: int, code: int | None, delay: float) -> None:
        self.emit("worker_restart", worker=index, code=code, delay=delay)

    def end(self, summary: RunSummary) -> None:
        self.emit(
            "run_end",
            state=run_state(summary),
            done=summary.done,
            target=summary.target,
            complete=summary.complete,
            pruned=summary.pruned,
            failed=summary.failed,
            not_counted=summary.not_counted,
            best_trial=summary.best_number,
            best_values=summary.best_values,
            pareto=summary.pareto,
            requeued=[asdict(requeued) for requeued in summary.requeued],
            elapsed=round(summary.elapsed, 3),
        )

    def finished(self, finished: Finished, storage: str | None = None) -> None:
        """One ``run_end`` event, ``state`` ``done``, ``nothing_to_do`` true: no ``run_start``,
        as the run started nothing."""
        self.study = finished.name
        counts = finished.counts
        self.emit(
            "run_end",
            state="done",
            nothing_to_do=True,
            done=counts.counted,
            target=counts.target,
            complete=counts.complete,
            pruned=counts.pruned,
            failed=counts.failed,
            not_counted=counts.not_counted,
            running=counts.running,
            best_trial=finished.best_number,
            best_values=finished.best_values,
            pareto=finished.pareto or ([] if finished.best_number is None else [finished.best_number]),
            requeued=[],
            elapsed=0.0,
        )


def _json_safe(value: Any) -> Any:
    """NaN and infinities as null: JSON has no such numbers, and a log collector would choke."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def choose_display(log_format: LogFormat, *, quiet: bool, live: bool) -> Display:
    """The display asked for: JSON events, quiet, live on a terminal (where ``live`` allows), or plain.

    Raises:
        ConfigError: ``--quiet`` with ``--log-format json``.
    """
    if log_format is LogFormat.json:
        if quiet:
            raise ConfigError("--quiet and --log-format json: give one of them")
        return JsonDisplay()
    if quiet:
        return Display()
    if live and err.is_terminal:
        return LiveDisplay()
    return PlainDisplay()
