"""Real worker processes: Ctrl-C (SIGINT) and SIGTERM stop a run cleanly; the dashboard serves."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from conftest import tiny_study

from ressearch.study import finished_trials, load_study

pytestmark = pytest.mark.slow
RESSEARCH = [sys.executable, "-m", "ressearch"]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def running_trials(name: str, storage: str) -> list[optuna.trial.FrozenTrial]:
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return []
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_and_resume_finishes(write_study, unique_name, tmp_path, signum):
    storage = f"sqlite:///{tmp_path / 'signal.db'}"
    long = tiny_study(unique_name, study={"n_trials": 2}, train={"epochs": 400})
    process = subprocess.Popen(
        [*RESSEARCH, "run", str(write_study(long)), "--storage", storage],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # As a background job would: SIGINT inherited ignored. The run must still stop on it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        wait_for(lambda: running_trials(unique_name, storage), 120, "a RUNNING trial")
        time.sleep(2)  # inside fit()
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr
    assert "interrupted" in stdout
    assert "Traceback" not in stderr
    study = load_study(unique_name, storage)
    assert not running_trials(unique_name, storage)
    interrupted = [trial for trial in study.trials if trial.user_attrs.get("interrupted")]
    assert len(interrupted) == 1 and interrupted[0].state == optuna.trial.TrialState.FAIL
    assert not finished_trials(study)  # the interrupted trial does not count

    quick = tiny_study(unique_name, study={"n_trials": 2})
    resumed = subprocess.run(
        [*RESSEARCH, "run", str(write_study(quick, "quick.yaml")), "--storage", storage],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert len(finished_trials(load_study(unique_name, storage))) == 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dashboard_serves_the_storage_and_the_models(write_study, unique_name, tmp_path: Path):
    storage = f"sqlite:///{tmp_path / 'dash.db'}"
    ran = subprocess.run(
        [
            *RESSEARCH,
            "run",
            str(write_study(tiny_study(unique_name, study={"n_trials": 1}))),
            "--storage",
            storage,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    trial = load_study(unique_name, storage).trials[0]
    port = free_port()
    process = subprocess.Popen(
        [*RESSEARCH, "dashboard", "--storage", storage, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(base + path, timeout=2) as response:
                return bytes(response.read())
        except OSError:
            return None

    try:
        listed = json.loads(wait_for(lambda: get("/api/studies"), 90, "the dashboard to answer"))
        summaries = listed["study_summaries"]
        assert [item["study_name"] for item in summaries] == [unique_name]
        study_id = summaries[0]["study_id"]
        model = get(f"/artifacts/{study_id}/{trial._trial_id}/{trial.user_attrs['model_artifact']}")
        assert model is not None and model[:2] == b"PK"  # a .keras file is a zip archive
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.postgres
def test_two_workers_share_one_postgres_study(write_study, unique_name, postgres_url, tmp_path):
    target = 6
    # Trials long enough that the first worker cannot finish alone while the second starts up.
    path = write_study(tiny_study(unique_name, study={"n_trials": target}, train={"epochs": 4}))
    command = [*RESSEARCH, "run", str(path), "--storage", postgres_url]
    # The first worker writes to a file: a pipe nobody reads while the second runs could fill up.
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        # The second worker joins a study that exists and is running, as on another machine.
        wait_for(lambda: running_trials(unique_name, postgres_url), 120, "the first worker's trial")
        second = subprocess.run(command, capture_output=True, text=True, timeout=300)
        first.wait(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    assert first.returncode == 0, (tmp_path / "first.log").read_text()[-2000:]
    assert second.returncode == 0, second.stderr
    study = load_study(unique_name, postgres_url)
    assert not running_trials(unique_name, postgres_url)
    # Each worker stops at the total; the other's trial in flight may still finish.
    assert target <= len(finished_trials(study)) <= target + 1
    assert len({trial.user_attrs["worker"] for trial in study.trials}) == 2
