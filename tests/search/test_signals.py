"""Real `ressearch run` processes stopped by real signals lose at most one epoch of work.

Ctrl-C (SIGINT) and SIGTERM stop a run cleanly: the trial is requeued and the next run continues
it from its last checkpoint. `kill -9` leaves the trial RUNNING: the next run on this host sees
its worker process is gone, fails it and retries it, and the retry continues the checkpoint too.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from optuna.trial import TrialState

from ressearch.search import TrialRecord, finished_trials
from ressearch.search.objective import checkpoint_folder
from ressearch.search.retry import chain_number
from ressearch.search.runner import superseded
from ressearch.storage import load_study
from tests.helpers import stored_measurements, tiny_study, wait_for
from tests.search.helpers import RESSEARCH, checkpointed_epochs, running_trials, start_run

pytestmark = pytest.mark.slow

# Tiny epochs (0.05-0.1 s each) and a poll every 0.5 s: the signal goes once the checkpoint holds
# two, and must land with epochs still to go. With 12, a run once held all 12 when it landed.
EPOCHS = 48


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["int", "term", "kill"]
)
def test_a_stopped_run_loses_at_most_one_epoch(write_study, unique_name, tmp_path, signum):
    storage = f"sqlite:///{tmp_path / 'signal.db'}"
    path = write_study(tiny_study(unique_name, study={"n_trials": 1}, train={"epochs": EPOCHS}))
    checkpoint = checkpoint_folder(Path(os.environ["RESSEARCH_ARTIFACTS"]), unique_name, 0)
    process = start_run(
        path,
        storage,
        # As a background job would: SIGINT inherited ignored. The run must still stop on it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        saved = wait_for(
            lambda: checkpointed_epochs(checkpoint) >= 2 and checkpointed_epochs(checkpoint),
            180,
            "two checkpointed epochs",
        )
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    study = load_study(unique_name, storage)
    if signum == signal.SIGKILL:
        assert [trial.state for trial in study.trials] == [TrialState.RUNNING]  # nobody could mark it
    else:
        assert process.returncode == 1, stderr
        assert "interrupted" in stdout and "Traceback" not in stderr, (stdout, stderr[-3000:])
        first, retry = study.trials
        assert first.state == TrialState.FAIL and TrialRecord.from_trial(first).is_interrupted
        assert retry.state == TrialState.WAITING and retry.params == first.params
    assert not finished_trials(study)  # nothing counted yet

    rerun = subprocess.run(
        [*RESSEARCH, "run", str(path), "--storage", storage], capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    study = load_study(unique_name, storage)
    assert not running_trials(unique_name, storage)
    first, retry = study.trials
    assert first.state == TrialState.FAIL and first.number in superseded(study.trials)
    assert [trial.number for trial in finished_trials(study)] == [retry.number]
    assert retry.state == TrialState.COMPLETE and chain_number(retry) == first.number
    assert retry.params == first.params
    record = TrialRecord.from_trial(retry)
    # It continued from the checkpoint it had when stopped (or a later one): at most one epoch lost.
    assert record.resumed_from is not None and saved <= record.resumed_from < EPOCHS
    assert record.epochs == len(stored_measurements(study, retry).curve["loss"]) == EPOCHS
    assert sorted(retry.intermediate_values) == list(range(EPOCHS))  # the pruner saw every step
    assert not checkpoint.exists()  # a finished trial's checkpoint is removed
