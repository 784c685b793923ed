"""Training throughput: samples per second by block type, input kind and runtime switches.

Trains one small residual network per block type (basic, preact, bottleneck, plain) on each
input kind the builder has: ``dense`` (digits as 64 features), ``conv1d`` (digits as sequences of
64 steps) and ``conv2d`` (digits as 8x8 images), with ``train_trial`` under each runtime:

- ``keras``: Keras' own defaults (float32, no XLA, one step per execution, arrays);
- ``auto``: what ``runtime: auto`` resolves to on this machine (on a CPU: 16 steps per execution);
- ``spe``: 16 steps per execution, no XLA;
- ``xla+spe``: XLA with 16 steps per execution;
- ``tf.data``: the cached, shuffled, prefetched pipeline (on the device where there is a GPU);
- ``mixed``: ``mixed_float16`` (on a CPU it only shows that float16 does not pay there).

Samples per second are measured over the epochs after the first (which traces the graph). It
prints a table and writes a CSV; on a GPU machine the same command measures the GPU.

    .venv/bin/python benchmarks/throughput.py --epochs 4
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from report import write_csv  # benchmarks/report.py

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.config import RuntimeConfig
from ressearch.data import DataConfig, load_dataset
from ressearch.training import train_trial
from ressearch.training.speed import Runtime, device_facts, resolve_runtime

BLOCKS = ("basic", "preact", "bottleneck", "plain")
KINDS = ("dense", "conv1d", "conv2d")


class EpochTimer(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: object = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def datasets() -> dict[str, object]:
    images = load_dataset(DataConfig(source="builtin:digits"), seed=0)
    rows = load_dataset(DataConfig(source="builtin:digits", flatten=True), seed=0)
    sequences = dataclasses.replace(
        rows, x_train=rows.x_train.reshape(-1, 64, 1), x_val=rows.x_val.reshape(-1, 64, 1)
    )
    return {"dense": rows, "conv1d": sequences, "conv2d": images}


def runtimes() -> dict[str, Runtime]:
    auto = resolve_runtime(RuntimeConfig())
    return {
        "keras": Runtime(),
        "auto": auto,
        "spe": dataclasses.replace(auto, steps_per_execution=16),
        "xla+spe": dataclasses.replace(auto, jit_compile=True, steps_per_execution=16),
        "tf.data": dataclasses.replace(auto, pipeline="tf.data", on_device=device_facts().gpus > 0),
        "mixed": dataclasses.replace(auto, precision="mixed_float16"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--runtimes", nargs="+", default=["keras", "auto", "xla+spe", "tf.data", "mixed"])
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/throughput.csv"))
    args = parser.parse_args()
    facts = device_facts()
    device = f"{facts.gpus} GPU(s), compute capability {facts.compute_capability}" if facts.gpus else "CPU"
    data = datasets()
    choices = runtimes()
    rows = []
    for kind in args.kinds:
        dataset = data[kind]
        for block in BLOCKS:
            config = ArchitectureConfig(
                input_shape=dataset.input_shape,
                outputs=dataset.outputs,
                block_type=block,
                depths=(1, 1),
                widths=(args.width, args.width * 2),
            )
            for name in args.runtimes:
                timer = EpochTimer()
                train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size)
                result = train_trial(config, train, dataset, seed=0, callbacks=[timer], runtime=choices[name])
                epoch_s = statistics.median(timer.seconds[1:])
                row = {
                    "device": device,
                    "input": kind,
                    "block": block,
                    "runtime": name,
                    "model_params": result.model_params,
                    "samples/s": len(dataset.x_train) / epoch_s,
                    "epoch s": epoch_s,
                    "val_accuracy": result.metrics["val_accuracy"],
                }
                rows.append(row)
                print(row, file=sys.stderr, flush=True)
    print(f"{device}, {os.cpu_count()} CPU cores, batch {args.batch_size}, {time.strftime('%F')}")
    print("| input | block | params | " + " | ".join(f"{name} samples/s" for name in args.runtimes) + " |")
    print("|---|---|---|" + "---|" * len(args.runtimes))
    for kind in args.kinds:
        for block in BLOCKS:
            mine = [row for row in rows if row["input"] == kind and row["block"] == block]
            cells = " | ".join(f"{row['samples/s']:,.0f}" for row in mine)
            print(f"| {kind} | {block} | {mine[0]['model_params']:,} | {cells} |")
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
