"""`ressearch storage-proxy` and `grpc://` storages: a real proxy process, real workers through it.

The proxy serves a real database; a `ressearch worker` given `--storage grpc://HOST:PORT` runs a
study to its exact total through it; a trial whose worker stopped beating through the proxy is
failed and retried; a bad address or a missing proxy is one line.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import optuna
import pytest
from optuna.trial import TrialState

from ressearch.errors import StorageError
from ressearch.search import TrialRecord
from ressearch.search.retry import HEARTBEAT_ATTR, StaleTrialRetry, fail_silent_trials
from ressearch.storage.outages import OutageTolerantProxy
from ressearch.storage.urls import open_storage, resolve_storage_url
from tests.helpers import free_port, one_line, tiny_study, user_error, wait_for
from tests.search.helpers import RESSEARCH


@pytest.fixture
def proxy(storage_url: str, tmp_path) -> Iterator[str]:
    """A real `ressearch storage-proxy` serving ``storage_url``; its grpc:// URL."""
    port = free_port()
    log = (tmp_path / "proxy.log").open("w")
    process = subprocess.Popen(
        [*RESSEARCH, "storage-proxy", "--storage", storage_url, "--port", str(port), "--threads", "4"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"grpc://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(port) or process.poll() is not None, 60, "the proxy to listen")
        assert process.poll() is None, (tmp_path / "proxy.log").read_text()
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, (tmp_path / "proxy.log").read_text()
        log.close()
    assert "storage proxy stopped" in (tmp_path / "proxy.log").read_text()


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("url", ["grpc://", "grpc://host-without-port", "grpc://host:99999", "grpc://:13000"])
def test_a_bad_proxy_address_is_one_line(url):
    with pytest.raises(StorageError) as raised:
        resolve_storage_url(url)
    assert "grpc://HOST:PORT" in one_line(raised.value)


def test_no_proxy_at_the_address_is_one_line():
    started = time.monotonic()
    with pytest.raises(StorageError) as raised:
        open_storage(f"grpc://127.0.0.1:{free_port()}")
    assert "no storage proxy answers" in one_line(raised.value)
    assert "ressearch storage-proxy" in str(raised.value)
    assert time.monotonic() - started < 30


def test_the_proxy_refuses_to_serve_a_proxy():
    message = user_error("storage-proxy", "--storage", "grpc://127.0.0.1:13000")
    assert "not another proxy" in message


@pytest.mark.slow
def test_a_worker_through_the_proxy_runs_the_study_to_its_total(proxy, storage_url, write_study, unique_name):
    path = write_study(tiny_study(unique_name, study={"n_trials": 3, "pruner": "none"}))
    ran = subprocess.run(
        [*RESSEARCH, "worker", str(path), "--storage", proxy, "--index", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    # Read back from the database itself, not through the proxy.
    study = optuna.load_study(study_name=unique_name, storage=storage_url)
    assert [trial.state for trial in study.trials] == [TrialState.COMPLETE] * 3
    for trial in study.trials:
        assert HEARTBEAT_ATTR in trial.system_attrs  # the worker beat through the proxy
        assert TrialRecord.from_trial(trial).metrics["val_accuracy"] > 0


def test_a_trial_silent_through_the_proxy_is_failed_and_retried(proxy, unique_name):
    storage = open_storage(proxy)
    assert isinstance(storage, OutageTolerantProxy)
    study = optuna.create_study(study_name=unique_name, storage=storage, direction="maximize")
    silent = study.ask({"width": optuna.distributions.IntDistribution(4, 16)})
    beating = study.ask({"width": optuna.distributions.IntDistribution(4, 16)})
    storage.set_trial_system_attr(silent._trial_id, HEARTBEAT_ATTR, time.time() - 100)
    storage.set_trial_system_attr(beating._trial_id, HEARTBEAT_ATTR, time.time())
    assert fail_silent_trials(study, 60, StaleTrialRetry(3)) == [silent.number]
    states = {trial.number: trial.state for trial in study.get_trials(deepcopy=False)}
    assert states[silent.number] == TrialState.FAIL
    assert states[beating.number] == TrialState.RUNNING
    retry = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    assert [trial.params for trial in retry] == [silent.params]
    assert fail_silent_trials(study, 60, StaleTrialRetry(3)) == []  # once only
