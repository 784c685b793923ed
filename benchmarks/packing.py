"""Packing: trials per hour on one GPU with 1, 2 and 4 trials sharing it.

Runs the same study (conv ResNets on the 8x8 digits, ``--trials`` trials of ``--epochs``
epochs, random sampler, no pruning) as ``ressearch run --workers K --gpus 0 --trials-per-gpu K``
on a fresh SQLite file for each K, and reports trials per hour and the peak GPU memory each
worker process held (``nvidia-smi``, sampled every second). It needs a GPU: on a machine
without one it says so and exits 2.

    .venv/bin/python benchmarks/packing.py --per-gpu 1 2 4 --trials 24
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
from report import print_table, write_csv  # benchmarks/report.py

RESSEARCH = Path(sys.executable).with_name("ressearch")


def gpu_memory_by_process() -> dict[int, float]:
    """MiB of GPU memory per process id, as nvidia-smi reports it."""
    query = ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"]
    done = subprocess.run(query, capture_output=True, text=True, check=False)
    usage: dict[int, float] = {}
    for line in done.stdout.splitlines():
        pid, _, used = line.partition(",")
        if pid.strip().isdigit():
            usage[int(pid)] = float(used.strip() or 0)
    return usage


def watch_memory(peaks: dict[int, float], stop: threading.Event) -> None:
    """Keep each process's peak GPU memory in ``peaks`` until ``stop`` is set."""
    while not stop.wait(1.0):
        for pid, used in gpu_memory_by_process().items():
            peaks[pid] = max(peaks.get(pid, 0.0), used)


def study_file(folder: Path, trials: int, epochs: int) -> Path:
    study = {
        "study": {"name": "packing", "metric": "val_accuracy", "sampler": "random", "pruner": "none"},
        "data": {"source": "builtin:digits", "task": "classification", "validation_split": 0.2},
        "space": {"block_type": ["basic", "preact"], "stages": 2, "depth": 2, "width": [32, 64]},
        "train": {"epochs": epochs, "batch_size": 64},
    }
    study["study"]["n_trials"] = trials
    path = folder / "packing.yaml"
    path.write_text(yaml.safe_dump(study), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-gpu", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/packing.csv"))
    args = parser.parse_args()
    listed = shutil.which("nvidia-smi") and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True, check=False
    )
    if not listed or listed.returncode != 0:
        print("packing: no GPU here (nvidia-smi finds none); run it on a GPU machine", file=sys.stderr)
        raise SystemExit(2)
    rows = []
    for per_gpu in args.per_gpu:
        with tempfile.TemporaryDirectory(prefix="ressearch-packing-") as tmp:
            folder = Path(tmp)
            study = study_file(folder, args.trials, args.epochs)
            command = [
                str(RESSEARCH), "run", str(study), "--storage", f"sqlite:///{folder / 'packing.db'}",
                "--workers", str(per_gpu), "--gpus", "0", "--trials-per-gpu", str(per_gpu),
            ]  # fmt: skip
            peaks: dict[int, float] = {}
            stop = threading.Event()
            sampler = threading.Thread(target=watch_memory, args=(peaks, stop), daemon=True)
            sampler.start()
            started = time.perf_counter()
            env = {**os.environ, "RESSEARCH_ARTIFACTS": str(folder / "artifacts")}
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - started
            stop.set()
            sampler.join()
            row = {
                "trials per GPU": per_gpu,
                "trials": args.trials,
                "wall s": seconds,
                "trials/hour": args.trials * 3600 / seconds,
                "peak GPU MiB per worker": max(peaks.values(), default=0.0),
            }
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
    print(f"{args.trials} trials x {args.epochs} epochs, {time.strftime('%F')}")
    header = ["trials per GPU", "wall s", "trials/hour", "peak GPU MiB per worker"]
    print_table(header, [[row[key] for key in header] for row in rows])
    write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
