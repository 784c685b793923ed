"""Warm starts end to end: a real tiny study seeded with an export (``warm_start:``) and the top
trials of another study (``--enqueue study:NAME:2``), then resumed, on SQLite and PostgreSQL.

The export is of the other study's best trial, so ``study:OTHER:2`` adds only its second best:
the same params are never queued twice.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass

import pytest
import yaml
from optuna.trial import TrialState

from ressearch.search import TrialRecord
from ressearch.storage import load_study
from tests.helpers import cli, stored_config, tiny_study

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Seeded:
    name: str
    other: str
    storage: str
    stderr: list[str]  # of the seeded run and of its resume


def _study_file(folder, name, **extra):
    study = tiny_study(name, study={"n_trials": 2, "pruner": "none"}, train={"epochs": 1})
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**study, **extra}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def seeded(module_storage_url, tmp_path_factory) -> Seeded:
    folder = tmp_path_factory.mktemp("warm")
    storage, artifacts = module_storage_url, folder / "artifacts"
    name = f"t-{uuid.uuid4().hex[:8]}"
    other = f"{name}-other"
    result = cli("run", _study_file(folder, other), "--storage", storage, "--artifacts", artifacts)
    assert result.exit_code == 0, result.output
    result = cli("export", other, "--out", folder / "export", "--storage", storage)
    assert result.exit_code == 0, result.output
    path = _study_file(folder, name, warm_start=["export/config.json"])  # relative to the study file
    stderr = []
    for extra in ([], ["--n-trials", "3"]):
        run = ["run", path, "--storage", storage, "--artifacts", artifacts, "--enqueue", f"study:{other}:2"]
        result = cli(*run, *extra)
        assert result.exit_code == 0, result.output
        stderr.append(result.stderr)
    return Seeded(name, other, storage, stderr)


def _best_first(study):
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    return sorted(trials, key=lambda trial: (-trial.value, trial.number))


def test_the_first_trials_have_the_warm_start_architectures(seeded):
    other_study = load_study(seeded.other, seeded.storage)
    other = _best_first(other_study)
    records = [stored_config(other_study, trial) for trial in other]
    assert records[0] != records[1]
    study = load_study(seeded.name, seeded.storage)
    trials = study.trials
    started = [TrialRecord.from_trial(trial) for trial in trials]
    # The export is the other study's best: its copy in study:OTHER:2 is not queued again.
    assert [record.warm_start for record in started] == [
        "export/config.json",
        f"study:{seeded.other}#{other[1].number}",
        None,
    ]
    for trial, source in zip(trials[:2], records[:2], strict=True):
        assert stored_config(study, trial) == source
    assert trials[1].params == other[1].params  # the same spaces: the other trial's own params
    assert all(trial.state == TrialState.COMPLETE for trial in trials)  # retrained, not copied
    assert (
        f"warm starts enqueued (2): export/config.json, study:{seeded.other}#{other[1].number}"
        in (seeded.stderr[0])
    )


def test_resuming_does_not_enqueue_again(seeded):
    assert "warm starts enqueued" not in seeded.stderr[1]
    trials = load_study(seeded.name, seeded.storage).trials
    assert len(trials) == 3
    assert sum(TrialRecord.from_trial(trial).warm_start is not None for trial in trials) == 2


def test_trials_show_the_warm_start_of_each_trial(seeded):
    result = cli("trials", seeded.name, "--storage", seeded.storage, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["warm_start"] for row in rows][:2] == ["export/config.json", rows[1]["warm_start"]]
    assert rows[1]["warm_start"].startswith(f"study:{seeded.other}#") and rows[2]["warm_start"] == ""
    table = cli("trials", seeded.name, "--storage", seeded.storage).stdout
    assert "warm_start" in table.splitlines()[1]  # a column of its own, kept at 80 columns
