"""``ressearch ablate``: did the shortcuts matter? The found network against its plain twin and
the other block types, retrained for several seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ressearch.cli.app import app
from ressearch.cli.options import ArtifactsOption, StorageOption, StudyName
from ressearch.cli.output import Column, WideOption, err, out, print_table, user_errors
from ressearch.runtime import import_tensorflow_quietly, quiet_optuna


def _plus_minus(mean: float | None, std: float | None, *, signed: bool = False) -> str:
    if mean is None:
        return "-"
    text = f"{mean:+.4f}" if signed else f"{mean:.4f}"
    return f"{text} ± {std:.4f}" if std is not None else f"{text} ± n/a"


def _delta(row: dict[str, Any]) -> str:
    if row["delta_mean"] is None:
        return "-"
    return f"{_plus_minus(row['delta_mean'], row['delta_std'], signed=True)} {row['verdict']}"


def _block(row: dict[str, Any]) -> str:
    return row["block"] or f"skipped: {row['skipped']}"


def _block_note(row: dict[str, Any]) -> str:
    return f"{row['variant']}: {_block(row)}"


def _start_line(start: Any) -> str:
    trained = [variant.name for variant in start.variants if variant.config is not None]
    return (
        f"ablating trial {start.trial} of {start.study}: {', '.join(trained)} x {len(start.seeds)} seeds "
        f"({', '.join(map(str, start.seeds))}), {start.epochs} epochs each, "
        f"{start.metric} ({start.direction}); {start.total_runs} runs"
    )


@app.command()
@user_errors
def ablate(
    name: StudyName,
    seeds: Annotated[int, typer.Option(min=1, help="Training seeds per variant (the same for each).")] = 3,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Epochs per run (default: the trial's own).")
    ] = None,
    trial: Annotated[
        int | None,
        typer.Option(min=0, help="The trial to ablate (default: the best; several objectives need it)."),
    ] = None,
    storage: StorageOption = None,
    artifacts: ArtifactsOption = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Also write ablation.json, ablation.csv and ablation-curves.png here.",
        ),
    ] = None,
    wide: WideOption = False,
) -> None:
    """Retrain the best network of study NAME, its plain twin (no shortcuts) and the other block
    types for several seeds; compare each with the found one, seed by seed, and store the result
    with the study.

    Writes ablation.json and ablation-curves.png as artifacts of the study (in its artifact folder)
    and the study attribute ressearch_ablation, once every run is done; with --out also
    ablation.json, ablation.csv and ablation-curves.png there.
    """
    import_tensorflow_quietly()
    quiet_optuna()
    from ressearch.results.ablation import AblationRun, AblationStart, ablate_study

    def on_start(start: AblationStart) -> None:
        err.print(_start_line(start), markup=False)
        for variant in start.variants:
            if variant.skipped:
                err.print(f"{variant.name}: skipped ({variant.skipped})", markup=False)

    def on_run(run: AblationRun) -> None:
        value = f"{run.value:.4f}" if run.value is not None else f"failed ({run.error})"
        err.print(f"{run.variant} seed {run.seed}: {value} in {run.seconds:.1f}s", markup=False)

    try:
        result = ablate_study(
            name,
            storage=storage,
            artifacts=artifacts,
            seeds=seeds,
            epochs=epochs,
            trial=trial,
            out=out_dir,
            on_start=on_start,
            on_run=on_run,
        )
    except KeyboardInterrupt:
        err.print("ablate: interrupted; nothing stored", markup=False)
        raise typer.Exit(1) from None
    # At 80 columns the one-line networks go under the table, and the differences wrap before
    # their verdict; --wide shows every column on one line.
    columns = [
        Column("variant", "variant"),
        Column("block", _block, wrap=True, min_width=24, drop_order=1, note=_block_note),
        Column("model_params", "model_params"),
        Column("mean ± std", lambda row: _plus_minus(row["mean"], row["std"])),
        Column("Δ vs found ± std", _delta, wrap=True),
        Column("p", lambda row: None if row["p_value"] is None else f"{row['p_value']:.2g}"),
        Column("n", "n", drop_order=2),
    ]
    out.print(
        f"{result.metric} ({result.direction}) of trial {result.trial} retrained, {len(result.seeds)} seeds, "
        f"{result.epochs} epochs",
        markup=False,
    )
    out.print("Δ = variant - found, seed by seed; p of a paired t-test", markup=False)
    print_table(result.rows(), columns, wide=wide)
    written = f" and written to {out_dir}" if out_dir else ""
    out.print(f"{result.seconds:.0f}s; stored with study {name}{written}", markup=False)
