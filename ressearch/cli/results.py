"""``ressearch studies``, ``trials``, ``best``, ``export`` and ``dashboard``: reading results back."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ressearch.cli.app import app
from ressearch.cli.display import duration
from ressearch.cli.options import ArtifactsOption, StorageOption, StudyName
from ressearch.cli.output import (
    Column,
    Format,
    FormatOption,
    JsonOption,
    WideOption,
    cell,
    choose_format,
    emit,
    err,
    out,
    user_errors,
)
from ressearch.errors import ConfigError
from ressearch.runtime import import_tensorflow_quietly, quiet_optuna


@app.command()
@user_errors
def studies(
    storage: StorageOption = None,
    output_format: FormatOption = None,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """List the studies in the storage.

    Writes nothing (a storage that does not exist is not created).
    """
    from ressearch.results.query import list_studies
    from ressearch.storage.urls import open_storage

    fmt = choose_format(output_format, as_json)
    quiet_optuna()
    rows = list_studies(open_storage(storage, heartbeat=False, read_only=True))
    # The name is typed next (`ressearch trials NAME`): never cut; counts give way, least read first.
    columns = [
        Column("name", "name"),
        Column("metrics", lambda row: row["metrics"] or row["directions"], wrap=True, min_width=12),
        # Counted trials of n_trials, as `run` tells them; "not counted": interrupted, retried, surplus.
        Column(
            "trials",
            lambda row: row["trials"] if row["target"] is None else f"{row['trials']}/{row['target']}",
        ),
        Column("complete", "complete", drop_order=5),
        Column("pruned", "pruned", drop_order=3),
        Column("failed", "failed", drop_order=4),
        Column("not counted", "not_counted", drop_order=6),
        Column("running", "running", drop_order=2),
        Column("best", "best_value"),
        Column("started", "started", drop_order=1),
    ]
    emit(rows, fmt, columns=columns, wide=wide)


def _of_target(row: dict[str, Any]) -> str:
    """``8/8``: counted trials of ``n_trials``; the counted alone for a study without a target."""
    return f"{row['trials']}" if row["target"] is None else f"{row['trials']}/{row['target']}"


def _sampled(row: dict[str, Any]) -> str:
    """A trial's sampled params in one cell: ``block_type=preact width=8 learning_rate=0.007231``."""
    return " ".join(f"{key[6:]}={cell(value)}" for key, value in row.items() if key.startswith("param_"))


def _failure(row: dict[str, Any]) -> str | None:
    return f"trial {row['number']} failed: {row['fail_reason']}" if row.get("fail_reason") else None


def _seconds(row: dict[str, Any]) -> str | None:
    return None if row.get("duration_s") is None else duration(row["duration_s"])


@app.command()
@user_errors
def trials(
    name: StudyName,
    storage: StorageOption = None,
    output_format: FormatOption = None,
    as_json: JsonOption = False,
    sort: Annotated[
        str | None,
        typer.Option(
            metavar="value|number|duration",
            help="Rank the trials: value (complete ones best first, then pruned), number, or "
            "duration (longest first). The table then shows the sampled params.",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int | None, typer.Option(min=1, metavar="K", help="Only the first K (ranked by value unless --sort).")
    ] = None,
    wide: WideOption = False,
) -> None:
    """Show every trial of study NAME: state, value, parameter count, epochs, duration, why it
    failed, the sampled params.

    Writes nothing.
    """
    from ressearch.results.query import metric_names, rank_trials, trial_table
    from ressearch.storage.studies import load_study

    fmt = choose_format(output_format, as_json)
    study = load_study(name, storage)
    rows = trial_table(study)
    metrics = metric_names(study)
    ranked = sort is not None or top is not None
    if ranked:
        direction = study.directions[0].name.lower()
        rows = rank_trials(rows, by=sort or "value", metric=metrics[0], direction=direction, top=top)
    # The table gives way to a narrow terminal: first the params (last in a ranked view, which is
    # for them, where the rank goes before: the order shows it), then the fail reasons (printed
    # under the table instead), epochs, duration and the warm start. CSV and JSON have every column.
    columns = [
        *([Column("rank", "rank", grouped=False, drop_order=5)] if ranked else []),
        Column("number", "number", grouped=False),
        Column("state", "state"),
        *(Column(metric, metric) for metric in metrics),
        Column("model_params", "model_params"),
        Column("epochs", "epochs", drop_order=2),
        Column("duration", _seconds, drop_order=3),
        *([Column("warm_start", "warm_start", drop_order=4)] if any(r["warm_start"] for r in rows) else []),
        *(
            [Column("reason", "fail_reason", wrap=True, min_width=20, drop_order=1, note=_failure)]
            if any(row.get("fail_reason") for row in rows)
            else []
        ),
        Column("params", _sampled, wrap=True, drop_order=6 if ranked else 0),
    ]
    emit(rows, fmt, columns=columns, wide=wide)


@app.command()
@user_errors
def best(
    name: StudyName,
    storage: StorageOption = None,
    output_format: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the best trial of study NAME (the Pareto set for several objectives).

    Writes nothing.
    """
    from ressearch.results.query import best_trials, describe_trial, study_counts
    from ressearch.storage.studies import load_study

    fmt = choose_format(output_format, as_json, allowed=(Format.table, Format.json))
    study = load_study(name, storage)
    counts = study_counts(study)
    # Each trial carries its study's counts, as `run` and `studies` tell them.
    described = [{**describe_trial(study, trial), "counts": counts.to_dict()} for trial in best_trials(study)]
    if fmt is Format.json:
        emit(described, fmt, json_data=described[0] if len(study.directions) == 1 else described)
        return
    out.print(f"{name}: {counts.describe()}", markup=False)
    for item in described:
        values = item.get("values") or [item.get("value")]
        names = item.get("metrics") or [item.get("metric")]
        scores = ", ".join(f"{metric} {value:.4g}" for metric, value in zip(names, values, strict=False))
        out.print(f"trial {item['number']}: {scores}, {item['model_params'] or 0:,} parameters", markup=False)
        out.print(_indented("network", item["network"] or "none recorded"), markup=False)
        # Four significant digits to read; --json has the exact values.
        shown = ", ".join(f"{key} {_short(value)}" for key, value in item["params"].items())
        out.print(_indented("params", shown or "none"), markup=False)


@app.command()
@user_errors
def export(
    name: StudyName,
    out_dir: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder to write (must be new or empty).")
    ],
    storage: StorageOption = None,
    artifacts: ArtifactsOption = None,
    force: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
    model_formats: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="keras,savedmodel",
            help="Model files, comma-separated: keras (model.keras) and/or savedmodel (TensorFlow).",
        ),
    ] = "keras",
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="Retrain the best config on the training + validation rows, for the epochs it "
            "needed (trains: takes about as long as the trial did).",
        ),
    ] = False,
    ensemble: Annotated[
        int | None,
        typer.Option(
            "--ensemble",
            metavar="K",
            help="Export one model averaging the K best trials' models (K >= 2; one objective).",
            show_default=False,
        ),
    ] = None,
    trial: Annotated[
        int | None,
        typer.Option(
            "--trial",
            metavar="N",
            min=0,
            help="Export complete trial N instead of the best (`ressearch trials NAME` lists them); "
            "with --refit, retrain it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export the best model of study NAME into a new folder, atomically.

    Writes into --out only: config.json, model.keras (--format keras) and/or savedmodel/
    (--format savedmodel), metrics.json, preprocessing.json, trials.csv; several objectives: one
    trial-N/ folder each and pareto.json. --refit: the same files, the model retrained on the
    training + validation rows (metrics.json says how under "refit"). --ensemble K: model.keras
    and/or savedmodel/ averaging the K best trials, metrics.json (the members, the average's
    validation metrics), preprocessing.json, members/trial-N/config.json, trials.csv. --trial N:
    that trial's files instead of the best's.
    """
    from ressearch.results.export import export_study, parse_formats

    formats = parse_formats(model_formats)
    if refit or ensemble is not None or "savedmodel" in formats:
        import_tensorflow_quietly()
    result = export_study(
        name,
        out_dir,
        storage=storage,
        artifacts=artifacts,
        force=force,
        formats=formats,
        refit=refit,
        ensemble=ensemble,
        trial=trial,
    )
    trial_list = ", ".join(map(str, result.trials))
    if result.ensemble is not None:
        validation = ", ".join(f"{key} {value:.4g}" for key, value in result.ensemble["validation"].items())
        out.print(
            f"exported the mean of trials {trial_list} of {name} to {result.out} ({validation} on the "
            "validation rows that chose them)",
            markup=False,
        )
        return
    for refitted in result.refits:
        out.print(
            f"refit trial {refitted['trial']} on {refitted['train_rows']:,} rows (training + validation) "
            f"for {refitted['epochs']} epochs: {refitted['epochs_from']}",
            markup=False,
        )
    out.print(f"exported trial {trial_list} of {name} to {result.out}", markup=False)


def _check_port_free(host: str, port: int) -> None:
    """Fail with one line before serving if ``host:port`` cannot be listened on."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ConfigError(f"--host: cannot resolve {host!r} ({error.strerror})") from None
    family, kind, _, _, address = infos[0]
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server does
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(f"--port: {host}:{port} is already in use; choose another port") from None
            raise ConfigError(f"--host/--port: cannot listen on {host}:{port} ({error.strerror})") from None


@app.command()
@user_errors
def dashboard(
    storage: StorageOption = None,
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, metavar="PORT", help="Port to listen on.")] = 8080,
    artifacts: ArtifactsOption = None,
) -> None:
    """Serve optuna-dashboard on the same storage, with the trained models as artifacts.

    Writes only what is changed in the dashboard (notes, a trial's state) to the storage.
    """
    from optuna_dashboard import run_server

    from ressearch.redact import redact
    from ressearch.storage import artifact_dir_for, open_artifact_store, open_storage, resolve_storage_url

    _check_port_free(host, port)
    url = resolve_storage_url(storage)
    backend = open_storage(url, heartbeat=False, read_only=True)
    store = open_artifact_store(artifact_dir_for(url, artifacts), create=False)
    err.print(f"optuna-dashboard for {redact(url)} on http://{host}:{port} (Ctrl-C stops it)", markup=False)
    run_server(backend, host=host, port=port, artifact_store=store)


@app.command()
@user_errors
def predict(
    export_dir: Annotated[Path, typer.Argument(help="A folder `ressearch export` wrote.")],
    input_path: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT",
            help="A CSV of raw rows, an .npz with an array x, an image, or a folder of images.",
        ),
    ],
    out_file: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="CSV file to write (default: stdout).")
    ] = None,
    proba: Annotated[bool, typer.Option("--proba", help="Add a probability column per class.")] = False,
) -> None:
    """Score INPUT with an exported model: a CSV of row, prediction (and probabilities).

    Writes that CSV to --out (default: stdout); nothing else.
    """
    import_tensorflow_quietly()
    from ressearch.results.predictions import Predictor, read_input

    predictor = Predictor.load(export_dir)
    given = read_input(input_path, predictor)
    frame = predictor.predict(given.rows, proba=proba, index=given.index)
    if given.ignored:
        err.print(f"ignored columns not used by the model: {', '.join(given.ignored)}", markup=False)
    if out_file is None:
        sys.stdout.write(frame.to_csv(index=False))
        return
    target = out_file.resolve()
    if not target.parent.is_dir():
        raise ConfigError(f"--out: the folder {target.parent} does not exist")
    if target.is_dir():
        raise ConfigError(f"--out: {target} is a folder; give a file name")
    partial = target.with_name(f".{target.name}.partial")
    frame.to_csv(partial, index=False)
    partial.replace(target)  # never a half-written file under the asked name
    err.print(f"wrote {len(frame)} predictions to {target}", markup=False)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _indented(label: str, text: str, *, width: int = 80) -> str:
    """``  label: text``, wrapped at its commas to ``width`` columns (an item longer than that
    stays whole) with the continuation lines indented."""
    lines = [f"  {label}:"]
    for item in text.split(", "):
        separator = " " if lines[-1].endswith(":") else ", "
        if len(lines[-1]) + len(separator) + len(item) + 1 > width and not lines[-1].endswith(":"):
            lines[-1] += ","
            lines.append(f"    {item}")
        else:
            lines[-1] += separator + item
    return "\n".join(lines)
