"""Counts that agree and resumes that say what they do, through real `ressearch` processes.

A real `ressearch run` stopped by a real SIGINT mid-trial tells what the next run does with the
trial, and the next run does exactly that; after it, `run`'s summary, `studies` and `best`
give the same counts; a run on the finished study says so in one line without loading the
data or TensorFlow.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ressearch.config.files import load_study_file
from ressearch.config.warmstart import parse_warm_start
from ressearch.search import TrialRecord
from ressearch.search.objective import checkpoint_folder
from ressearch.search.record import INTERRUPTED_REASON
from ressearch.search.resume import finished_study
from ressearch.storage import load_study
from tests.helpers import tiny_study, wait_for
from tests.search.helpers import RESSEARCH, checkpointed_epochs, start_run

pytestmark = pytest.mark.slow

EPOCHS = 30
STOPPED = re.compile(
    r"^trial 0 stopped in epoch (\d+)/30: the next run continues it as trial 1 from its checkpoint "
    r"\((\d+)/30 epochs kept\)$",
    re.MULTILINE,
)
SUMMARY = re.compile(
    r"^(?P<name>\S+): done, (?P<counted>\d+)/(?P<target>\d+) trials \((?P<complete>\d+) complete, "
    r"(?P<pruned>\d+) pruned, (?P<failed>\d+) failed; (?P<not_counted>\d+) more not counted",
    re.MULTILINE,
)


def _ressearch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RESSEARCH, *args], capture_output=True, text=True, timeout=600)


def test_interrupt_rerun_counts_agree_and_a_finished_study_is_one_line(write_study, unique_name, tmp_path):
    storage = f"sqlite:///{tmp_path / 'counts.db'}"
    path = write_study(tiny_study(unique_name, study={"n_trials": 1}, train={"epochs": EPOCHS}))
    checkpoint = checkpoint_folder(Path(os.environ["RESSEARCH_ARTIFACTS"]), unique_name, 0)
    process = start_run(path, storage)
    try:
        wait_for(lambda: checkpointed_epochs(checkpoint) >= 2, 300, "two checkpointed epochs")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr
    # What the interrupted run promised: the epoch it stopped in, the epochs its retry keeps.
    stopped = STOPPED.search(stdout)
    assert stopped, stdout
    kept = int(stopped.group(2))
    assert int(stopped.group(1)) == kept + 1 and kept >= 2
    assert "0/1 trials (0 complete, 0 pruned, 0 failed; 1 more not counted" in stdout
    first = load_study(unique_name, storage).trials[0]
    assert TrialRecord.from_trial(first).fail_reason == INTERRUPTED_REASON

    rerun = _ressearch("run", str(path), "--storage", storage)
    assert rerun.returncode == 0, rerun.stderr
    study = load_study(unique_name, storage)
    retry = study.trials[1]
    assert TrialRecord.from_trial(retry).resumed_from == kept  # it did what it was said it would
    assert retry.params == first.params

    # One set of counts: run's summary, `studies` (from the database) and `best`.
    summary = SUMMARY.search(rerun.stdout)
    assert summary, rerun.stdout
    told = {key: int(value) for key, value in summary.groupdict().items() if key != "name"}
    assert told == {"counted": 1, "target": 1, "complete": 1, "pruned": 0, "failed": 0, "not_counted": 1}
    listed = json.loads(_ressearch("studies", "--storage", storage, "--json").stdout)
    row = next(row for row in listed if row["name"] == unique_name)
    assert {key: row[key] for key in ("complete", "pruned", "failed", "not_counted", "target")} == {
        key: told[key] for key in ("complete", "pruned", "failed", "not_counted", "target")
    }
    assert row["trials"] == told["counted"]
    best = json.loads(_ressearch("best", unique_name, "--storage", storage, "--json").stdout)
    assert best["counts"]["counted"] == told["counted"] and best["counts"]["not_counted"] == 1
    best_table = _ressearch("best", unique_name, "--storage", storage).stdout
    assert f"{unique_name}: 1/1 trials (1 complete, 0 pruned, 0 failed; 1 more not counted" in best_table

    # Finished: one line, exit 0, whatever the display; --log-format json: one event.
    expected = f"{unique_name}: 1/1 trials, nothing left to do; best #1 val_accuracy "
    for extra in ([], ["--quiet"], ["--workers", "2"]):
        again = _ressearch("run", str(path), "--storage", storage, *extra)
        assert again.returncode == 0 and again.stderr == "", again.stderr
        assert len(again.stdout.splitlines()) == 1 and again.stdout.startswith(expected), again.stdout
    worker = _ressearch("worker", str(path), "--storage", storage)
    assert worker.returncode == 0 and worker.stdout.startswith(expected), worker.stderr
    events = _ressearch("run", str(path), "--storage", storage, "--log-format", "json").stdout.splitlines()
    assert len(events) == 1
    event = json.loads(events[0])
    assert event["event"] == "run_end" and event["nothing_to_do"] is True and event["state"] == "done"
    assert (event["done"], event["target"], event["not_counted"]) == (1, 1, 1)

    # Without data or TensorFlow: the same command in a process that then lists what it imported.
    probe = (
        "import sys\n"
        "from ressearch.cli import main\n"
        f"sys.argv = ['ressearch', 'run', {str(path)!r}, '--storage', {storage!r}]\n"
        "try:\n    main()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'pandas') if m in sys.modules)\n"
        "print('imported:', heavy)\n"
    )
    probed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert probed.returncode == 0, probed.stderr
    assert probed.stdout.splitlines() == [again.stdout.strip(), "imported: []"], probed.stdout

    # Not finished where a run still has something to do: a raised total, a warm start to check.
    definition = load_study_file(path)
    assert finished_study(definition, storage) is not None
    assert finished_study(definition.with_overrides(n_trials=2), storage) is None
    preset = parse_warm_start("resnet20", where="--enqueue")
    assert finished_study(definition.with_warm_starts((preset,)), storage) is None
