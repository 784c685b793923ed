"""ressearch's overhead over a plain Keras script training the same models, whole process.

For each model kind (``conv``: conv ResNets on the 8x8 digits images; ``tabular``: dense
residual networks on the same digits as 64 features, 1,437 training rows), a study file of
6 trials x 3 epochs (random sampler, no pruning) is run once by ``ressearch run`` to learn its
trials' configs; then, in interleaved rounds (the order flips every round), hyperfine times one
whole process of each:

- ``ressearch``: ``ressearch run STUDY`` on a fresh SQLite file (sampling, storage, per-epoch
  checkpoints, the saved and uploaded models, every record);
- ``plain``: this file with ``--plain``, the script people write by hand: the same data split
  (``load_dataset``), each trial's model built by ``build_model`` from its stored config,
  compiled with the same loss, metrics and optimiser, ``fit`` with the validation split and
  nothing else.

It prints a table (median and spread of each, the ratio of medians) and writes a CSV.

    .venv/bin/python benchmarks/overhead.py --rounds 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from report import hyperfine_round, print_table, require_hyperfine, write_csv  # benchmarks/report.py

RESSEARCH = Path(sys.executable).with_name("ressearch")
KINDS = {
    "conv": {
        "data": {"source": "builtin:digits", "task": "classification", "validation_split": 0.2},
        "space": {
            "block_type": ["basic", "preact", "plain"],
            "stages": 2,
            "depth": 1,
            "width": [24, 32],
            "skip_length": 1,
        },
    },
    "tabular": {
        "data": {
            "source": "builtin:digits",
            "task": "classification",
            "validation_split": 0.2,
            "flatten": True,
        },
        "space": {
            "block_type": ["basic", "preact", "plain"],
            "stages": {"low": 1, "high": 2},
            "depth": {"low": 1, "high": 2},
            "width": [64, 96],
            "width_growth": 1,
        },
    },
}


def study_file(folder: Path, kind: str, trials: int, epochs: int) -> Path:
    study = {
        "study": {
            "name": f"overhead-{kind}",
            "metric": "val_accuracy",
            "sampler": "random",
            "pruner": "none",
            "n_trials": trials,
            "seed": 0,
        },
        **KINDS[kind],
        "train": {"epochs": epochs, "batch_size": 64, "optimizer": "adam", "learning_rate": 1e-3},
    }
    path = folder / f"overhead-{kind}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    return path


def plain(study: Path, configs: Path) -> None:
    """The hand-written script: same split, same models, same compile; fit and nothing else."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    from ressearch.arch import build_model
    from ressearch.config import ArchitectureConfig, TrainConfig, load_study_file
    from ressearch.data import load_dataset
    from ressearch.training import compile_model
    from ressearch.training.compile import targets

    definition = load_study_file(study)
    dataset = load_dataset(definition.data, seed=definition.settings.seed)
    for trial in json.loads(configs.read_text(encoding="utf-8")):
        keras.backend.clear_session()
        keras.utils.set_random_seed(trial["seed"])
        model = build_model(ArchitectureConfig.from_dict(trial["architecture"]))
        train = TrainConfig.from_dict(trial["train"])
        compile_model(model, train, dataset)
        model.fit(
            dataset.x_train,
            targets(dataset, dataset.y_train),
            validation_data=(dataset.x_val, targets(dataset, dataset.y_val)),
            epochs=train.epochs,
            batch_size=train.batch_size,
            shuffle=True,
            verbose=0,
        )


def stored_trials(database: Path, name: str) -> tuple[list[dict[str, object]], dict[str, float]]:
    """The trials' configs (their config.json), and the median seconds of each phase of a trial
    (``seconds`` in their metrics.json)."""
    import optuna

    from ressearch.search import StudyMeta, TrialRecord

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{database}")
    folder = StudyMeta.folder_of(study)
    configs, phases = [], {}
    for trial in study.get_trials(deepcopy=False):
        record = TrialRecord.from_trial(trial)
        config = record.config(folder)
        assert config is not None, f"trial {trial.number} recorded no config"
        configs.append({"architecture": config.architecture, "train": config.train, "seed": record.seed})
        for phase, seconds in record.measurements(folder).seconds.items():
            phases.setdefault(phase, []).append(seconds)
        duration = trial.duration.total_seconds() if trial.duration else 0.0
        phases.setdefault("whole trial", []).append(duration)
    return configs, {phase: statistics.median(values) for phase, values in phases.items()}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--plain":
        plain(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=sorted(KINDS))
    parser.add_argument("--rounds", type=int, default=4, help="interleaved runs of each command")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/overhead.csv"))
    args = parser.parse_args()
    require_hyperfine("overhead")
    rows = []
    splits: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ressearch-overhead-") as tmp:
        folder = Path(tmp)
        env = f"cd {folder} && RESSEARCH_ARTIFACTS={folder / 'artifacts'}"
        for kind in args.kinds:
            study = study_file(folder, kind, args.trials, args.epochs)
            database = folder / f"{kind}.db"
            url = f"sqlite:///{database}"
            run = f"{env} {RESSEARCH} run {study} --storage {url}"
            # The warm-up run, and the trials' configs.
            subprocess.run(["bash", "-c", run], check=True, stdout=subprocess.DEVNULL)
            configs = folder / f"{kind}-configs.json"
            trials, phases = stored_trials(database, f"overhead-{kind}")
            configs.write_text(json.dumps(trials), encoding="utf-8")
            splits[kind] = phases
            commands = {
                "ressearch": run,
                "plain": f"{env} {sys.executable} {Path(__file__).resolve()} --plain {study} {configs}",
            }
            prepare = f"rm -rf {database} {database}-wal {database}-shm {folder / 'artifacts'}"
            timings: dict[str, list[float]] = {name: [] for name in commands}
            for round_ in range(args.rounds):
                order = list(commands) if round_ % 2 == 0 else list(reversed(commands))
                seconds = hyperfine_round({name: commands[name] for name in order}, folder, prepare)
                for name, value in seconds.items():
                    timings[name].append(value)
                print(f"{kind} round {round_ + 1}: {seconds}", file=sys.stderr, flush=True)
            medians = {name: statistics.median(values) for name, values in timings.items()}
            for name, values in timings.items():
                rows.append(
                    {
                        "kind": kind,
                        "command": name,
                        "median s": medians[name],
                        "min s": min(values),
                        "max s": max(values),
                        "runs": len(values),
                        "ratio": medians[name] / medians["plain"],
                    }
                )
    print(f"{args.trials} trials x {args.epochs} epochs, {os.cpu_count()} CPU cores, {time.strftime('%F')}")
    print_table(
        ["model", "command", "median s", "min s", "max s", "runs", "x plain"],
        [list(row.values()) for row in rows],
    )
    print("\nWhere a ressearch trial's time goes (median seconds per trial, from the warm-up run):")
    phases = list(next(iter(splits.values())))
    print_table(
        ["model", *phases],
        [[kind, *(f"{split.get(p, 0.0):.3f}" for p in phases)] for kind, split in splits.items()],
    )
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
