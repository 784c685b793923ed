"""Which devices each local worker gets: ``CUDA_VISIBLE_DEVICES``, set before TensorFlow loads.

A worker process sees only its GPU (memory growth on, so several trials can share one); without
``--gpus`` the workers inherit the environment as it is, except that several workers on a
machine without a GPU share its cores: each gets ``cores // workers`` TensorFlow threads (at
least one) instead of every worker starting a pool the size of the machine. A thread setting
already in the environment is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from ressearch.errors import ConfigError

__all__ = ["WORKER_INDEX_ENV", "WorkerPlan", "list_gpus", "plan_workers", "worker_env", "worker_threads"]

WORKER_INDEX_ENV = "RESSEARCH_WORKER_INDEX"
# TensorFlow's pools (read as it loads) and OpenMP's, for a worker given a share of the cores.
THREAD_ENV = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


@dataclass(frozen=True)
class WorkerPlan:
    """One local worker: its index (its seed stream), the GPUs it sees (None: inherited) and
    its share of the CPU threads (None: TensorFlow's default, the whole machine)."""

    index: int
    devices: str | None = None
    threads: int | None = None


def list_gpus() -> list[str]:
    """The GPU indices ``nvidia-smi -L`` lists on this machine (none without NVIDIA's driver)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(index) for index, line in enumerate(listed.stdout.splitlines()) if line.startswith("GPU ")]


def _parse_gpus(gpus: str) -> list[str]:
    if gpus.strip().lower() == "all":
        found = list_gpus()
        if not found:
            raise ConfigError("--gpus all: this machine has no GPU that nvidia-smi lists; leave --gpus out")
        return found
    chosen = [part.strip() for part in gpus.split(",") if part.strip()]
    if not chosen or not all(part.isdigit() for part in chosen):
        raise ConfigError(f"--gpus: expected 'all' or GPU indices like 0,1, got {gpus!r}")
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"--gpus: a GPU is listed twice in {gpus!r}")
    return chosen


def cpu_count() -> int:
    """The cores this process may run on (its affinity: a container's or ``taskset``'s share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan_workers(
    workers: int | None, gpus: str | None = None, trials_per_gpu: int = 1, *, cpus: int | None = None
) -> list[WorkerPlan]:
    """The local workers to start: ``workers`` of them (default: one per GPU slot, else one).

    With ``gpus``, worker i sees GPU ``gpus[i % len(gpus)]``: at most ``trials_per_gpu`` on each.
    Without, on a machine where ``nvidia-smi`` lists no GPU, several workers split the ``cpus``
    cores (by default :func:`cpu_count`) between them.

    Example:
        >>> [plan.devices for plan in plan_workers(3, "0,1", trials_per_gpu=2)]
        ['0', '1', '0']
    """
    if trials_per_gpu < 1:
        raise ConfigError(f"--trials-per-gpu must be at least 1, got {trials_per_gpu}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if gpus is None:
        count = workers or 1
        threads = None
        if count > 1 and not list_gpus():
            threads = max(1, (cpus or cpu_count()) // count)
        return [WorkerPlan(index, threads=threads) for index in range(count)]
    devices = _parse_gpus(gpus)
    count = workers or len(devices) * trials_per_gpu
    if count > len(devices) * trials_per_gpu:
        raise ConfigError(
            f"--workers {count} on {len(devices)} GPU(s) puts more than --trials-per-gpu {trials_per_gpu} "
            "trials on one GPU; raise --trials-per-gpu or lower --workers"
        )
    return [WorkerPlan(index, devices[index % len(devices)]) for index in range(count)]


def worker_env(plan: WorkerPlan, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of one worker process: its index, its GPU and its threads, all set before
    TensorFlow loads (a thread count already in ``base`` is kept)."""
    env = {**base, WORKER_INDEX_ENV: str(plan.index)}
    if plan.threads is not None:
        for name in THREAD_ENV:
            env.setdefault(name, str(plan.threads))
    if plan.devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = plan.devices
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"  # memory growth: K trials share one GPU
    return env


def worker_threads(plan: WorkerPlan, base: Mapping[str, str]) -> int | None:
    """The TensorFlow threads a worker runs with where its plan splits the cores (a count the
    user set in ``base`` wins, as in :func:`worker_env`), else None (TensorFlow's default).

    Example:
        >>> worker_threads(WorkerPlan(0, threads=1), {"TF_NUM_INTRAOP_THREADS": "4"})
        4
    """
    if plan.threads is None:
        return None
    value = worker_env(plan, base)["TF_NUM_INTRAOP_THREADS"]
    return int(value) if value.isdigit() else None
