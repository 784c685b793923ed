"""Same space, same data, same trial budget: ressearch against its peers.

Runs the quickstart search space (conv ResNets on scikit-learn's 8x8 digits, offline) with:

- ``ressearch``: ``run_study`` as the CLI runs it (TPE, median pruning, SQLite, models stored);
- ``optuna-loop``: the hand-written loop people write first (TPE in memory, no pruning, nothing stored);
- ``kt-random`` and ``kt-hyperband``: KerasTuner over the identical space (its ``hp`` is handed to
  ``ressearch.search.space.sample`` through ``ressearch.keras_tuner.HpSuggester``), with the same
  data, losses and optimisers.

After one untimed warm-up trial it prints one table row per tool and seed: wall seconds, trials,
epochs trained, best validation accuracy. KerasTuner scores a trial by its best epoch; ressearch
and the Optuna loop by the model as it ends (the one that is saved and exported), so KerasTuner's
column leans optimistic.

    .venv/bin/python benchmarks/peers.py --trials 12 --seeds 0 1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What ressearch.runtime.configure_runtime sets, before Keras loads (a benchmark is an entry point).
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import keras_tuner
import optuna

from ressearch.arch import build_model
from ressearch.config import StudyDefinition, load_study_file
from ressearch.data import Dataset, load_dataset
from ressearch.keras_tuner import HpSuggester  # KerasTuner's hp behind ressearch's suggest_* calls
from ressearch.search import TrialRecord, run_study, sample, sample_train
from ressearch.training import compile_model, train_trial

STUDY_FILE = Path(__file__).resolve().parent.parent / "studies" / "quickstart.yaml"


@dataclass
class Row:
    tool: str
    seed: int
    seconds: float
    trials: int
    epochs: int
    best: float
    failed: int = 0


class SpaceHyperModel(keras_tuner.HyperModel):
    """The study's architecture and training spaces as a KerasTuner hypermodel."""

    def __init__(self, definition: StudyDefinition, dataset: Dataset) -> None:
        super().__init__()
        self.definition = definition
        self.dataset = dataset

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        suggester = HpSuggester(hp)
        config = sample(
            suggester,
            self.definition.space,
            input_shape=self.dataset.input_shape,
            outputs=self.dataset.outputs,
            head="classification",
        )
        train = sample_train(suggester, self.definition.train)
        model = build_model(config)
        compile_model(model, train, self.dataset)
        return model

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        batch_size = sample_train(HpSuggester(hp), self.definition.train).batch_size
        return model.fit(*args, batch_size=batch_size, **kwargs)


def run_ressearch(definition: StudyDefinition, seed: int, trials: int, workdir: Path) -> Row:
    start = time.perf_counter()
    summary = run_study(
        definition.with_overrides(seed=seed, n_trials=trials),
        storage=f"sqlite:///{workdir / 'ressearch.db'}",
        artifacts=workdir / "artifacts",
    )
    seconds = time.perf_counter() - start
    if summary.interrupted:  # run_study turns Ctrl-C and SIGTERM into a clean stop: stop here too
        raise KeyboardInterrupt
    storage = f"sqlite:///{workdir / 'ressearch.db'}"
    study = optuna.load_study(study_name=definition.settings.name, storage=storage)
    epochs = sum(TrialRecord.from_trial(t).epochs or len(t.intermediate_values) for t in study.trials)
    best = summary.best_values[0] if summary.best_values else float("nan")
    return Row("ressearch", seed, seconds, summary.done, epochs, best, failed=summary.failed)


def run_optuna_loop(definition: StudyDefinition, dataset: Dataset, seed: int, trials: int) -> Row:
    def objective(trial: optuna.Trial) -> float:
        shape, outputs = dataset.input_shape, dataset.outputs
        config = sample(trial, definition.space, input_shape=shape, outputs=outputs, head="classification")
        result = train_trial(config, sample_train(trial, definition.train), dataset, seed=seed + trial.number)
        TrialRecord(epochs=result.epochs).write(trial)
        return result.metrics["val_accuracy"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    seconds = time.perf_counter() - start
    epochs = sum(TrialRecord.from_trial(t).epochs or 0 for t in study.trials)
    return Row("optuna-loop", seed, seconds, len(study.trials), epochs, study.best_value)


def run_keras_tuner(
    kind: str, definition: StudyDefinition, dataset: Dataset, seed: int, trials: int, workdir: Path
) -> Row:
    hypermodel = SpaceHyperModel(definition, dataset)
    epochs = int(definition.train.dimensions["epochs"].value)  # type: ignore[attr-defined]
    common: dict[str, Any] = {
        "objective": "val_accuracy",
        "seed": seed,
        "directory": str(workdir),
        "project_name": kind,
        "overwrite": True,
    }
    tuner: keras_tuner.Tuner
    if kind == "kt-hyperband":
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=epochs, hyperband_iterations=1, **common)
    else:
        tuner = keras_tuner.RandomSearch(hypermodel, max_trials=trials, **common)
    epochs_run: list[int] = []  # KerasTuner deep-copies callbacks; the closure's list is shared
    counter = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs_run.append(epoch))
    validation = (dataset.x_val, dataset.y_val)
    start = time.perf_counter()
    tuner.search(
        dataset.x_train,
        dataset.y_train,
        validation_data=validation,
        epochs=epochs,
        callbacks=[counter],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    done = list(tuner.oracle.trials.values())
    best = tuner.oracle.get_best_trials(1)[0].score
    failed = sum(t.status in ("FAILED", "INVALID") for t in done)
    return Row(kind, seed, seconds, len(done), len(epochs_run), float(best), failed=failed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12, help="trials per tool (Hyperband sets its own)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--tools", nargs="+", default=["ressearch", "optuna-loop", "kt-random", "kt-hyperband"]
    )
    args = parser.parse_args(argv)
    definition = load_study_file(STUDY_FILE)
    rows: list[Row] = []
    # TensorFlow's first fit pays one-off start-up costs: pay them before any tool is timed.
    run_optuna_loop(definition, load_dataset(definition.data, seed=args.seeds[0]), args.seeds[0], 1)
    for seed in args.seeds:
        dataset = load_dataset(definition.data, seed=seed)
        for tool in args.tools:
            with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as tmp:
                if tool == "ressearch":
                    row = run_ressearch(definition, seed, args.trials, Path(tmp))
                elif tool == "optuna-loop":
                    row = run_optuna_loop(definition, dataset, seed, args.trials)
                elif tool in ("kt-random", "kt-hyperband"):
                    row = run_keras_tuner(tool, definition, dataset, seed, args.trials, Path(tmp))
                else:
                    parser.error(f"--tools: unknown tool {tool!r}")
            rows.append(row)
            print(f"# {row.tool} seed {row.seed}: {row.seconds:.1f} s", file=sys.stderr, flush=True)
    print(f"{'tool':<14}{'seed':>5}{'wall s':>9}{'trials':>8}{'failed':>8}{'epochs':>8}{'best val_acc':>14}")
    for row in rows:
        print(
            f"{row.tool:<14}{row.seed:>5}{row.seconds:>9.1f}{row.trials:>8}{row.failed:>8}{row.epochs:>8}"
            f"{row.best:>14.4f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
