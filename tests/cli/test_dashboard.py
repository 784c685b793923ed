"""`ressearch dashboard` on a study that workers are writing: it reads, they write, nothing breaks.

(What a person sees in it, the trials, their curves and the models, is the browser test's.)"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from ressearch.storage import load_study
from tests.helpers import free_port, tiny_study, wait_for
from tests.search.helpers import RESSEARCH

pytestmark = pytest.mark.slow


def test_the_dashboard_reading_a_running_study_breaks_nothing(write_study, unique_name, tmp_path: Path):
    """optuna-dashboard #545: a dashboard on the same SQLite file while 2 workers write to it."""
    storage = f"sqlite:///{tmp_path / 'live.db'}"
    path = write_study(tiny_study(unique_name, study={"n_trials": 2, "pruner": "none"}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run = subprocess.Popen(
        [*RESSEARCH, "run", str(path), "--storage", storage, "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The study exists once the supervisor has prepared it: then the dashboard starts reading.
    wait_for(lambda: (tmp_path / "live.db").exists() or run.poll() is not None, 120, "the study file")
    dashboard = subprocess.Popen(
        [*RESSEARCH, "dashboard", "--storage", storage, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers = 0
    try:
        while run.poll() is None:  # read the study, its trials included, as fast as it answers
            try:
                with urllib.request.urlopen(base + "/api/studies", timeout=5) as response:
                    for summary in json.loads(response.read())["study_summaries"]:
                        with urllib.request.urlopen(
                            f"{base}/api/studies/{summary['study_id']}", timeout=5
                        ) as detail:
                            assert detail.status == 200
                            answers += 1
            except OSError:
                continue  # not listening yet
        _, err = run.communicate(timeout=300)
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=30)
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err[-3000:]
    assert answers > 0
    study = load_study(unique_name, storage)
    assert [trial.state.name for trial in study.trials] == ["COMPLETE"] * 2
    assert not any("locked" in str(trial.user_attrs) for trial in study.trials)
