"""``ressearch presets`` and ``ressearch build``: architectures without a study."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from ressearch.cli.app import app
from ressearch.cli.output import (
    Column,
    Format,
    FormatOption,
    JsonOption,
    choose_format,
    emit,
    out,
    user_errors,
)
from ressearch.errors import ConfigError
from ressearch.runtime import import_tensorflow_quietly


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
@user_errors
def presets(output_format: FormatOption = None, as_json: JsonOption = False) -> None:
    """List the named architectures (parametric where the papers are).

    Writes nothing.
    """
    from ressearch.config.presets import get_preset, list_presets

    fmt = choose_format(output_format, as_json)
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
    columns = [
        Column("example", "example"),
        Column("family", "description", wrap=True),
        Column("block", "block_type"),
        Column("depths", lambda row: "-".join(map(str, row["depths"]))),
        Column("widths", lambda row: "/".join(map(str, row["widths"]))),
    ]
    emit(rows, fmt, columns=columns)
    if fmt is Format.table:
        out.print("Numbers vary as in the papers: resnet20/32/44/56/110, preact-resnet164, wrn-16-4, ...")


@app.command()
@user_errors
def build(
    spec: Annotated[
        str, typer.Argument(help="A preset name, or the path of a config JSON or an export folder.")
    ],
    input_shape: Annotated[
        str | None,
        typer.Option(
            metavar="SHAPE", help="Input shape, e.g. 32,32,3 (images), 100,4 (sequences), 26 (rows)."
        ),
    ] = None,
    outputs: Annotated[int | None, typer.Option(min=1, help="Number of outputs (classes).")] = None,
    output_format: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Build a network from a preset or a config file and show its shape and parameters.

    An exported config.json of a KerasTuner hypermodel's trial is rebuilt through its hypermodel.
    Writes nothing (--json prints the config, to save as a file).
    """
    from ressearch.config.files import load_network
    from ressearch.config.hypermodel import HypermodelConfig

    fmt = choose_format(output_format, as_json, allowed=(Format.table, Format.json))
    config = load_network(spec, input_shape=_parse_shape(input_shape), outputs=outputs)
    import_tensorflow_quietly()
    if isinstance(config, HypermodelConfig):
        _build_hypermodel(config, fmt)
        return
    from ressearch.arch.builder import summarize

    summary = summarize(config)
    if fmt is Format.json:
        emit([], fmt, json_data={**summary.to_dict(), "config": config.to_dict()})
        return
    out.print(
        f"[bold]{config.name}[/bold]: {config.block_type} blocks, input {config.input_shape}, "
        f"{config.outputs} outputs ({config.head})"
    )
    stages = [
        {"stage": stage, "blocks": depth, "width": width}
        for stage, (depth, width) in enumerate(zip(config.depths, config.widths, strict=True), 1)
    ]
    emit(stages, fmt)
    out.print(
        f"{summary.weight_layers} weight layers, skip length {config.skip_length}, "
        f"RoR levels {config.ror_levels}, shortcut {config.shortcut}"
    )
    out.print(f"parameters: {summary.model_params:,} ({summary.trainable_params:,} trainable)")


def _build_hypermodel(config: Any, fmt: Format) -> None:
    """Rebuild a hypermodel's network (from an export's config.json) and show its parameters."""
    import math

    from ressearch.arch.hypermodel import rebuild_model

    model = rebuild_model(config)
    trainable = sum(math.prod(weight.shape) for weight in model.trainable_weights)
    summary = {"name": model.name, "model_params": model.count_params(), "trainable_params": trainable}
    if fmt is Format.json:
        emit([], fmt, json_data={**summary, "hypermodel": config.to_dict()})
        return
    shape = tuple(config.input_shape or ())
    out.print(f"{model.name}: {config.describe()}, input {shape}, {config.classes} classes", markup=False)
    out.print(f"parameters: {summary['model_params']:,} ({trainable:,} trainable)", markup=False)
