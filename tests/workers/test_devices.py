"""Which GPUs each local worker sees, planned before any process starts."""

from __future__ import annotations

import pytest

from ressearch.errors import ConfigError
from ressearch.workers import WorkerPlan, plan_workers, worker_env, worker_threads
from tests.helpers import one_line


def test_workers_go_round_robin_over_the_gpus():
    assert plan_workers(4, "0,1", trials_per_gpu=2) == [
        WorkerPlan(0, "0"),
        WorkerPlan(1, "1"),
        WorkerPlan(2, "0"),
        WorkerPlan(3, "1"),
    ]
    assert [plan.devices for plan in plan_workers(None, "2,5", trials_per_gpu=2)] == ["2", "5", "2", "5"]
    assert [plan.devices for plan in plan_workers(3)] == [None, None, None]  # devices inherited
    assert plan_workers(None) == [WorkerPlan(0)]


def test_cpu_workers_split_the_cores_between_them(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi: no GPU, as on this machine
    assert plan_workers(3, cpus=8) == [
        WorkerPlan(0, threads=2),
        WorkerPlan(1, threads=2),
        WorkerPlan(2, threads=2),
    ]
    assert [plan.threads for plan in plan_workers(4, cpus=2)] == [1, 1, 1, 1]  # never below one
    assert plan_workers(1, cpus=8) == [WorkerPlan(0)]  # one worker keeps TensorFlow's default
    assert [plan.threads for plan in plan_workers(2, "0,1", cpus=8)] == [None, None]  # GPU workers
    env = worker_env(WorkerPlan(1, threads=2), {"PATH": "/bin"})
    assert env == {
        "PATH": "/bin",
        "RESSEARCH_WORKER_INDEX": "1",
        "TF_NUM_INTRAOP_THREADS": "2",
        "TF_NUM_INTEROP_THREADS": "2",
        "OMP_NUM_THREADS": "2",
    }
    # A thread count the user set is theirs, and what the start line and run_start report.
    assert worker_env(WorkerPlan(0, threads=2), {"OMP_NUM_THREADS": "4"})["OMP_NUM_THREADS"] == "4"
    assert worker_threads(WorkerPlan(0, threads=2), {"TF_NUM_INTRAOP_THREADS": "4"}) == 4
    assert worker_threads(WorkerPlan(0, threads=2), {}) == 2
    assert worker_threads(WorkerPlan(0), {"TF_NUM_INTRAOP_THREADS": "4"}) is None  # not split


def test_inherited_gpus_keep_tensorflow_threads(monkeypatch):
    # A GPU cannot exist here: the listing is the one thing replaced.
    monkeypatch.setattr("ressearch.workers.devices.list_gpus", lambda: ["0"])
    assert [plan.threads for plan in plan_workers(2, cpus=8)] == [None, None]


def test_each_worker_sees_only_its_gpu_with_memory_growth():
    env = worker_env(WorkerPlan(3, "1"), {"PATH": "/bin", "CUDA_VISIBLE_DEVICES": "0,1"})
    assert env == {
        "PATH": "/bin",
        "CUDA_VISIBLE_DEVICES": "1",
        "TF_FORCE_GPU_ALLOW_GROWTH": "true",
        "RESSEARCH_WORKER_INDEX": "3",
    }
    assert worker_env(WorkerPlan(0), {"CUDA_VISIBLE_DEVICES": "0"})["CUDA_VISIBLE_DEVICES"] == "0"


@pytest.mark.parametrize(
    ("workers", "gpus", "per_gpu", "message"),
    [
        (5, "0,1", 2, "--workers 5 on 2 GPU(s) puts more than --trials-per-gpu 2"),
        (2, "0,x", 1, "--gpus: expected 'all' or GPU indices like 0,1, got '0,x'"),
        (2, "1,1", 1, "--gpus: a GPU is listed twice"),
        (2, "0", 0, "--trials-per-gpu must be at least 1"),
    ],
)
def test_impossible_plans_are_one_line(workers, gpus, per_gpu, message):
    with pytest.raises(ConfigError) as raised:
        plan_workers(workers, gpus, trials_per_gpu=per_gpu)
    assert message in one_line(raised.value)


def test_all_gpus_on_a_machine_without_one_is_one_line(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi: no GPU, as on this machine
    with pytest.raises(ConfigError) as raised:
        plan_workers(2, "all")
    assert "--gpus all: this machine has no GPU" in one_line(raised.value)
