"""`ressearch run --workers N`: real worker processes on one SQLite study, one killed with -9.

The study ends with exactly its total, each trial on the GPU its worker was given (the device
assignment is what each process saw in its environment: no GPU exists here), the killed worker
is restarted, and its trial is retried from its checkpoint, losing at most one epoch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from optuna.trial import TrialState

from ressearch.search import TrialRecord, finished_trials
from ressearch.search.retry import chain_number
from ressearch.storage import load_study
from tests.helpers import stored_measurements, tiny_study, wait_for
from tests.search.helpers import RESSEARCH, running_trials

pytestmark = pytest.mark.slow

EPOCHS = 12


def _checkpoints(folder: Path) -> dict[int, int]:
    """Trial number -> epochs checkpointed, for each trial with a checkpoint now."""
    found = {}
    for state in folder.glob("trial-*/state.json"):
        try:
            found[int(state.parent.name.removeprefix("trial-"))] = json.loads(state.read_text())["epochs"]
        except (OSError, ValueError, KeyError):
            continue
    return found


def test_four_workers_finish_exactly_and_a_killed_one_costs_at_most_an_epoch(
    write_study, unique_name, tmp_path
):
    storage = f"sqlite:///{tmp_path / 'workers.db'}"
    target = 5
    path = write_study(
        tiny_study(unique_name, study={"n_trials": target, "pruner": "none"}, train={"epochs": EPOCHS})
    )
    artifacts = Path(os.environ["RESSEARCH_ARTIFACTS"])
    checkpoints = artifacts / "checkpoints" / unique_name
    supervisor = subprocess.Popen(
        [
            *RESSEARCH,
            "run",
            str(path),
            "--storage",
            storage,
            "--workers",
            "4",
            "--gpus",
            "0,1",
            "--trials-per-gpu",
            "2",
            "--recycle-after",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # A worker's trial with two epochs saved: kill that worker's process, as the OOM killer would.
        def victim() -> tuple[int, int, int] | None:
            saved = {number: epochs for number, epochs in _checkpoints(checkpoints).items() if epochs >= 2}
            for trial in running_trials(unique_name, storage):
                worker = TrialRecord.from_trial(trial).worker
                if trial.number in saved and worker:
                    return trial.number, int(worker.rpartition(":")[2]), saved[trial.number]
            return None

        number, pid, saved = wait_for(victim, 240, "a running trial with two checkpointed epochs")
        os.kill(pid, signal.SIGKILL)
        stdout, stderr = supervisor.communicate(timeout=420)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    assert supervisor.returncode == 0, stderr[-3000:]
    assert f"{target}/{target} trials" in stdout
    assert "exited with code -9: restarting" in stderr
    assert "code 3" not in stderr  # a recycled worker (its 2 trials run) is replaced, not "restarted"

    study = load_study(unique_name, storage)
    assert not running_trials(unique_name, storage)
    assert len(finished_trials(study)) == target  # exactly the total, though workers raced for it
    assert not [t for t in study.trials if "locked" in (TrialRecord.from_trial(t).fail_reason or "")]
    killed = study.trials[number]
    assert killed.state == TrialState.FAIL
    chained = [trial for trial in study.trials if trial.number != number and chain_number(trial) == number]
    assert len(chained) == 1, [
        (t.number, t.state.name, TrialRecord.from_trial(t).fail_reason, TrialRecord.from_trial(t).surplus)
        for t in study.trials
    ]
    (retry,) = chained
    record = TrialRecord.from_trial(retry)
    assert retry.state == TrialState.COMPLETE and retry.params == killed.params
    assert record.resumed_from is not None and record.resumed_from >= saved
    assert len(stored_measurements(study, retry).curve["loss"]) == EPOCHS

    # Each worker saw the GPU its index was given (round robin over 0,1); several workers ran trials.
    # (A surplus trial, started as the last slot was taken, ends before it records anything.)
    for trial in study.trials:
        record = TrialRecord.from_trial(trial)
        assert record.surplus or record.devices in ("0", "1"), record
    assert len({TrialRecord.from_trial(trial).worker for trial in study.trials}) >= 3


def test_a_workers_exit_is_handled_at_once_not_at_the_next_look(write_study, unique_name, tmp_path):
    """The supervisor reads the storage once a ``poll_s`` (here ten minutes) and checks its
    workers' processes in between: when the one worker ends with the study done, it returns
    then. (It waited for its next look: up to ``poll_s`` at the end of every study.)"""
    storage = f"sqlite:///{tmp_path / 'look.db'}"
    path = write_study(tiny_study(unique_name, study={"n_trials": 1, "pruner": "none"}, train={"epochs": 1}))
    code = (
        "import sys; from pathlib import Path;"
        "from ressearch.config.files import load_study_file; from ressearch.search.runner import prepare;"
        "from ressearch.workers import Supervisor, plan_workers;"
        "path, storage, folder = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]);"
        "definition = load_study_file(path);"
        "prepared = prepare(definition, storage=storage, artifacts=folder / 'models');"
        "result = Supervisor(path, name=definition.settings.name, target=1, storage=storage,"
        " artifacts=prepared.artifacts, plans=plan_workers(1), log_dir=folder / 'logs', poll_s=600).run();"
        "print('error:', result.error, 'interrupted:', result.interrupted)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), storage, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,  # a supervisor that waits for its next look would take 600 s
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "error: None interrupted: False" in done.stdout
    assert len(finished_trials(load_study(unique_name, storage))) == 1
