"""Creating, resuming and running studies with prepare, optimize and summarize used alone."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from ressearch import DataError
from ressearch.config import parse_study
from ressearch.search import StudyMeta, TrialRecord, finished_trials, optimize, prepare, summarize
from ressearch.storage.studies import study_names
from ressearch.storage.urls import open_storage
from tests.helpers import one_line, tiny_study

# prepare() opens the storage with heartbeats, for optimize(); a few tests here drive trials by
# hand with ask and tell, which Optuna warns about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Heartbeat of storage is supposed to be used with Study.optimize"
)

# Dense rows and one small block: a trial trains in a second or two.
FAST = {
    "data": {"flatten": True, "max_rows": 300},
    "space": {"block_type": ["basic"], "width": 8},
    "train": {"epochs": 1},
}


def definition(name, **sections):
    merged = {
        section: {**FAST.get(section, {}), **sections.get(section, {})} for section in {*FAST, *sections}
    }
    return parse_study(tiny_study(name, **merged))


def test_prepare_alone_creates_the_study_and_its_metadata(storage_url, unique_name, tmp_path):
    study_file = definition(unique_name)
    prepared = prepare(study_file, storage=storage_url, artifacts=tmp_path / "models")
    assert prepared.created and prepared.done_before == 0
    assert prepared.artifacts == (tmp_path / "models").resolve()
    assert prepared.dataset.input_shape == (64,) and prepared.dataset.summary["rows_used"] == 300
    assert "password" not in prepared.storage

    study = optuna.load_study(study_name=unique_name, storage=open_storage(storage_url, heartbeat=False))
    assert study.trials == [] and study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.metric_names == ["val_accuracy"]
    meta = StudyMeta.from_study(study)
    assert meta.study_definition() == study_file
    assert meta.artifacts == str((tmp_path / "models").resolve())
    assert meta.data == prepared.dataset.summary
    assert meta.class_names == [str(digit) for digit in range(10)]
    assert isinstance(prepared.study.sampler, optuna.samplers.RandomSampler)
    start = prepared.start_event()
    assert (start.name, start.target, start.done, start.created) == (unique_name, 2, 0, True)


def test_preparing_a_study_of_rows_leaves_tensorflow_unimported(tmp_path):
    """``run --workers`` prepares the study in a process that trains nothing: for rows of columns
    (a CSV with a text column, a built-in table) that must not cost TensorFlow's import, which
    held back every worker's start. A fresh interpreter, as the CLI's parent process is."""
    rows = pd.DataFrame({"x": np.arange(60.0), "colour": ["red", "blue", "green"] * 20, "y": [0, 1] * 30})
    rows.to_csv(tmp_path / "rows.csv", index=False)
    csv = tiny_study("rows", data={"source": f"csv:{tmp_path / 'rows.csv'}", "target": "y", "max_rows": None})
    csv["space"] = {"block_type": "basic", "stages": 1, "depth": 1, "width": 8}
    builtin = tiny_study("table", data={"flatten": True})
    code = (
        "import json, sys; from ressearch.config import parse_study; from ressearch.search import prepare\n"
        "for name, document in json.loads(sys.argv[1]).items():\n"
        f"    prepare(parse_study(document), storage='sqlite:///{tmp_path / 'prepared.db'}', "
        f"artifacts='{tmp_path / 'models'}')\n"
        "print(json.dumps(sorted(name for name in ('tensorflow', 'keras') if name in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps({"rows": csv, "table": builtin})],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert set(study_names(open_storage(f"sqlite:///{tmp_path / 'prepared.db'}"))) == {"rows", "table"}


@pytest.mark.slow
def test_optimize_freezes_keras_with_what_lives_as_long_as_the_process(tmp_path):
    """Each trial starts with a full garbage collection (Keras' clear_session); what optimize
    freezes first is skipped by it. Keras and TensorFlow must be among it even for a caller that
    has not imported them (the CLI has): their objects are most of the process's heap. A fresh
    interpreter, as a notebook's first run_study is."""
    document = tiny_study("frozen", **{key: dict(value) for key, value in FAST.items()})
    document["study"]["n_trials"] = 1
    code = (
        "import gc, json, sys\n"
        "from ressearch.config import parse_study; from ressearch.search import run_study\n"
        "seen = []; freeze = gc.freeze\n"
        "def spy():\n"
        "    seen.append('keras' in sys.modules); freeze()\n"
        "gc.freeze = spy\n"
        f"run_study(parse_study(json.loads(sys.argv[1])), storage='sqlite:///{tmp_path / 'f.db'}', "
        f"artifacts='{tmp_path / 'models'}')\n"
        "print(json.dumps(seen))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(document)], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True]


def test_prepare_with_bad_data_writes_nothing(storage_url, unique_name, tmp_path):
    raw = tiny_study(unique_name, data={"source": "csv:missing.csv", "target": "label", "max_rows": None})
    study_file = parse_study(raw, path=tmp_path / "study.yaml")
    with pytest.raises(DataError) as raised:
        prepare(study_file, storage=storage_url)
    assert one_line(raised.value) == f"data.source: csv file {tmp_path / 'missing.csv'} does not exist"
    assert unique_name not in study_names(open_storage(storage_url, heartbeat=False))
    assert not (tmp_path / "artifacts").exists()  # $RESSEARCH_ARTIFACTS in the tests
    assert not (tmp_path / "studies.db.artifacts").exists()


@pytest.mark.slow
def test_optimize_then_summarize_reach_n_trials(storage_url, unique_name, tmp_path):
    prepared = prepare(definition(unique_name), storage=storage_url, artifacts=tmp_path / "models")
    events = []
    assert optimize(prepared, on_trial=events.append) is False
    assert [(event.number, event.done, event.target) for event in events] == [(0, 1, 2), (1, 2, 2)]
    assert all(event.state == "COMPLETE" for event in events)
    summary = summarize(prepared)
    assert (summary.done_before, summary.done, summary.complete, summary.failed) == (0, 2, 2, 0)
    study = prepared.study
    assert summary.best_number == study.best_trial.number
    assert summary.best_values == [study.best_value]
    # The total is reached: a second optimize runs nothing.
    assert optimize(prepared) is False
    assert len(study.trials) == 2


def drive_by_hand(study: optuna.Study) -> None:
    """Trials 0-4: complete, interrupted, failed, pruned, left running."""
    study.tell(study.ask(), 0.5)
    interrupted = study.ask()
    TrialRecord.interruption().write(interrupted)
    study.tell(interrupted, state=TrialState.FAIL)
    failed = study.ask()
    TrialRecord(fail_reason="the training loss became nan at epoch 1").write(failed)
    study.tell(failed, state=TrialState.FAIL)
    study.tell(study.ask(), state=TrialState.PRUNED)
    study.ask()


def test_finished_trials_leave_out_interrupted_and_running_ones(storage_url, unique_name, tmp_path):
    prepared = prepare(definition(unique_name), storage=storage_url, artifacts=tmp_path / "models")
    drive_by_hand(prepared.study)
    assert [trial.number for trial in finished_trials(prepared.study)] == [0, 2, 3]
    summary = summarize(prepared)
    assert (summary.done, summary.complete, summary.failed, summary.pruned) == (3, 1, 1, 1)
    assert (summary.best_number, summary.best_values) == (0, [0.5])


def test_a_second_prepare_resumes_and_counts_only_finished_trials(storage_url, unique_name, tmp_path):
    first = prepare(definition(unique_name), storage=storage_url, artifacts=tmp_path / "models")
    first_file = StudyMeta.from_study(first.study).study_file
    drive_by_hand(first.study)
    # No --artifacts this time: the study's metadata says where its models are.
    again = prepare(definition(unique_name, study={"n_trials": 4}), storage=storage_url)
    assert not again.created and again.done_before == 3
    assert again.artifacts == first.artifacts == (tmp_path / "models").resolve()
    start = again.start_event()
    assert (start.created, start.done, start.target, start.best) == (False, 3, 4, [0.5])
    assert len(again.study.trials) == 5
    meta = StudyMeta.from_study(again.study)
    assert meta.study_definition().settings.n_trials == 4
    assert meta.artifacts == str(first.artifacts)
    # The changed study file replaced the first study.json; a run with the same file writes none.
    assert meta.study_file != first_file and not (first.artifacts / str(first_file)).exists()
    third = prepare(definition(unique_name, study={"n_trials": 4}), storage=storage_url)
    assert StudyMeta.from_study(third.study).study_file == meta.study_file
