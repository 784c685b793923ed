"""A study's report: one self-contained HTML page, and its plots as PNG files beside it.

``write_report(name, out)`` writes ``out/index.html`` (inline CSS, every plot embedded as a
base64 data URI: the one file opens anywhere, offline) and the same plots as ``out/NAME.png``.
Optuna's own matplotlib visualisations draw what they can (history, Pareto front, importances,
parallel coordinates, intermediate values); only the learning curves of the best trials, which
Optuna does not draw, are drawn here. A plot a study cannot have (importances of one complete
trial, say) is left out with a one-line note saying why, never drawn empty.

The page is assembled from :data:`SECTIONS`: functions of a :class:`ReportContext` that each
return a :class:`Section`, or None where they have nothing to show. A new section (the ablation
that ``ressearch ablate`` stores with the study, for one) is one more such function in that list.

Reads the storage and never writes to it (an SQLite file that does not exist is an error, not a
new database); must not import the CLI, and changes no global matplotlib setting.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from ressearch._version import __version__
from ressearch.errors import ConfigError, StorageError
from ressearch.redact import redact
from ressearch.results.folders import check_out_folder, staged_folder
from ressearch.results.query import metric_names
from ressearch.search.counting import count_trials
from ressearch.search.record import StudyMeta, TrialRecord
from ressearch.storage.studies import load_study
from ressearch.storage.urls import open_storage, resolve_storage_url

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "SECTIONS",
    "Plot",
    "ReportContext",
    "ReportResult",
    "Section",
    "SectionBuilder",
    "rank_trials",
    "write_report",
]

PAGE = "index.html"
_DPI = 110
_MAX_LEGEND = 20  # more trials than this and a legend hides the plot
# Line and marker of the learning curves: markers tell them apart after a single epoch too.
_TRAIN: tuple[Literal["-"], str] = ("-", ".")
_VALIDATION: tuple[Literal["--"], str] = ("--", "x")


@dataclass(frozen=True)
class Plot:
    """One figure of the report: its PNG, or (``png`` None) the reason it was left out.

    ``notes`` are one line each: why it was left out, or caveats under a drawn plot (Optuna's
    own, such as importances resting on few trials).
    """

    name: str  # the file is NAME.png
    title: str
    png: bytes | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A part of the page: a title, an HTML body (already escaped) and plots under it."""

    key: str  # the element id, for the page's table of contents
    title: str
    body: str = ""
    plots: tuple[Plot, ...] = ()


@dataclass(frozen=True)
class ReportContext:
    """What every section reads: the study, its ressearch metadata, its trials, the best ones."""

    study: optuna.Study
    meta: StudyMeta | None  # None for a study ressearch did not create
    metrics: list[str]
    trials: list[FrozenTrial]  # every trial, by number
    top: list[FrozenTrial]  # the best complete trials, best first (at most ``top`` of them)
    storage: str  # the storage URL, password redacted

    @property
    def multi(self) -> bool:
        return len(self.study.directions) > 1

    @property
    def complete(self) -> list[FrozenTrial]:
        return [trial for trial in self.trials if trial.state is TrialState.COMPLETE]

    @cached_property
    def pareto(self) -> frozenset[int]:
        """The numbers of the Pareto-optimal trials (none for a single objective)."""
        return frozenset(trial.number for trial in self.study.best_trials) if self.multi else frozenset()


SectionBuilder = Callable[[ReportContext], Section | None]


@dataclass(frozen=True)
class ReportResult:
    """What a report wrote: the folder, its page, its PNG files, and each plot left out with why."""

    out: Path
    page: Path
    plots: list[Path]
    left_out: dict[str, str] = field(default_factory=dict)


# --- ranking ---------------------------------------------------------------------------------


def rank_trials(study: optuna.Study, trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """The complete ``trials``, best first.

    One objective: by value in the study's direction. Several: the Pareto-optimal trials first,
    each group by the first objective. Ties go to the earlier trial.
    """
    complete = [trial for trial in trials if trial.state is TrialState.COMPLETE]
    sign = [-1.0 if direction is StudyDirection.MAXIMIZE else 1.0 for direction in study.directions]
    if len(sign) == 1:
        return sorted(complete, key=lambda trial: (sign[0] * trial.values[0], trial.number))
    pareto = {trial.number for trial in study.best_trials}
    return sorted(
        complete, key=lambda trial: (trial.number not in pareto, sign[0] * trial.values[0], trial.number)
    )


# --- plots -----------------------------------------------------------------------------------


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No software/date metadata: the same study gives the same bytes.
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


@contextmanager
def _quiet_plotting(
    size: tuple[float, float], rc: dict[str, Any] | None = None
) -> Iterator[list[warnings.WarningMessage]]:
    """Plot with this figure size (and ``rc`` settings), all restored afterwards; warnings caught.

    Optuna's plotting functions set a global style (``plt.style.use("ggplot")``) and take the
    figure size from ``rcParams``: both stay inside this block, so a notebook keeps its own.
    Every one of them is marked experimental, and says so at each call (ExperimentalWarning):
    noise for a reader, dropped here. Optuna's other warnings are caveats about the plot
    (importances resting on few trials): the caller shows them as notes under it.
    """
    import matplotlib

    settings: dict[Any, Any] = {"figure.figsize": size, **(rc or {})}
    with warnings.catch_warnings(record=True) as caught, matplotlib.rc_context(settings):
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # Said when a target is given; the negation in _importances is the answer to it.
        warnings.filterwarnings("ignore", message=r".*to achieve low `target` values")
        yield caught


def _caveats(caught: Sequence[warnings.WarningMessage]) -> tuple[str, ...]:
    messages = [
        " ".join(str(item.message).split())
        for item in caught
        if issubclass(item.category, UserWarning) and "optuna" in item.filename
    ]
    return tuple(f"Optuna: {message}" for message in dict.fromkeys(messages))


def _optuna_plot(
    name: str,
    title: str,
    draw: Callable[[], Axes],
    *,
    size: tuple[float, float] = (7.0, 4.5),
    adjust: Callable[[Axes], None] | None = None,
    rc: dict[str, Any] | None = None,
) -> Plot:
    """One of Optuna's matplotlib plots as a :class:`Plot`; an error of Optuna's becomes a note."""
    import matplotlib.pyplot as plt

    with _quiet_plotting(size, rc) as caught:
        before = set(plt.get_fignums())
        try:
            axes = draw()
        except (ValueError, RuntimeError, ZeroDivisionError) as error:
            for number in set(plt.get_fignums()) - before:  # a figure it began before it gave up
                plt.close(number)
            reason = " ".join(str(error).split()) or type(error).__name__
            return Plot(name, title, notes=(f"left out: Optuna could not draw it ({reason})",))
        figure = axes.figure
        try:
            if adjust is not None:
                adjust(axes)
            png = _png(figure)  # type: ignore[arg-type]
        finally:
            plt.close(figure)  # type: ignore[arg-type]
    return Plot(name, title, png=png, notes=_caveats(caught))


def _left_out(name: str, title: str, why: str) -> Plot:
    return Plot(name, title, notes=(f"left out: {why}",))


def _file_stem(text: str) -> str:
    """A metric name as a safe file name part.

    Example:
        >>> _file_stem("val_accuracy"), _file_stem("a b/c")
        ('val_accuracy', 'a-b-c')
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "objective"


def _sampled_params(trials: Sequence[FrozenTrial]) -> dict[str, set[str]]:
    """Each parameter the trials sampled, with the distinct values it took (as text)."""
    values: dict[str, set[str]] = {}
    for trial in trials:
        for key, value in trial.params.items():
            values.setdefault(key, set()).add(repr(value))
    return values


# --- sections --------------------------------------------------------------------------------


def _facts(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>" for key, value in rows
    )
    return f'<table class="facts">{cells}</table>'


def _number(value: float | None) -> str:
    """A value for a reader: integers with thousands separators, others to 4 significant digits.

    Example:
        >>> _number(48935.0), _number(0.991666), _number(None)
        ('48,935', '0.9917', '-')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _duration(elapsed: timedelta | float | None) -> str:
    """Seconds as a reader counts them.

    Example:
        >>> _duration(18.24), _duration(125.0), _duration(7380.0), _duration(None)
        ('18.2 s', '2 min 05 s', '2 h 03 min', '-')
    """
    if elapsed is None:
        return "-"
    seconds = elapsed.total_seconds() if isinstance(elapsed, timedelta) else float(elapsed)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _objectives(context: ReportContext) -> str:
    pairs = zip(context.metrics, context.study.directions, strict=True)
    return ", ".join(f"{metric} ({direction.name.lower()})" for metric, direction in pairs)


def study_section(context: ReportContext) -> Section:
    """What was searched and how: objectives, sampler and pruner, trials by state, the storage."""
    settings: dict[str, Any] = (context.meta.definition.get("study") or {}) if context.meta else {}
    target = settings.get("n_trials")
    counts = count_trials(context.trials, target if isinstance(target, int) else None)
    best = context.top[0]
    best_values = ", ".join(
        f"{metric} {_number(value)}" for metric, value in zip(context.metrics, best.values, strict=True)
    )
    starts = [trial.datetime_start for trial in context.trials if trial.datetime_start]
    ends = [trial.datetime_complete for trial in context.trials if trial.datetime_complete]
    rows = [
        ("study", context.study.study_name),
        ("objectives" if context.multi else "objective", _objectives(context)),
        ("sampler", str(settings.get("sampler", "not recorded"))),
        ("pruner", str(settings.get("pruner", "not recorded"))),
        ("trials", counts.describe()),  # as `run`, `studies` and `best` count them
    ]
    if settings.get("seed") is not None:
        rows.append(("seed", str(settings["seed"])))
    if context.multi:
        rows.append(("Pareto-optimal trials", str(len(context.pareto))))
    else:
        rows.append(("best", f"trial {best.number}: {best_values}"))
    if starts and ends:
        rows.append(("ran", f"{min(starts):%Y-%m-%d %H:%M} to {max(ends):%Y-%m-%d %H:%M}"))
    rows.append(("storage", context.storage))
    if context.meta is None:
        rows.append(("created by", "not ressearch: no architectures, learning curves or data summary"))
    return Section("study", "Study", body=_facts(rows))


def data_section(context: ReportContext) -> Section:
    """The data the trials trained on: source, rows, split, input shape, classes, what was fixed."""
    data = context.meta.data if context.meta else {}
    if not data:
        return Section("data", "Data", body='<p class="note">No data summary is stored with this study.</p>')
    rows = [("source", str(data.get("source", "-"))), ("task", str(data.get("task", "-")))]
    if data.get("rows_loaded") is not None:
        rows.append(("rows loaded", _number(data["rows_loaded"])))
    if data.get("rows_used") is not None and data.get("rows_used") != data.get("rows_loaded"):
        rows.append(("rows used", _number(data["rows_used"])))
    split = f"{_number(data.get('n_train'))} train / {_number(data.get('n_val'))} validation"
    if data.get("stratified"):
        split += " (stratified)"
    rows.append(("rows", split))
    if data.get("input_shape"):
        rows.append(("input shape", " x ".join(map(str, data["input_shape"]))))
    classes = data.get("classes") or []
    if classes:
        shown = ", ".join(map(str, classes[:20])) + (", ..." if len(classes) > 20 else "")
        rows.append(("classes", f"{len(classes)}: {shown}"))
    for reason, count in (data.get("rows_dropped") or {}).items():
        rows.append(("rows dropped", f"{_number(count)} ({reason.replace('_', ' ')})"))
    for column, count in (data.get("imputed") or {}).items():
        rows.append(("values imputed", f"{_number(count)} in {column}"))
    for note in data.get("notes") or []:
        rows.append(("note", str(note)))
    return Section("data", "Data", body=_facts(rows))


def _description(record: TrialRecord) -> str:
    return record.describe_network() or "-"


def architectures_section(context: ReportContext) -> Section:
    """The best trials' networks: rank, values, parameter count, epochs, duration, one line each."""
    headers = ["rank", "trial", *context.metrics, "parameters", "epochs", "duration", "architecture"]
    if context.multi:
        headers.insert(2, "Pareto")
    lines = []
    for rank, trial in enumerate(context.top, start=1):
        record = TrialRecord.from_trial(trial)
        cells = [str(rank), str(trial.number), *(_number(value) for value in trial.values)]
        if context.multi:
            cells.insert(2, "yes" if trial.number in context.pareto else "")
        cells += [
            _number(record.model_params),
            _number(record.epochs),
            _duration(trial.duration),
            _description(record),
        ]
        lines.append("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>")
    head = "".join(f"<th>{html.escape(header)}</th>" for header in headers)
    order = "Pareto-optimal trials first, then" if context.multi else "By"
    intro = (
        f"<p>{order} {html.escape(context.metrics[0])}; the {len(context.top)} best of "
        f"{len(context.complete)} complete trials.</p>"
    )
    table = f'<table class="trials"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table>'
    return Section("architectures", "Best architectures", body=intro + table)


def _history(study: optuna.Study, index: int, metric: str) -> Callable[[], Axes]:
    from optuna.visualization.matplotlib import plot_optimization_history

    if len(study.directions) == 1:
        return lambda: plot_optimization_history(study, target_name=metric)
    # Several objectives: one history each (Optuna needs a target to pick one).
    return lambda: plot_optimization_history(
        study, target=lambda trial: trial.values[index], target_name=metric
    )


def history_section(context: ReportContext) -> Section:
    """Each objective against the trial number (Optuna's optimisation history)."""
    plots = []
    for index, metric in enumerate(context.metrics):
        name = f"optimization_history_{_file_stem(metric)}" if context.multi else "optimization_history"
        draw = _history(context.study, index, metric)
        plots.append(_optuna_plot(name, f"Optimisation history: {metric}", draw))
    best = "" if context.multi else ", and the best so far"
    body = f"<p>Every complete trial's value, in the order the trials ran{best}.</p>"
    return Section("history", "Optimisation history", body=body, plots=tuple(plots))


def pareto_section(context: ReportContext) -> Section | None:
    """The Pareto front of a study of two or three objectives."""
    if not context.multi:
        return None
    from optuna.visualization.matplotlib import plot_pareto_front

    title = "Pareto front"
    count = len(context.metrics)
    if count > 3:
        plot = _left_out(
            "pareto_front", title, f"Optuna draws fronts of 2 or 3 objectives; this study has {count}"
        )
    else:
        plot = _optuna_plot(
            "pareto_front",
            title,
            lambda: plot_pareto_front(context.study, target_names=context.metrics),
            size=(7.0, 5.5),
        )
    body = "<p>Each complete trial by its objectives; the Pareto-optimal ones highlighted.</p>"
    return Section("pareto", title, body=body, plots=(plot,))


def _curve_panels(curves: Sequence[dict[str, list[float]]]) -> list[str]:
    """The metrics to draw, one panel each: those with a validation curve, the loss first.

    Example:
        >>> _curve_panels([{"accuracy": [1.0], "loss": [1.0], "val_accuracy": [1.0], "val_loss": [1.0]}])
        ['loss', 'accuracy']
    """
    names = {name.removeprefix("val_") for curve in curves for name in curve if name.startswith("val_")}
    return sorted(names, key=lambda name: (name != "loss", name))


def curves_section(context: ReportContext) -> Section:
    """Training and validation curves of the best trials, one panel per metric (drawn here)."""
    title = "Learning curves"
    folder = Path(context.meta.artifacts) if context.meta else None
    ranked = [(trial, _curve(TrialRecord.from_trial(trial), folder)) for trial in context.top]
    ranked = [(trial, curve) for trial, curve in ranked if curve]
    panels = _curve_panels([curve for _, curve in ranked])
    if not panels:
        plot = _left_out("learning_curves", title, "the best trials stored no validation learning curve")
    else:
        plot = Plot("learning_curves", title, png=_draw_curves(ranked, panels))
    body = (
        "<p>Train (solid, dots) and validation (dashed, crosses) after each epoch, for the best trials, "
        "in their ranking's colours.</p>"
    )
    return Section("curves", title, body=body, plots=(plot,))


def _curve(record: TrialRecord, folder: Path | None) -> dict[str, list[float]]:
    """The trial's learning curve from its metrics.json; none where it is not to be found (the
    section says so rather than the report failing)."""
    try:
        return record.measurements(folder).curve
    except StorageError:
        return {}


def _draw_curves(
    ranked: Sequence[tuple[FrozenTrial, dict[str, list[float]]]], panels: Sequence[str]
) -> bytes:
    import matplotlib.style
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    with matplotlib.style.context("ggplot"):  # the look of Optuna's plots beside it
        figure = Figure(figsize=(5.0 * len(panels) + 1.6, 4.2))
        axes_list = figure.subplots(1, len(panels), squeeze=False)[0]
        colors = matplotlib.colormaps["tab10"]
        epochs = max(len(values) for _, curve in ranked for values in curve.values())
        for axes, panel in zip(axes_list, panels, strict=True):
            for rank, (_, curve) in enumerate(ranked):
                color = colors(rank % 10)
                for key, (line, marker) in ((panel, _TRAIN), (f"val_{panel}", _VALIDATION)):
                    values = curve.get(key)
                    if values:
                        epochs_run = range(1, len(values) + 1)
                        axes.plot(epochs_run, values, linestyle=line, marker=marker, color=color)
            axes.set_title(panel)
            axes.set_xlabel("epoch")
            axes.set_xlim(0.5, epochs + 0.5)
            axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        handles = [
            Line2D([], [], color=colors(rank % 10), label=f"#{rank + 1} trial {trial.number}")
            for rank, (trial, _) in enumerate(ranked)
        ]
        handles += [
            Line2D([], [], color="0.3", linestyle=_TRAIN[0], marker=_TRAIN[1], label="train"),
            Line2D([], [], color="0.3", linestyle=_VALIDATION[0], marker=_VALIDATION[1], label="validation"),
        ]
        figure.legend(handles=handles, loc="outside right center", frameon=False)
        figure.set_layout_engine("constrained")
        return _png(figure)


def _importances(study: optuna.Study, index: int, metric: str) -> Callable[[], Axes]:
    from optuna.visualization.matplotlib import plot_param_importances

    if len(study.directions) == 1:
        return lambda: plot_param_importances(study, target_name=metric)
    # Optuna's plot of several objectives hands each one to the evaluator as a target, and its
    # default evaluator (PED-ANOVA) takes a target as lower-is-better: a maximised objective's
    # importances would be those of doing badly. So one plot per objective, maximised ones negated.
    sign = -1.0 if study.directions[index] is StudyDirection.MAXIMIZE else 1.0
    return lambda: plot_param_importances(
        study, target=lambda trial: sign * trial.values[index], target_name=metric
    )


def importances_section(context: ReportContext) -> Section:
    """How much each sampled parameter explains each objective (Optuna's default evaluator)."""
    title = "Parameter importances"
    complete = context.complete
    params = _sampled_params(complete)
    if len(complete) < 2:
        why = f"it needs 2 complete trials or more; this study has {len(complete)}"
        plots = [_left_out("param_importances", title, why)]
    elif all(len(values) < 2 for values in params.values()):
        why = "no sampled parameter took two values in the complete trials"
        plots = [_left_out("param_importances", title, why)]
    else:
        size = (7.5, max(3.5, 0.38 * len(params) + 1.5))
        plots = []
        for index, metric in enumerate(context.metrics):
            name = f"param_importances_{_file_stem(metric)}" if context.multi else "param_importances"
            named = f"{title}: {metric}" if context.multi else title
            plots.append(_optuna_plot(name, named, _importances(context.study, index, metric), size=size))
    body = (
        f"<p>Over the {len(complete)} complete trials, by Optuna's default importance evaluator: how "
        "much each parameter decides reaching a good value. With few trials, read them as a hint.</p>"
    )
    return Section("importances", title, body=body, plots=tuple(plots))


def _parallel(study: optuna.Study, metric: str) -> Callable[[], Axes]:
    from optuna.visualization.matplotlib import plot_parallel_coordinate

    if len(study.directions) == 1:
        return lambda: plot_parallel_coordinate(study, target_name=metric)
    return lambda: plot_parallel_coordinate(study)  # every objective, coloured by Pareto rank


def parallel_section(context: ReportContext) -> Section:
    """Each complete trial as a line through its objective(s) and sampled parameters."""
    title = "Parallel coordinates"
    params = _sampled_params(context.complete)
    if not params:
        plot = _left_out("parallel_coordinate", title, "the study samples no parameter")
    else:
        axes_count = len(params) + len(context.metrics)
        size = (max(7.0, 0.95 * axes_count + 2.0), 5.0)
        # Grey behind the lines: Optuna colours the worst trial white.
        rc = {"axes.facecolor": "#EBEBEB"}
        draw = _parallel(context.study, context.metrics[0])
        plot = _optuna_plot("parallel_coordinate", title, draw, size=size, rc=rc)
    colour = "Pareto rank" if context.multi else html.escape(context.metrics[0])
    body = f"<p>One line per complete trial, coloured by {colour}.</p>"
    return Section("parallel", title, body=body, plots=(plot,))


def intermediate_section(context: ReportContext) -> Section | None:
    """The objective after each epoch of every trial, pruned ones too: what the pruner saw."""
    if context.multi:
        return None  # Optuna cannot prune several objectives: ressearch reports no epoch values
    from optuna.visualization.matplotlib import plot_intermediate_values

    title = "Intermediate values"
    reported = [trial for trial in context.trials if trial.intermediate_values]
    metric = context.metrics[0]
    notes: tuple[str, ...] = ()

    def adjust(axes: Axes) -> None:
        axes.set_ylabel(metric)
        legend = axes.get_legend()
        if legend is not None and len(reported) > _MAX_LEGEND:
            legend.remove()

    if not reported:
        plot = _left_out("intermediate_values", title, "no trial reported a value during training")
    else:
        plot = _optuna_plot(
            "intermediate_values", title, lambda: plot_intermediate_values(context.study), adjust=adjust
        )
        if len(reported) > _MAX_LEGEND:
            notes = (f"legend left out: {len(reported)} trials",)
        plot = Plot(plot.name, plot.title, plot.png, plot.notes + notes)
    body = (
        f"<p>{html.escape(metric)} after each epoch (step 0 is the first) of every trial that "
        "reported one, pruned trials included: what the pruner compared.</p>"
    )
    return Section("intermediate", title, body=body, plots=(plot,))


def _plus_minus(mean: float | None, std: float | None, *, signed: bool = False) -> str:
    if mean is None:
        return "-"
    text = f"{mean:+.4f}" if signed else f"{mean:.4f}"
    return text if std is None else f"{text} ± {std:.4f}"


def ablation_section(context: ReportContext) -> Section | None:
    """What ``ressearch ablate`` stored: the found network against its plain twin and the other
    block types, retrained over the same seeds, and their learning curves side by side."""
    if context.meta is None:
        return None
    import tempfile

    from ressearch.errors import RessearchError
    from ressearch.results.ablation import download_ablation_plot, load_ablation

    title = "Did the shortcuts matter? (ablation)"
    try:
        result = load_ablation(context.study)
    except RessearchError as error:
        return Section("ablation", title, body=f"<p>{html.escape(str(error))}</p>")
    if result is None:
        name = html.escape(context.study.study_name)
        hint = f"<p>No ablation yet: <code>ressearch ablate {name}</code> retrains the best network, its "
        return Section("ablation", title, body=hint + "plain twin and the other block types.</p>")
    headers = ("variant", "network", "parameters", "mean ± std", "Δ vs found ± std", "p", "n")
    rows = []
    for variant in result.variants:
        if variant.skipped:
            cells = [variant.name, f"skipped: {variant.skipped}", "-", "-", "-", "-", "0"]
        else:
            paired = variant.paired
            delta = "-" if paired is None else _plus_minus(paired.mean, paired.std, signed=True)
            if paired is not None and paired.verdict:
                delta += f" {paired.verdict}"
            p_value = "-" if paired is None or paired.p_value is None else f"{paired.p_value:.3g}"
            cells = [
                variant.name,
                variant.description or "-",
                _number(variant.model_params),
                _plus_minus(variant.spread.mean, variant.spread.std),
                delta,
                p_value,
                str(variant.spread.n),
            ]
        # The network's line wraps, so that the numbers keep to the page.
        tds = [
            f'<td class="wrap">{html.escape(cell)}</td>' if index == 1 else f"<td>{html.escape(cell)}</td>"
            for index, cell in enumerate(cells)
        ]
        rows.append("<tr>" + "".join(tds) + "</tr>")
    head = "".join(f"<th>{html.escape(header)}</th>" for header in headers)
    intro = (
        f"<p>{html.escape(result.metric)} ({html.escape(result.direction)}) of trial {result.trial} "
        f"retrained over {len(result.seeds)} seeds of {result.epochs} epochs; Δ is variant - found seed "
        f"by seed, p a paired t-test's. Stored {html.escape(result.created)}.</p>"
    )
    table = f'<table class="trials"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    with tempfile.TemporaryDirectory(prefix="ressearch-report-") as folder:
        try:
            path = download_ablation_plot(context.study, Path(folder) / "ablation.png")
        except RessearchError as error:
            plot = _left_out("ablation_curves", "Learning curves by variant", str(error))
        else:
            plot = (
                Plot("ablation_curves", "Learning curves by variant", png=path.read_bytes())
                if path is not None
                else _left_out("ablation_curves", "Learning curves by variant", "the ablation stored no plot")
            )
    return Section("ablation", title, body=intro + table, plots=(plot,))


SECTIONS: tuple[SectionBuilder, ...] = (
    study_section,
    data_section,
    architectures_section,
    ablation_section,
    history_section,
    pareto_section,
    curves_section,
    importances_section,
    parallel_section,
    intermediate_section,
)
"""The page's sections in order. Add a section by adding its function here."""


# --- the page --------------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0; background: #fafafa; }
header, main { max-width: 1150px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; }
h1 { margin: 0 0 4px; font-size: 1.6em; }
h2 { margin: 34px 0 8px; font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #666; margin: 0 0 10px; }
nav { display: flex; flex-wrap: wrap; row-gap: 4px; }
nav a { margin-right: 14px; color: #1f5fa8; text-decoration: none; white-space: nowrap; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #ddd; padding: 4px 9px; text-align: left; vertical-align: top; }
table.facts th { background: #f2f2f2; font-weight: 600; white-space: nowrap; }
table.trials { width: 100%; font-size: 14px; }
table.trials th { background: #f2f2f2; white-space: nowrap; }
table.trials td { font-variant-numeric: tabular-nums; }
table.trials td:not(:last-child) { white-space: nowrap; }
table.trials td.wrap { white-space: normal; }
figure { margin: 14px 0 6px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e3e3; background: #fff; }
figcaption { color: #555; font-size: 13px; }
.note { color: #7a5b00; background: #fff8e1; border-left: 3px solid #e0b000; padding: 4px 10px; }
footer { max-width: 1150px; margin: 40px auto 24px; padding: 0 24px; color: #888; font-size: 13px; }
"""


def _plot_html(plot: Plot) -> str:
    notes = "".join(
        f'<p class="note">{html.escape(plot.title)}: {html.escape(note)}</p>' for note in plot.notes
    )
    if plot.png is None:
        return notes
    data = base64.b64encode(plot.png).decode("ascii")
    title = html.escape(plot.title)
    file = html.escape(f"{plot.name}.png")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{title}">'
        f"<figcaption>{title} ({file})</figcaption></figure>{notes}"
    )


def render_page(name: str, sections: Sequence[Section], *, written: datetime | None = None) -> str:
    """The whole page: inline CSS, plots as data URIs, every text escaped; nothing from a network."""
    when = (written or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(
        f'<a href="#{html.escape(section.key)}">{html.escape(section.title)}</a>' for section in sections
    )
    parts = []
    for section in sections:
        plots = "".join(_plot_html(plot) for plot in section.plots)
        parts.append(
            f'<section id="{html.escape(section.key)}"><h2>{html.escape(section.title)}</h2>'
            f"{section.body}{plots}</section>"
        )
    title = html.escape(f"{name}: ressearch report")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>Study {html.escape(name)}</h1>"
        f'<p class="sub">ressearch {html.escape(__version__)} report, written {when}</p>'
        f"<nav>{nav}</nav></header>\n<main>\n" + "\n".join(parts) + "\n</main>\n"
        "<footer>One self-contained file: the plots are embedded (and beside it as PNG files).</footer>\n"
        "</body>\n</html>\n"
    )


def _storage_label(storage: str | optuna.storages.BaseStorage | None) -> str:
    if isinstance(storage, optuna.storages.RDBStorage):
        return redact(str(storage.url))
    if isinstance(storage, optuna.storages.BaseStorage):
        return type(storage).__name__
    return redact(resolve_storage_url(storage))


def write_report(
    name: str,
    out: str | Path,
    *,
    storage: str | optuna.storages.BaseStorage | None = None,
    top: int = 5,
    force: bool = False,
    sections: Sequence[SectionBuilder] = SECTIONS,
) -> ReportResult:
    """Write the report of study ``name`` to the folder ``out``: ``index.html`` and its PNGs.

    ``top`` is how many of the best trials the architecture table and the learning curves show.
    ``storage`` is a URL (default: ``$RESSEARCH_STORAGE``, else ``sqlite:///ressearch.db``) or an
    open storage; an SQLite file that does not exist is an error, never created. ``sections``
    are the page's parts in order (default :data:`SECTIONS`).

    Raises:
        StudyNotFoundError: no such study.
        StorageError: the storage cannot be opened, or the SQLite file does not exist.
        ConfigError: no complete trial yet, ``top`` below 1, or ``out`` is a file or a folder
            that is not empty (and not ``force``).
    """
    if top < 1:
        raise ConfigError(f"--top: must be 1 or more, got {top}")
    backend = (
        storage
        if isinstance(storage, optuna.storages.BaseStorage)
        else open_storage(storage, heartbeat=False, read_only=True)
    )
    study = load_study(name, backend)
    trials = study.get_trials(deepcopy=False)
    ranked = rank_trials(study, trials)
    if not ranked:
        raise ConfigError(f"study {name!r} has no complete trial yet: run it first")
    target = check_out_folder(out, force=force)
    context = ReportContext(
        study=study,
        meta=StudyMeta.from_study(study),
        metrics=metric_names(study),
        trials=trials,
        top=ranked[:top],
        storage=_storage_label(storage),
    )
    built = [section for builder in sections if (section := builder(context)) is not None]
    plots = [plot for section in built for plot in section.plots]
    names = [plot.name for plot in plots]
    if len(set(names)) != len(names):
        raise ValueError(f"report sections gave two plots one file name: {sorted(names)}")
    page = render_page(name, built)
    with staged_folder(target) as staging:
        for plot in plots:
            if plot.png is not None:
                (staging / f"{plot.name}.png").write_bytes(plot.png)
        (staging / PAGE).write_text(page, encoding="utf-8")
    return ReportResult(
        out=target,
        page=target / PAGE,
        plots=[target / f"{plot.name}.png" for plot in plots if plot.png is not None],
        left_out={plot.name: plot.notes[0] for plot in plots if plot.png is None and plot.notes},
    )
