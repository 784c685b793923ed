"""The seconds of a trial's first epoch and of each later one: what building the optimizer before
``fit`` and turning off TensorFlow's graph optimizer on a CPU save.

Keras 3 on TensorFlow, without a distribution strategy, creates the optimizer's slot variables
inside the first trace of the train step, and a ``tf.function`` whose trace creates variables is
traced a second time. ``train_trial`` now builds the optimizer after compiling
(``ressearch.training.fit.build_optimizer``), so the step is traced once. Grappler, TensorFlow's
graph optimizer, rewrites every function (train step, validation step, each epoch's input
iterator) when it is first called; ``runtime: auto`` turns it off on a CPU
(``graph_optimizer``). This measures three paths, each with the CPU runtime a study resolves
here (16 steps per execution), in one process, in interleaved rounds (the order turns every
round), each trial 1 epoch then 3 epochs (the difference is what the later epochs cost):

- ``traced twice``: ``build_optimizer`` switched off, Grappler on (the path before both);
- ``traced once``: Grappler on;
- ``no Grappler``: as a trial runs on a CPU now.

``--model tabular`` (default) is a ``space: tabular`` trial's model (preact blocks,
piecewise-linear embeddings, 8 ensemble members, AdamW with clipping) on the 64 digits features
(1,437 training rows); ``--model conv`` a conv ResNet (basic blocks, 2 stages) on the 8x8 images.

    .venv/bin/python benchmarks/first_step.py --rounds 5
    .venv/bin/python benchmarks/first_step.py --rounds 5 --model conv \\
        --csv benchmarks/results/first_step_conv.csv
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from report import print_table, write_csv  # benchmarks/report.py

PATHS = ("traced twice", "traced once", "no Grappler")


def one_trial(path: str, epochs: int, width: int, depth: int, model: str = "tabular") -> float:
    """The fit seconds of one trial trained for ``epochs`` epochs on ``path``."""
    import ressearch.training.fit as fitting
    from ressearch import ArchitectureConfig, TrainConfig
    from ressearch.config import RuntimeConfig
    from ressearch.data import DataConfig, load_dataset
    from ressearch.training.speed import resolve_runtime

    tabular = model == "tabular"
    dataset = load_dataset(DataConfig(source="builtin:digits", flatten=tabular), seed=0)
    if tabular:
        config = ArchitectureConfig(
            input_shape=dataset.input_shape,
            outputs=dataset.outputs,
            block_type="preact",
            depths=(depth,),
            widths=(width,),
            numeric_embedding="piecewise_linear",
            embedding_bins=16,
            embedding_dim=16,
            ensemble_k=8,
        )
        train = TrainConfig(
            epochs=epochs,
            batch_size=256,
            optimizer="adamw",
            learning_rate=1e-3,
            weight_decay=1e-3,
            clipnorm=1.0,
        )
    else:
        config = ArchitectureConfig(
            input_shape=dataset.input_shape,
            outputs=dataset.outputs,
            block_type="basic",
            depths=(depth, depth),
            widths=(width // 4, width // 2),
        )
        train = TrainConfig(epochs=epochs, batch_size=64, optimizer="adam", learning_rate=1e-3)
    runtime = resolve_runtime(RuntimeConfig(graph_optimizer=path != "no Grappler"))
    built = fitting.build_optimizer
    if path == "traced twice":
        fitting.build_optimizer = lambda model: None  # Keras builds it in the first trace
    try:
        result = fitting.train_trial(config, train, dataset, seed=0, runtime=runtime)
    finally:
        fitting.build_optimizer = built
    return result.seconds["fit"]


def main(argv: list[str] | None = None) -> int:
    from ressearch.runtime import configure_runtime

    configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=2, help="blocks (per stage for conv)")
    parser.add_argument("--model", choices=("tabular", "conv"), default="tabular")
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/first_step.csv"))
    args = parser.parse_args(argv)
    one_trial("traced once", 1, args.width, args.depth, args.model)  # TensorFlow's one-off start, not timed
    rows: list[dict[str, Any]] = []
    for round_number in range(args.rounds):
        turn = round_number % len(PATHS)
        order = PATHS[turn:] + PATHS[:turn]
        for path in order:
            for epochs in (1, 3):
                seconds = one_trial(path, epochs, args.width, args.depth, args.model)
                rows.append(
                    {"round": round_number, "path": path, "epochs": epochs, "seconds": round(seconds, 3)}
                )
                print(f"round {round_number}: {path}, {epochs} epoch(s): {seconds:.2f} s", file=sys.stderr)
    write_csv(args.csv, rows)
    table = []
    for path in PATHS:
        first = [row["seconds"] for row in rows if row["path"] == path and row["epochs"] == 1]
        three = [row["seconds"] for row in rows if row["path"] == path and row["epochs"] == 3]
        later = (statistics.median(three) - statistics.median(first)) / 2
        table.append(
            [
                path,
                f"{statistics.median(first):.2f} ({min(first):.2f}-{max(first):.2f})",
                f"{later:.2f}",
            ]
        )
    print_table(["path", "first epoch, s: median (range)", "each later epoch, s"], table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
