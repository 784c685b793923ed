"""Storage faults at the terminal: one line naming the storage, exit code 4, nothing left RUNNING
for good, and nothing created by a command that only looks.

Real parts: an immutable SQLite file (`chattr +i`, as root ignores file modes), a PostgreSQL
cluster of the test's own stopped in the middle of a run, commands in empty folders.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from ressearch.search import TrialRecord
from ressearch.search.record import RETRIED_REASON
from ressearch.storage import load_study, open_storage
from tests.helpers import OwnCluster, cli, free_port, one_line, own_postgres_cluster, tiny_study, wait_for
from tests.search.helpers import RESSEARCH

EXIT_STORAGE_UNAVAILABLE = 4


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Path]:
    """An SQLite database with a study in it, made immutable; writable again at the end."""
    import optuna

    path = tmp_path / "frozen.db"
    optuna.create_study(study_name="kept", storage=open_storage(f"sqlite:///{path}", heartbeat=False))
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_database_that_cannot_be_written_is_one_line_and_exit_4(immutable, write_study):
    before = immutable.read_bytes()
    result = cli("run", write_study(tiny_study("frozen")), "--storage", f"sqlite:///{immutable}")
    assert result.exit_code == EXIT_STORAGE_UNAVAILABLE, result.output
    line = one_line(result.stderr)
    assert line == (
        f"error: storage: the database file {immutable} cannot be written (read-only or immutable); "
        "make it writable, or pass --storage sqlite:///PATH.db for a database elsewhere"
    )
    assert immutable.read_bytes() == before
    # Reading it still works.
    listed = cli("studies", "--storage", f"sqlite:///{immutable}", "--format", "csv")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[1].startswith("kept,")


@pytest.mark.parametrize(
    "command",
    [
        ["studies"],
        ["trials", "quickstart"],
        ["best", "quickstart"],
        ["export", "quickstart", "--out", "exported"],
        ["report", "quickstart", "--out", "report"],
        ["ablate", "quickstart"],
        ["dashboard", "--port", str(free_port())],
    ],
    ids=lambda command: command[0],
)
@pytest.mark.parametrize("given", [False, True], ids=["default", "--storage"])
def test_looking_creates_nothing(command, given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RESSEARCH_STORAGE", raising=False)
    monkeypatch.delenv("RESSEARCH_ARTIFACTS", raising=False)
    storage = ["--storage", "sqlite:///typo.db"] if given else []
    result = cli(*command, *storage)
    assert result.exit_code == 2, result.output
    database = tmp_path / ("typo.db" if given else "ressearch.db")
    assert one_line(result.stderr) == (
        f"error: storage: no database at {database}; run a study first, or pass --storage (or set "
        "RESSEARCH_STORAGE) to the database that holds it"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[OwnCluster]:
    with own_postgres_cluster("ressearch-outage") as cluster:
        yield cluster


@pytest.mark.slow
@pytest.mark.postgres
def test_a_storage_gone_longer_than_the_study_waits_ends_the_run_in_one_line(
    own_cluster, write_study, unique_name
):
    """The server stops mid-trial for longer than ``study.storage_timeout``: the run waits that
    long, then exits 4 with one line; the trial it could not end is ended by the next run, which
    retries it from its checkpoint."""
    study = tiny_study(
        unique_name,
        study={"n_trials": 2, "pruner": "none", "grace_period": 20, "storage_timeout": 5},
        train={"epochs": 40},
    )
    path = write_study(study)
    run = subprocess.Popen(
        [*RESSEARCH, "run", str(path), "--storage", own_cluster.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def training() -> bool:
            try:
                trials = load_study(unique_name, own_cluster.url).get_trials(deepcopy=False)
            except Exception:  # not created yet
                return False
            return any(trial.state == TrialState.RUNNING and trial.intermediate_values for trial in trials)

        wait_for(training, 180, "a trial to train an epoch")
        own_cluster.ctl("stop")
        _, err = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        own_cluster.ctl("start")
    assert run.returncode == EXIT_STORAGE_UNAVAILABLE, err[-3000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: storage: postgresql+psycopg://postgres@127.0.0.1:"), last
    assert (
        "did not answer for 5 s (study.storage_timeout); run the same command again once it is back" in last
    )
    assert (
        "stays RUNNING until then, and the next run fails it and retries it from its last checkpoint" in last
    )
    left = int(last.split(": trial ")[1].split()[0])
    trial = load_study(unique_name, own_cluster.url).trials[left]
    assert trial.state == TrialState.RUNNING  # no process could tell the database otherwise

    again = cli("run", path, "--storage", own_cluster.url)
    assert again.exit_code == 0, again.output
    trials = load_study(unique_name, own_cluster.url).trials
    assert not [trial for trial in trials if trial.state == TrialState.RUNNING]
    assert trials[left].state == TrialState.FAIL
    assert TrialRecord.from_trial(trials[left]).fail_reason == RETRIED_REASON
    (retry,) = [
        trial for trial in trials if RetryHeartbeatStaleTrialCallback.retried_trial_number(trial) == left
    ]
    assert retry.state == TrialState.COMPLETE and retry.params == trials[left].params
    assert (TrialRecord.from_trial(retry).resumed_from or 0) >= 1  # its checkpoint was continued
