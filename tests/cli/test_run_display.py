"""What `ressearch run` shows: JSON events, plain lines off a terminal, `--quiet`, and a live
display in a real pseudo-terminal; `run --workers` tells the same trials from the storage.

Real tiny studies (digits, a few hundred rows) on SQLite files.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from ressearch.cli.display import PlainDisplay, trial_line
from ressearch.search import EpochEvent, TrialEvent, TrialRecord, finished_trials
from ressearch.storage import load_study
from ressearch.workers.devices import cpu_count
from tests.helpers import cli, tiny_study, user_error
from tests.search.helpers import RESSEARCH

ANSI = "\x1b["


def _events(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line, each one JSON event."""
    lines = stdout.splitlines()
    assert lines, "no events"
    return [json.loads(line) for line in lines]


def _check_order(events: list[dict[str, Any]], name: str) -> dict[int, dict[str, Any]]:
    """run_start first, run_end last; each trial starts, counts its epochs up to the ones it
    trained, then ends. Returns each trial's end event."""
    assert events[0]["event"] == "run_start" and events[-1]["event"] == "run_end"
    assert all(event["study"] == name and event["time"].endswith("Z") for event in events)
    epoch: dict[int, int] = {}
    ends: dict[int, dict[str, Any]] = {}
    for event in events[1:-1]:
        kind, number = event["event"], event.get("trial")
        if kind == "trial_start":
            assert number not in epoch and number not in ends
            epoch[number] = event["epoch"]
        elif kind == "epoch":
            assert number in epoch and number not in ends, f"epoch of trial {number} before its start"
            assert event["epoch"] == epoch[number] + 1 <= event["epochs"]
            epoch[number] = event["epoch"]
        elif kind == "trial_end":
            assert number in epoch and number not in ends
            assert epoch[number] == event["epochs"]  # every epoch it trained was told
            ends[number] = event
        else:
            assert kind == "worker_restart", f"unexpected event {kind}"
    return ends


def _study_file(write_study, name: str, **sections: Any) -> Path:
    return write_study(tiny_study(name, **sections))


@pytest.mark.slow
def test_json_log_format_is_one_event_per_line_in_order(write_study, unique_name, tmp_path):
    storage = f"sqlite:///{tmp_path / 'json.db'}"
    result = cli("run", _study_file(write_study, unique_name), "--storage", storage, "--log-format", "json")
    assert result.exit_code == 0, result.output
    events = _events(result.stdout)  # nothing but events on stdout
    ends = _check_order(events, unique_name)
    study = load_study(unique_name, storage)
    assert sorted(ends) == [trial.number for trial in finished_trials(study)] == [0, 1]
    assert [e["epoch"] for e in events if e["event"] == "epoch" and e["trial"] == 0] == [1, 2]
    for trial in study.trials:
        end, record = ends[trial.number], TrialRecord.from_trial(trial)
        assert end["state"] == "COMPLETE" and end["values"] == [trial.value]
        assert end["model_params"] == record.model_params > 0
        assert end["architecture"] == record.describe_network() and "conv2d" in end["architecture"]
        assert end["duration"] > 0 and end["epochs"] == 2
    start, run_end = events[0], events[-1]
    assert start["target"] == 2 and start["metrics"] == ["val_accuracy"] and start["data"]["n_val"] == 100
    assert (
        run_end["state"] == "done" and run_end["done"] == 2 and run_end["best_values"] == [study.best_value]
    )
    assert "val_accuracy" in events[2]["metrics"] and "loss" in events[2]["metrics"]
    assert ANSI not in result.stderr and "trial 0" not in result.stderr  # no bar, no lines


@pytest.mark.slow
def test_off_a_terminal_the_run_is_plain_lines(write_study, unique_name, tmp_path):
    storage = f"sqlite:///{tmp_path / 'plain.db'}"
    result = cli("run", _study_file(write_study, unique_name), "--storage", storage)
    assert result.exit_code == 0, result.output
    assert ANSI not in result.stderr and ANSI not in result.stdout
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"study {unique_name} (created)") and lines[1].startswith(
        "data: builtin:digits"
    )
    for trial in load_study(unique_name, storage).trials:
        record = TrialRecord.from_trial(trial)
        (line,) = [line for line in lines if line.startswith(f"trial {trial.number} ")]
        assert line.startswith(
            f"trial {trial.number} complete: {trial.value:.4g}  {record.describe_network()}  "
        )
        assert f"  {record.model_params:,} params  " in line and re.search(r"  \d+s$", line)
    assert result.stdout.splitlines()[0].startswith(f"{unique_name}: done, 2/2 trials")


@pytest.mark.slow
def test_quiet_prints_only_the_summary(write_study, unique_name, tmp_path):
    storage = f"sqlite:///{tmp_path / 'quiet.db'}"
    path = _study_file(write_study, unique_name, study={"n_trials": 1})
    result = cli("run", path, "--storage", storage, "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    summary, best = result.stdout.splitlines()
    assert summary.startswith(f"{unique_name}: done, 1/1 trials") and best.startswith("best: trial 0 = ")


def test_quiet_and_json_clash(write_study):
    assert "--quiet and --log-format json: give one of them" in user_error(
        "run", write_study(), "--quiet", "--log-format", "json"
    )
    assert "'xml' is not one of 'text', 'json'" in user_error("worker", write_study(), "--log-format", "xml")


def test_plain_epoch_lines_come_at_most_every_interval(capsys):
    now = [0.0]
    display = PlainDisplay(every_s=30.0, clock=lambda: now[0])
    display.metrics = ("val_accuracy",)
    display.epoch(EpochEvent(3, 0, 4, {}, 0.0))
    for epoch, at in ((1, 10.0), (2, 41.0), (3, 60.0), (4, 75.0)):  # a line at 41 s, and at 75 s
        now[0] = at
        display.epoch(EpochEvent(3, epoch, 4, {"loss": 1.5, "val_accuracy": 0.5 + epoch / 10}, at))
    display.trial(TrialEvent(3, "FAIL", None, "loss is NaN", 1, 4, None, 80.0, duration=80.0))
    assert capsys.readouterr().err.splitlines() == [
        "trial 3  epoch 2/4  val_accuracy 0.7  41s",
        "trial 3  epoch 4/4  val_accuracy 0.9  1m15s",
        "trial 3 failed: loss is NaN  1m20s",
    ]


def test_the_finished_trial_line_says_what_each_state_needs():
    event = TrialEvent(7, "COMPLETE", [0.94123], None, 1, 2, [0.94123], 14.0, 12345, "basic conv2d", 14.2)
    assert trial_line(event) == "trial 7 complete: 0.9412  basic conv2d  12,345 params  14s"
    pruned = TrialEvent(8, "PRUNED", [0.5], None, 2, 2, None, 20.0, 200, "plain dense", 6.0)
    assert trial_line(pruned) == "trial 8 pruned (last reported 0.5)  plain dense  200 params  6s"


def _read_terminal(master: int, process: subprocess.Popen[bytes], timeout: float) -> str:
    """Everything the process writes to its terminal until it exits."""
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    else:
        process.kill()
        pytest.fail("the run did not end in time")
    process.wait(timeout=30)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_a_terminal_shows_the_running_trial_live(write_study, unique_name, tmp_path):
    path = _study_file(write_study, unique_name, study={"n_trials": 1}, train={"epochs": 3})
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {key: value for key, value in os.environ.items() if key not in ("TTY_COMPATIBLE", "FORCE_COLOR")}
    process = subprocess.Popen(
        [*RESSEARCH, "run", str(path), "--storage", f"sqlite:///{tmp_path / 'live.db'}"],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "160"},
    )
    os.close(terminal)
    try:
        screen = _read_terminal(master, process, timeout=540)
    finally:
        os.close(master)
    assert process.returncode == 0, screen[-3000:]
    assert ANSI in screen  # a live region, redrawn in place
    # The running trial's line, drawn at each epoch while the trial trains.
    for epoch in (1, 2):
        assert re.search(rf"trial 0  epoch {epoch}/3  val_accuracy [0-9.]+  \d+s", screen), screen[-3000:]
    assert "trial 0 complete: " in screen and f"{unique_name}: done, 1/1 trials" in screen


@pytest.mark.slow
def test_workers_emit_json_events_for_every_trial(write_study, unique_name, tmp_path):
    storage = f"sqlite:///{tmp_path / 'workers.db'}"
    path = _study_file(write_study, unique_name, study={"n_trials": 3, "pruner": "none"})
    process = subprocess.run(
        [*RESSEARCH, "run", str(path), "--storage", storage, "--workers", "2", "--log-format", "json"],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    events = _events(process.stdout)
    ends = _check_order(events, unique_name)
    study = load_study(unique_name, storage)
    assert sorted(ends) == sorted(trial.number for trial in finished_trials(study))
    assert len(ends) == 3
    for number, end in ends.items():
        record = TrialRecord.from_trial(study.trials[number])
        assert end["model_params"] == record.model_params and end["architecture"] == record.describe_network()
    assert events[0]["workers"] == 2 and events[-1]["done"] == 3
    # No GPU here: the two workers split the cores, and each trial ran with its worker's share.
    threads = max(1, cpu_count() // 2)
    assert events[0]["threads"] == threads
    assert {TrialRecord.from_trial(trial).threads for trial in finished_trials(study)} == {threads}
    # The workers' own logs stay text: their lines, not events.
    logs = list(Path(events[0]["logs"]).glob("worker-*.log"))
    assert logs and any("complete: " in log.read_text() for log in logs)
    assert not any('"event"' in log.read_text() for log in logs)


@pytest.mark.slow
def test_the_data_line_counts_dropped_and_imputed_rows_as_metrics_json_does(
    write_study, unique_name, tmp_path
):
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["species"] = [("setosa", "versicolor", "virginica")[code] for code in frame.pop("target")]
    frame["species"] = frame["species"].astype(object)
    frame.loc[[3, 50, 120], "species"] = None  # no label: dropped
    frame.loc[[5, 6, 7], "petal length (cm)"] = None  # imputed
    frame.loc[[9], "sepal width (cm)"] = None
    frame.to_csv(tmp_path / "iris.csv", index=False)
    study = tiny_study(unique_name, study={"n_trials": 1}, train={"epochs": 1})
    study["data"] = {"source": "csv:iris.csv", "target": "species"}
    study["space"] = {"block_type": "basic", "stages": 1, "depth": 1, "width": 8}
    storage = f"sqlite:///{tmp_path / 'gaps.db'}"
    result = cli("run", write_study(study), "--storage", storage)
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("data: ")]
    assert line.endswith(
        "-> 117 train / 30 validation rows, input (4,), task classification; "
        "3 rows dropped (missing target); 4 values imputed (sepal width (cm) 1, petal length (cm) 3)"
    ), line
    exported = cli("export", unique_name, "--storage", storage, "--out", tmp_path / "export")
    assert exported.exit_code == 0, exported.output
    summary = json.loads((tmp_path / "export" / "metrics.json").read_text())["data_summary"]
    assert summary["rows_dropped"] == {"missing_target": 3}
    assert summary["imputed"] == {"sepal width (cm)": 1, "petal length (cm)": 3}
    assert summary["rows_loaded"] - summary["rows_used"] == 3
