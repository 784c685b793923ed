"""Shared test helpers: a tiny real study, one-line errors, the CLI in-process, free ports, waiting."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from click.testing import Result
from typer.testing import CliRunner

T = TypeVar("T")

_runner = CliRunner()


def tiny_study(name: str, **sections: Any) -> dict[str, Any]:
    """A real study that trains in seconds: digits, a few hundred rows, a small conv ResNet."""
    study = {
        "study": {
            "name": name,
            "direction": "maximize",
            "metric": "val_accuracy",
            "sampler": "random",
            "pruner": "median",
            "n_trials": 2,
            "seed": 0,
        },
        "data": {"source": "builtin:digits", "max_rows": 400, "validation_split": 0.25},
        "space": {
            "block_type": ["basic", "preact", "bottleneck", "plain"],
            "stages": 1,
            "depth": 1,
            "width": [4, 8],
            "expansion": 1.0,
        },
        "train": {"epochs": 2, "batch_size": 64, "optimizer": "adam", "learning_rate": 0.01},
    }
    for section, values in sections.items():
        study[section] = {**study.get(section, {}), **values}
    return study


def one_line(error: BaseException | str) -> str:
    """The message of ``error`` (or a captured stderr), asserted to be exactly one line."""
    message = str(error).strip()
    assert message, "expected a message, got nothing"
    assert len(message.splitlines()) == 1, f"expected one line, got:\n{message}"
    assert "Traceback" not in message
    return message


def cli(*args: Any) -> Result:
    """Run the ``ressearch`` command in-process with ``args``."""
    from ressearch.cli import app

    return _runner.invoke(app, [str(arg) for arg in args])


def user_error(*args: Any) -> str:
    """Run a command that must fail as a user mistake: exit code 2 and one line on stderr."""
    result = cli(*args)
    assert result.exit_code == 2, result.output
    return one_line(result.stderr)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], T], timeout: float, what: str) -> T:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


@dataclass(frozen=True)
class OwnCluster:
    """A PostgreSQL cluster of a test's own: stopped, started or restarted without disturbing the
    main server the other tests share."""

    name: str
    version: str
    url: str

    def ctl(self, action: str) -> None:
        """``pg_ctlcluster ... stop|start|restart`` (a stop is the fast one: sessions are ended)."""
        extra = ["-m", "fast"] if action == "stop" else []
        _pg("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action, *extra)


def _pg(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, text=True, timeout=120)


@contextmanager
def own_postgres_cluster(name: str) -> Iterator[OwnCluster]:
    """A fresh PostgreSQL cluster ``name`` on a free port, trust auth, dropped at the end."""
    assert shutil.which("pg_createcluster"), "PostgreSQL's cluster tools are needed (make postgres)"
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_dropcluster", "--stop", version, name], capture_output=True)  # a leftover
    port = free_port()
    _pg("pg_createcluster", version, name, "-p", str(port), "--start", "--", "--auth=trust")
    try:
        yield OwnCluster(name, version, f"postgresql://postgres@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, name], capture_output=True)


def stored_config(study: Any, trial: Any) -> Any:
    """The trial's config.json (a TrialConfig), from the artifact folder its study names."""
    from ressearch.search.record import StudyMeta, TrialRecord

    config = TrialRecord.from_trial(trial).config(StudyMeta.folder_of(study))
    assert config is not None, f"trial {trial.number} stored no config"
    return config


def stored_measurements(study: Any, trial: Any) -> Any:
    """The trial's metrics.json (a TrialMeasurements), from the artifact folder its study names."""
    from ressearch.search.record import StudyMeta, TrialRecord

    return TrialRecord.from_trial(trial).measurements(StudyMeta.folder_of(study))
