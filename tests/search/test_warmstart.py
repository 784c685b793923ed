"""Warm starts: entries become enqueued trials once, before anything is written if they cannot."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.trial import TrialState

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.config import parse_study, parse_warm_starts
from ressearch.config.space import ArchitectureSpace, TrainSpace
from ressearch.errors import ConfigError
from ressearch.search import TrialRecord, optimize, prepare
from ressearch.search.space import sample, sample_train
from ressearch.search.warmstart import new_warm_starts, resolve_warm_starts, top_trials
from ressearch.storage.studies import study_names
from ressearch.storage.urls import open_storage
from tests.helpers import one_line, stored_config, tiny_study

pytestmark = pytest.mark.filterwarnings(
    "ignore:Heartbeat of storage is supposed to be used with Study.optimize"
)

DENSE = (64,)  # digits, flattened


def definition(name, tmp_path, warm_start=(), **sections):
    """The tiny study on flattened digits, basic blocks of width 4 or 8, one epoch."""
    fast = {
        "data": {"flatten": True, "max_rows": 300},
        "space": {"block_type": ["basic"]},
        "train": {"epochs": 1},
    }
    for section, values in sections.items():
        fast[section] = {**fast.get(section, {}), **values}
    study = tiny_study(name, **fast)
    study["warm_start"] = list(warm_start)
    return parse_study(study, path=tmp_path / "study.yaml")


def config_file(tmp_path, name, *, width, train=None, depth=1):
    architecture = ArchitectureConfig(input_shape=DENSE, outputs=10, depths=(depth,), widths=(width,))
    content = {"architecture": architecture.to_dict()}
    if train is not None:
        content["train"] = train.to_dict()
    path = tmp_path / name
    path.write_text(json.dumps(content))
    return name


TRAIN = TrainConfig(epochs=1, batch_size=64, optimizer="adam", learning_rate=0.01)


def test_prepare_enqueues_each_entry_once(storage_url, unique_name, tmp_path):
    entries = [
        config_file(tmp_path, "narrow.json", width=4),
        config_file(tmp_path, "wide.json", width=8, train=TRAIN),
    ]
    study_file = definition(unique_name, tmp_path, entries)
    prepared = prepare(study_file, storage=storage_url, artifacts=tmp_path / "models")
    assert [seed.source for seed in prepared.warm_started] == ["narrow.json", "wide.json"]
    assert prepared.start_event().warm_starts == ("narrow.json", "wide.json")
    waiting = prepared.study.get_trials(states=(TrialState.WAITING,))
    # An architecture alone leaves the training keys to the sampler (the train space fixes them all here).
    assert [trial.system_attrs["fixed_params"] for trial in waiting] == [
        {"block_type": "basic", "width": 4},
        {"block_type": "basic", "width": 8},
    ]
    assert [TrialRecord.from_trial(trial).warm_start for trial in waiting] == ["narrow.json", "wide.json"]

    again = prepare(study_file, storage=storage_url)  # a resumed run, or a second worker
    assert again.warm_started == [] and again.start_event().warm_starts == ()
    assert len(again.study.get_trials(states=(TrialState.WAITING,))) == 2


def test_more_warm_starts_than_n_trials_fail_before_the_study_exists(storage_url, unique_name, tmp_path):
    entries = [config_file(tmp_path, "narrow.json", width=4), config_file(tmp_path, "wide.json", width=8)]
    study_file = definition(unique_name, tmp_path, entries, study={"n_trials": 1})
    with pytest.raises(ConfigError) as raised:
        prepare(study_file, storage=storage_url)
    assert one_line(raised.value) == (
        "warm_start: 2 new warm starts to enqueue and 1 free of study.n_trials 1 (warm starts count "
        "towards it); raise n_trials (--n-trials) or drop entries"
    )
    assert unique_name not in study_names(open_storage(storage_url, heartbeat=False))


def test_an_entry_the_space_cannot_express_writes_nothing(storage_url, unique_name, tmp_path):
    entries = ["resnet20"]
    with pytest.raises(ConfigError) as raised:
        prepare(definition(unique_name, tmp_path, entries), storage=storage_url)
    assert one_line(raised.value) == (
        "warm_start[0] resnet20: depths (3, 3, 3) cannot be made by this space: space.stages allows only 1"
    )
    if storage_url.startswith("sqlite"):
        assert not (tmp_path / "studies.db").exists()
    else:
        assert unique_name not in study_names(open_storage(storage_url, heartbeat=False))


def test_an_unknown_study_in_a_new_sqlite_file_creates_no_file(unique_name, tmp_path):
    with pytest.raises(ConfigError) as raised:
        prepare(
            definition(unique_name, tmp_path, ["study:pilot:2"]), storage=f"sqlite:///{tmp_path / 'new.db'}"
        )
    assert (
        one_line(raised.value) == "warm_start[0] study:pilot:2: study 'pilot' is not in the storage: "
        "its SQLite file does not exist yet"
    )
    assert not (tmp_path / "new.db").exists()


def test_a_grid_study_needs_training_settings_with_each_entry(unique_name, tmp_path):
    entry = config_file(tmp_path, "narrow.json", width=4)
    study_file = definition(
        unique_name,
        tmp_path,
        [entry],
        study={"sampler": "grid", "n_trials": 2},
        train={"batch_size": [32, 64]},
    )
    with pytest.raises(ConfigError) as raised:
        prepare(study_file, storage=f"sqlite:///{tmp_path / 'new.db'}")
    assert one_line(raised.value) == (
        "warm_start[0] narrow.json: sampler grid needs every parameter and this entry has no training "
        "settings for train.batch_size; give an exported config.json"
    )


PILOT_SPACE = {"block_type": ["basic", "plain"], "stages": 1, "depth": [1, 2], "width": [4, 8]}
PILOT_TRAIN = {"learning_rate": {"low": 1e-3, "high": 1e-1, "log": True}}
# Objective values and params of a pilot study's trials: the best three are #1, #2 and #0.
PILOT_TRIALS = [
    (0.5, {"block_type": "basic", "depth": 1, "width": 4, "learning_rate": 0.01}),
    (0.9, {"block_type": "plain", "depth": 2, "width": 8, "learning_rate": 0.002}),
    (0.7, {"block_type": "basic", "depth": 2, "width": 4, "learning_rate": 0.05}),
    (0.2, {"block_type": "plain", "depth": 1, "width": 8, "learning_rate": 0.001}),
]


def _pilot(storage, name):
    """A study whose trials store what ressearch stores (and one failed trial)."""
    space, train_space = ArchitectureSpace.from_dict(PILOT_SPACE), TrainSpace.from_dict(PILOT_TRAIN)
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for value, params in PILOT_TRIALS:
        study.enqueue_trial(params)
        trial = study.ask()
        architecture = sample(trial, space, input_shape=DENSE, outputs=10)
        train = sample_train(trial, train_space)
        TrialRecord(architecture=architecture.to_dict(), train=train.to_dict()).write(trial)
        study.tell(trial, value)
    study.tell(study.ask(), state=TrialState.FAIL)
    return study, space, train_space


def test_a_study_entry_is_the_top_k_trials_by_the_objective(storage_url, unique_name):
    storage = open_storage(storage_url, heartbeat=False)
    pilot = f"{unique_name}-pilot"
    study, space, train_space = _pilot(storage, pilot)
    entries = parse_warm_starts([f"study:{pilot}:3"])
    data = {"input_shape": DENSE, "outputs": 10, "storage": storage}
    seeds = resolve_warm_starts(entries, space=space, train_space=train_space, **data)
    assert [seed.source for seed in seeds] == [f"study:{pilot}#1", f"study:{pilot}#2", f"study:{pilot}#0"]
    # With the same spaces an entry's params are the trials' own.
    assert [seed.params for seed in seeds] == [study.trials[number].params for number in (1, 2, 0)]

    with pytest.raises(ConfigError) as raised:
        resolve_warm_starts(entries, space=space, train_space=train_space, study_name=pilot, **data)
    assert one_line(raised.value) == (
        f"warm_start[0] study:{pilot}:3: names this study itself; give another study of the storage"
    )
    basic = ArchitectureSpace.from_dict({**PILOT_SPACE, "block_type": "basic"})
    with pytest.raises(ConfigError) as raised:
        resolve_warm_starts(entries, space=basic, train_space=train_space, **data)
    assert one_line(raised.value) == (
        f"warm_start[0] study:{pilot}:3 (study:{pilot}#1): block_type plain cannot be made by this space: "
        "space.block_type allows only basic"
    )
    empty = f"{unique_name}-empty"
    optuna.create_study(study_name=empty, storage=storage)
    with pytest.raises(ConfigError) as raised:
        resolve_warm_starts(
            parse_warm_starts([f"study:{empty}"]), space=space, train_space=train_space, **data
        )
    assert one_line(raised.value) == f"warm_start[0] study:{empty}: study {empty!r} has no complete trial yet"


@pytest.mark.slow
def test_a_warm_start_enqueued_twice_at_once_runs_once(unique_name, tmp_path):
    # Two workers starting together may both enqueue an entry; the later copy is not run or counted.
    storage = f"sqlite:///{tmp_path / 'race.db'}"
    entry = config_file(tmp_path, "narrow.json", width=4)
    prepared = prepare(
        definition(unique_name, tmp_path, [entry]), storage=storage, artifacts=tmp_path / "models"
    )
    [first] = prepared.study.get_trials(states=(TrialState.WAITING,))
    prepared.study.enqueue_trial(first.system_attrs["fixed_params"], user_attrs=first.user_attrs)  # the race
    assert optimize(prepared) is False
    trials = prepared.study.get_trials()
    records = [TrialRecord.from_trial(trial) for trial in trials]
    assert [trial.state for trial in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert records[1].surplus and records[1].fail_reason.startswith(
        "surplus: a second copy of trial 0's warm start"
    )
    assert [record.warm_start for record in records] == ["narrow.json", "narrow.json", None]
    assert stored_config(prepared.study, trials[0]).architecture["widths"] == [4]


def test_top_trials_of_several_objectives_are_the_pareto_set_by_number():
    study = optuna.create_study(directions=["maximize", "minimize"])
    for values in ([0.9, 500], [0.8, 100], [0.7, 900], [0.95, 800]):  # trial 2 is dominated
        study.tell(study.ask(), values)
    study.tell(study.ask(), state=TrialState.FAIL)
    assert [trial.number for trial in top_trials(study, 5)] == [0, 1, 3]
    assert [trial.number for trial in top_trials(study, 2)] == [0, 1]
    single = optuna.create_study(direction="minimize")
    for value in (0.3, 0.1, 0.2, 0.1):
        single.tell(single.ask(), value)
    assert [trial.number for trial in top_trials(single, 3)] == [1, 3, 2]  # ties: the earlier first


def test_a_study_with_no_free_slot_and_no_new_warm_start_is_no_error():
    """A worker joining a study whose slots are all done or taken (more, even: surplus trials)
    has nothing to enqueue, so nothing to refuse."""
    done = [optuna.trial.create_trial(value=0.5) for _ in range(3)]
    assert new_warm_starts([], done, 2) == []
    assert new_warm_starts([], done, 3) == []
