"""What each garbage collection after a trial frees, and what it costs.

Trains tiny conv ResNets on 400 digits in one process, one epoch a trial, the way a worker
does. After each trial it times the collections a worker used to run: one right after the trial
(Optuna's ``gc_after_trial``), one after ``keras.backend.clear_session()`` (what Keras runs with
``free_memory=True``) and one more (the extra ``gc.collect()`` train_trial had). The objects each
one frees and its time show which collections pay for themselves.

    .venv/bin/python benchmarks/collect.py --trials 12
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.data import DataConfig, load_dataset
from ressearch.runtime import resident_mb
from ressearch.training import train_trial

COLLECTIONS = ("after the trial", "after clear_session", "one more")


def timed_collect() -> tuple[int, float, float]:
    """Objects freed, seconds taken and the change in resident MB of one full collection."""
    before = resident_mb()
    started = time.perf_counter()
    freed = gc.collect()
    return freed, time.perf_counter() - started, resident_mb() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    args = parser.parse_args()
    dataset = load_dataset(DataConfig(source="builtin:digits", max_rows=400, validation_split=0.25), seed=0)
    train = TrainConfig(epochs=1, batch_size=64, learning_rate=0.01)
    seen: dict[str, list[tuple[int, float, float]]] = {name: [] for name in COLLECTIONS}
    for number in range(args.trials):
        architecture = ArchitectureConfig(
            input_shape=dataset.input_shape,
            outputs=dataset.outputs,
            depths=(1,),
            widths=(8,),
            block_type=("basic", "preact", "plain")[number % 3],
        )
        train_trial(architecture, train, dataset, seed=number)
        seen["after the trial"].append(timed_collect())
        keras.backend.clear_session(free_memory=False)
        seen["after clear_session"].append(timed_collect())
        seen["one more"].append(timed_collect())
    print(f"{args.trials} trials, one process; RSS after the last: {resident_mb():.0f} MB")
    print("| collection | objects freed (median) | ms (median) | RSS change MB (sum) |")
    print("|---|---|---|---|")
    for name, rows in seen.items():
        freed = statistics.median(row[0] for row in rows)
        millis = statistics.median(row[1] for row in rows) * 1000
        print(f"| {name} | {freed:.0f} | {millis:.0f} | {sum(row[2] for row in rows):+.1f} |")


if __name__ == "__main__":
    main()
