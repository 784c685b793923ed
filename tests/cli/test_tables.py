"""The read commands' output at 80 columns, as a person's terminal shows it: real subprocesses of
`ressearch` on a real tiny study with complete, pruned and failed trials.

Tables fit the width and never cut a study name; counts are integers (``1,410`` in tables,
``1410`` in CSV and JSON); a failed trial shows its reason, a pruned one its parameter count;
``trials --sort/--top`` ranks the trials with their sampled params.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import uuid
from dataclasses import dataclass

import pytest
import yaml
from optuna.trial import TrialState
from rich.cells import cell_len

from ressearch.config import load_study_file
from ressearch.search import TrialRecord
from ressearch.search.runner import prepare
from ressearch.storage import load_study
from tests.helpers import one_line, tiny_study
from tests.search.helpers import RESSEARCH

pytestmark = pytest.mark.slow

GOOD, STILL = 0.02, 1e-9  # learning rates: one that learns in two epochs, one that does not
MAX_PARAMS = 3000  # width 8 fits (1,410 parameters), width 16 does not (5,114)


@dataclass(frozen=True)
class Tables:
    name: str
    storage: str


def ressearch(*args: object, columns: int = 80) -> subprocess.CompletedProcess[str]:
    """``ressearch ARGS`` in a process of its own, its terminal ``columns`` wide."""
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [*RESSEARCH, *map(str, args)], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def shown(*args: object, columns: int = 80) -> str:
    """The stdout of a command that must succeed; every line fits ``columns``, nothing is cut."""
    result = ressearch(*args, columns=columns)
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        assert cell_len(line) <= columns, f"{cell_len(line)} > {columns} columns:\n{result.stdout}"
    assert "…" not in result.stdout, result.stdout
    return result.stdout


def printed(*args: object) -> str:
    """The stdout of a command that must succeed (CSV or JSON: no width to fit)."""
    result = ressearch(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def column(table: str, header: str) -> list[str]:
    """The cells of column ``header``, one per row (the first line of each row)."""
    head = next(line for line in table.splitlines() if line.startswith("┃"))
    index = [cell.strip() for cell in head.split("┃")].index(header)
    rows = [line.split("│") for line in table.splitlines() if line.startswith("│ ")]
    return [row[index].strip() for row in rows if row[index].strip()]


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Tables:
    """Five trials in a known order: three that learn, one the median pruner stops after its
    second epoch, one with more parameters than the study allows. The study name is long, so the
    studies table has to give way to it."""
    folder = tmp_path_factory.mktemp("tables")
    name = f"tables-at-eighty-columns-{uuid.uuid4().hex[:8]}"
    storage = f"sqlite:///{folder / 'tables.db'}"
    study = tiny_study(
        name,
        study={"n_trials": 5, "max_params": MAX_PARAMS},
        space={"block_type": "basic", "width": [8, 16]},
        train={"epochs": 3, "batch_size": 32, "learning_rate": [GOOD, STILL]},
    )
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    prepared = prepare(load_study_file(path), storage=storage, artifacts=folder / "artifacts")
    for width, rate in ((8, GOOD), (8, GOOD), (8, GOOD), (8, STILL), (16, GOOD)):
        prepared.study.enqueue_trial({"width": width, "learning_rate": rate})
    ran = ressearch("run", path, "--storage", storage, "--artifacts", folder / "artifacts")
    assert ran.returncode == 0, ran.stderr
    states = [trial.state for trial in load_study(name, storage).trials]
    assert states == [TrialState.COMPLETE] * 3 + [TrialState.PRUNED, TrialState.FAIL], ran.stderr
    return Tables(name, storage)


def _row(table: str, first: str) -> str:
    """The first line of the table row whose first cell is ``first``."""
    (row,) = [line for line in table.splitlines() if line.startswith(f"│ {first} ")]
    return row


def test_studies_fits_80_columns_and_never_cuts_the_name(tables):
    table = shown("studies", "--storage", tables.storage)
    row = _row(table, tables.name)  # whole: the name is typed next
    assert "val_accuracy" in row and " 5/5 " in row  # counted of n_trials
    assert "not shown at 80 columns: started, running" in " ".join(table.split())  # said, not cut
    wide = shown("studies", "--storage", tables.storage, "--wide", columns=200)
    assert all(header in wide for header in ("complete", "pruned", "failed", "running", "started"))


def test_trials_fits_80_columns_with_integer_counts_reasons_and_pruned_sizes(tables):
    study = load_study(tables.name, tables.storage)
    records = [TrialRecord.from_trial(trial) for trial in study.trials]
    table = shown("trials", tables.name, "--storage", tables.storage)
    for trial, record in zip(study.trials, records, strict=True):
        row = _row(table, str(trial.number))
        if trial.state == TrialState.FAIL:
            # It never trained, but it was built: its size is known, and its reason is shown.
            assert record.model_params is not None and record.model_params > MAX_PARAMS
            assert f"{record.model_params:,}" in row
            assert f"trial {trial.number} failed: {record.fail_reason}" in " ".join(table.split())
        else:
            assert record.model_params == 1410 and "│ 1,410 " in row  # the pruned one too
    assert (
        record.fail_reason
        == f"the model has {record.model_params:,} parameters, above study.max_params=3,000"
    )
    pruned = _row(table, "3")
    assert "PRUNED" in pruned and "│ 2 " in pruned  # the epochs it trained, an integer
    # --wide: every column, the reason in the failed trial's row and the sampled params.
    wide = shown("trials", tables.name, "--storage", tables.storage, "--wide", columns=300)
    assert record.fail_reason in _row(wide, "4") and f"learning_rate={STILL:g}" in _row(wide, "3")


def test_csv_and_json_write_counts_as_integers(tables):
    text = printed("trials", tables.name, "--storage", tables.storage, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["model_params"] for row in rows] == ["1410"] * 4 + ["5114"]
    assert [row["epochs"] for row in rows] == ["3", "3", "3", "2", ""]
    assert rows[4]["fail_reason"].startswith("the model has 5,114 parameters")
    data = json.loads(printed("trials", tables.name, "--storage", tables.storage, "--json"))
    assert [row["model_params"] for row in data] == [1410] * 4 + [5114]
    assert all(isinstance(row["model_params"], int) for row in data)
    assert [row["epochs"] for row in data] == [3, 3, 3, 2, None]


def test_top_ranks_the_best_trials_with_their_sampled_params(tables):
    study = load_study(tables.name, tables.storage)
    complete = sorted(
        (trial for trial in study.trials if trial.state == TrialState.COMPLETE),
        key=lambda trial: (-trial.value, trial.number),
    )
    table = shown("trials", tables.name, "--storage", tables.storage, "--top", 2)
    assert column(table, "number") == [str(trial.number) for trial in complete[:2]]
    assert table.count(f"learning_rate={GOOD:g}") == 2 and "width=8" in table
    # Every trial ranked by value: complete ones best first, then the pruned, then the failed.
    ranked = json.loads(
        printed("trials", tables.name, "--storage", tables.storage, "--sort", "value", "--json")
    )
    assert [row["rank"] for row in ranked] == [1, 2, 3, 4, 5]
    assert [row["number"] for row in ranked] == [trial.number for trial in complete] + [3, 4]
    assert ranked[0]["param_learning_rate"] == GOOD


def test_sort_by_duration_and_number(tables):
    by_duration = json.loads(
        printed("trials", tables.name, "--storage", tables.storage, "--sort", "duration", "--json")
    )
    seconds = [row["duration_s"] for row in by_duration]
    assert seconds == sorted(seconds, reverse=True)  # the longest first
    by_number = json.loads(
        printed("trials", tables.name, "--storage", tables.storage, "--sort", "number", "--top", 3, "--json")
    )
    assert [row["number"] for row in by_number] == [0, 1, 2]
    wrong = ressearch("trials", tables.name, "--storage", tables.storage, "--sort", "speed")
    assert wrong.returncode == 2
    assert one_line(wrong.stderr) == "error: --sort: expected one of value, number, duration, got 'speed'"


def test_best_prints_the_parameter_count_as_an_integer(tables):
    text = printed("best", tables.name, "--storage", tables.storage)  # lines, not a table
    assert "1,410 parameters" in text
