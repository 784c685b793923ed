"""Search efficiency: the best validation accuracy each tool reaches for the same budget of epochs.

On three built-in datasets (digits as 8x8 images with conv ResNets; breast_cancer and wine as
rows with dense residual networks), with five seeds, every tool gets the same budget of training
epochs (``--budget``, trials of up to ``--epochs`` epochs) over the same space:

- ``ressearch-tpe``, ``ressearch-random``, ``ressearch-cmaes``: ressearch as a study runs
  (SQLite, records, checkpoints, stored models) with Hyperband pruning and that sampler;
- ``kt-hyperband``: KerasTuner's Hyperband over the identical space (its ``hp`` drives
  ``ressearch.search.space.sample`` through ``ressearch.keras_tuner.HpSuggester``, in the
  hypermodel of ``benchmarks/peers.py``);
- ``optuna-random``: Optuna's random search, no pruning, in a hand-written loop;
- ``optuna-tpe``: the hand-written Optuna loop people write first (TPE, no pruning).

A run stops starting trials once its epochs reach the budget; the trial in flight finishes and
counts (every tool overshoots the same way, by less than one trial). KerasTuner scores a trial
by its best epoch, the others by the model as it ends (the one exported), so KerasTuner's
column leans optimistic. It prints a table of medians over the seeds, writes every trial's
best-so-far to a CSV and plots the median best-so-far against epochs and against wall time.

    .venv/bin/python benchmarks/efficiency.py --seeds 0 1 2 3 4 --budget 48
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import keras_tuner
import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import SpaceHyperModel
from report import write_csv  # benchmarks/report.py

from ressearch.config import StudyDefinition
from ressearch.data import Dataset, load_dataset
from ressearch.search import TrialRecord, sample, sample_train
from ressearch.search.runner import optimize, prepare
from ressearch.training import train_trial
from ressearch.training.compile import targets

TOOLS = (
    "ressearch-tpe",
    "ressearch-random",
    "ressearch-cmaes",
    "kt-hyperband",
    "optuna-random",
    "optuna-tpe",
)
TABULAR_SPACE = {
    "block_type": ["basic", "preact", "bottleneck", "plain"],
    "stages": {"low": 1, "high": 2},
    "depth": {"low": 1, "high": 2},
    "width": {"low": 16, "high": 128, "log": True},
    "width_growth": 1,
    "dropout": {"low": 0.0, "high": 0.4},
}
CONV_SPACE = {
    "block_type": ["basic", "preact", "bottleneck", "plain"],
    "stages": {"low": 1, "high": 2},
    "depth": {"low": 1, "high": 2},
    "width": {"low": 8, "high": 32, "log": True},
    "dropout": {"low": 0.0, "high": 0.3},
}
DATASETS = {
    "digits": ({"source": "builtin:digits", "validation_split": 0.2}, CONV_SPACE),
    "breast_cancer": ({"source": "builtin:breast_cancer", "validation_split": 0.25}, TABULAR_SPACE),
    "wine": ({"source": "builtin:wine", "validation_split": 0.3}, TABULAR_SPACE),
}


@dataclasses.dataclass
class Point:
    """Where a run stood after one of its trials."""

    dataset: str
    tool: str
    seed: int
    trial: int
    epochs: int  # epochs trained so far
    seconds: float  # wall time so far
    best: float  # best validation accuracy so far


def definition_for(name: str, sampler: str, pruner: str, epochs: int, seed: int) -> StudyDefinition:
    data, space = DATASETS[name]
    return StudyDefinition.from_dict(
        {
            "study": {
                "name": f"efficiency-{name}",
                "metric": "val_accuracy",
                "sampler": sampler,
                "pruner": pruner,
                "n_trials": 1,
                "seed": seed,
            },
            "data": {**data, "task": "classification"},
            "space": space,
            "train": {
                "epochs": epochs,
                "batch_size": [32, 64],
                "optimizer": ["adam", "adamw"],
                "learning_rate": {"low": 1e-3, "high": 1e-2, "log": True},
            },
        }
    )


def run_ressearch(name: str, sampler: str, seed: int, budget: int, epochs: int, folder: Path) -> list[Point]:
    definition = definition_for(name, sampler, "hyperband", epochs, seed)
    prepared = prepare(definition, storage=f"sqlite:///{folder / 'study.db'}", artifacts=folder / "artifacts")
    points: list[Point] = []
    used, best, start = 0, float("-inf"), time.perf_counter()
    while used < budget:
        target = len(points) + 1
        optimize(dataclasses.replace(prepared, definition=definition.with_overrides(n_trials=target)))
        trial = prepared.study.get_trials(deepcopy=False)[-1]
        used += TrialRecord.from_trial(trial).epochs or len(trial.intermediate_values)
        if trial.value is not None:
            best = max(best, trial.value)
        points.append(
            Point(name, f"ressearch-{sampler}", seed, target, used, time.perf_counter() - start, best)
        )
    return points


def run_optuna_loop(
    name: str, sampler: str, seed: int, budget: int, epochs: int, dataset: Dataset
) -> list[Point]:
    """The hand-written loop: sample with Optuna, train every trial to the end, no pruning."""
    definition = definition_for(name, "random", "none", epochs, seed)
    chosen = (
        optuna.samplers.TPESampler(seed=seed)
        if sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=seed)
    )
    study = optuna.create_study(direction="maximize", sampler=chosen)
    points: list[Point] = []
    state = {"used": 0, "best": float("-inf"), "start": time.perf_counter()}

    def objective(trial: optuna.Trial) -> float:
        config = sample(trial, definition.space, input_shape=dataset.input_shape, outputs=dataset.outputs)
        result = train_trial(config, sample_train(trial, definition.train), dataset, seed=seed + trial.number)
        state["used"] += result.epochs
        state["best"] = max(state["best"], result.metrics["val_accuracy"])
        points.append(
            Point(
                name,
                f"optuna-{sampler}",
                seed,
                trial.number + 1,
                int(state["used"]),
                time.perf_counter() - state["start"],
                state["best"],
            )
        )
        if state["used"] >= budget:
            trial.study.stop()
        return result.metrics["val_accuracy"]

    study.optimize(objective, n_trials=10_000)
    return points


def run_keras_tuner(
    name: str, seed: int, budget: int, epochs: int, dataset: Dataset, folder: Path
) -> list[Point]:
    definition = definition_for(name, "random", "none", epochs, seed)
    tuner = keras_tuner.Hyperband(
        SpaceHyperModel(definition, dataset),
        objective="val_accuracy",
        max_epochs=epochs,
        hyperband_iterations=100,  # more than any budget here uses: the budget stops it
        seed=seed,
        directory=str(folder),
        project_name="kt",
        overwrite=True,
    )
    points: list[Point] = []
    state: dict[str, Any] = {"used": 0, "best": float("-inf"), "start": time.perf_counter(), "trial": []}

    def epoch_end(epoch: int, logs: dict[str, float]) -> None:
        state["used"] += 1
        state["trial"].append(float(logs.get("val_accuracy", float("nan"))))

    def train_end(logs: dict[str, float]) -> None:
        if state["trial"]:
            state["best"] = max(state["best"], max(state["trial"]))  # KerasTuner: a trial's best epoch
        state["trial"] = []
        now = time.perf_counter() - state["start"]
        points.append(Point(name, "kt-hyperband", seed, len(points) + 1, state["used"], now, state["best"]))
        if state["used"] >= budget:
            tuner.oracle.max_trials = len(tuner.oracle.trials)  # no new trial after this one

    counter = keras.callbacks.LambdaCallback(on_epoch_end=epoch_end, on_train_end=train_end)
    tuner.search(
        dataset.x_train,
        targets(dataset, dataset.y_train),
        validation_data=(dataset.x_val, targets(dataset, dataset.y_val)),
        epochs=epochs,
        callbacks=[counter],
        verbose=0,
    )
    return points


def _keras_tuner_child(queue: Any, name: str, seed: int, budget: int, epochs: int, folder: str) -> None:
    dataset = load_dataset(definition_for(name, "random", "none", epochs, seed).data, seed=seed)
    queue.put(
        [dataclasses.asdict(p) for p in run_keras_tuner(name, seed, budget, epochs, dataset, Path(folder))]
    )


def run_keras_tuner_guarded(
    name: str, seed: int, budget: int, epochs: int, folder: Path, limit_s: float
) -> list[Point]:
    """KerasTuner in a process of its own, given ``limit_s`` seconds: one of its Hyperband runs
    here (wine, seed 4) once stopped making progress while its memory grew past 20 GB."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_keras_tuner_child, args=(queue, name, seed, budget, epochs, str(folder)))
    child.start()
    try:
        points = [Point(**point) for point in queue.get(timeout=limit_s)]
    except Exception:  # the queue's Empty: it ran past its time
        print(
            f"# {name} kt-hyperband seed {seed}: stopped after {limit_s:.0f} s", file=sys.stderr, flush=True
        )
        points = []
    child.kill()
    child.join()
    return points


def median_curve(points: list[Point], axis: Callable[[Point], float], grid: list[float]) -> list[float]:
    """The median over seeds of the best-so-far at each grid value (NaN before a seed's first trial)."""
    seeds = sorted({point.seed for point in points})
    curves = []
    for seed in seeds:
        mine = sorted((p for p in points if p.seed == seed), key=axis)
        curve = []
        for x in grid:
            reached = [p.best for p in mine if axis(p) <= x]
            curve.append(reached[-1] if reached else float("nan"))
        curves.append(curve)
    return [
        statistics.median(column) if all(v == v for v in column) else float("nan")
        for column in zip(*curves, strict=True)
    ]


def plot(points: list[Point], datasets: list[str], tools: list[str], budget: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, len(datasets), figsize=(5 * len(datasets), 8), squeeze=False)
    for column, name in enumerate(datasets):
        mine = [p for p in points if p.dataset == name]
        if not mine:
            continue
        longest = max(p.seconds for p in mine)
        for tool in tools:
            runs = [p for p in mine if p.tool == tool]
            if not runs:
                continue
            epochs = [float(x) for x in range(1, budget + 1)]
            axes[0][column].plot(epochs, median_curve(runs, lambda p: p.epochs, epochs), label=tool)
            seconds = [longest * i / 100 for i in range(1, 101)]
            axes[1][column].plot(seconds, median_curve(runs, lambda p: p.seconds, seconds), label=tool)
        axes[0][column].set_title(f"{name}: median best-so-far")
        axes[0][column].set_xlabel("epochs trained")
        axes[1][column].set_xlabel("wall seconds")
        for row in (0, 1):
            axes[row][column].set_ylabel("best val_accuracy")
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=list(DATASETS))
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--budget", type=int, default=48, help="training epochs per run")
    parser.add_argument("--epochs", type=int, default=6, help="the most epochs one trial trains")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--kt-limit", type=float, default=300.0, help="seconds one KerasTuner run may take")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    points: list[Point] = []
    for name in args.datasets:
        for seed in args.seeds:
            dataset = load_dataset(definition_for(name, "random", "none", args.epochs, seed).data, seed=seed)
            for tool in args.tools:
                with tempfile.TemporaryDirectory(prefix=f"efficiency-{tool}-") as tmp:
                    if tool.startswith("ressearch-"):
                        sampler = tool.removeprefix("ressearch-")
                        run = run_ressearch(name, sampler, seed, args.budget, args.epochs, Path(tmp))
                    elif tool == "kt-hyperband":
                        limit = args.kt_limit
                        run = run_keras_tuner_guarded(name, seed, args.budget, args.epochs, Path(tmp), limit)
                    else:
                        sampler = tool.removeprefix("optuna-")
                        run = run_optuna_loop(name, sampler, seed, args.budget, args.epochs, dataset)
                if not run:
                    continue
                points.extend(run)
                write_csv(args.out / "efficiency.csv", [dataclasses.asdict(point) for point in points])
                last = run[-1]
                print(
                    f"# {name} {tool} seed {seed}: best {last.best:.4f} after {last.epochs} epochs, "
                    f"{last.trial} trials, {last.seconds:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    plot(points, args.datasets, args.tools, args.budget, args.out / "efficiency.png")
    print(
        f"budget {args.budget} epochs (trials of up to {args.epochs}), seeds {args.seeds}, "
        f"{os.cpu_count()} CPU cores, {time.strftime('%F')}; medians over seeds"
    )
    print("| dataset | tool | seeds | best val_accuracy | epochs used | trials | wall s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets:
        for tool in args.tools:
            runs = [
                [p for p in points if (p.dataset, p.tool, p.seed) == (name, tool, seed)]
                for seed in args.seeds
            ]
            finals = [max(run, key=lambda p: p.trial) for run in runs if run]  # a stopped run has none
            if not finals:
                continue
            best = statistics.median(p.best for p in finals)
            epochs = statistics.median(p.epochs for p in finals)
            trials = statistics.median(p.trial for p in finals)
            seconds = statistics.median(p.seconds for p in finals)
            print(
                f"| {name} | {tool} | {len(finals)} | {best:.4f} | {epochs:.0f} | {trials:.0f} | "
                f"{seconds:.1f} |"
            )


if __name__ == "__main__":
    main()
