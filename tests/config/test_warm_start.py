"""The warm_start key of a study file: its form is checked when the file is read."""

from __future__ import annotations

import json

import pytest

from ressearch import ArchitectureConfig, StudyFileError, TrainConfig
from ressearch.config import load_architecture, load_config_file, load_study_file, parse_warm_starts
from ressearch.errors import ConfigError
from tests.helpers import one_line, tiny_study

ARCHITECTURE = ArchitectureConfig(input_shape=(8,), outputs=2, depths=(1,), widths=(8,))
TRAIN = TrainConfig(epochs=3)


def test_entries_are_presets_files_or_other_studies(write_study, tmp_path):
    export = tmp_path / "exports" / "pilot"
    export.mkdir(parents=True)
    (export / "config.json").write_text("{}")
    study = {
        **tiny_study("seeded"),
        "warm_start": ["resnet20", "exports/pilot", "study:pilot", "study:pilot:3"],
    }
    entries = load_study_file(write_study(study)).warm_start
    assert [(entry.kind, entry.where) for entry in entries] == [
        ("preset", "warm_start[0]"),
        ("file", "warm_start[1]"),
        ("study", "warm_start[2]"),
        ("study", "warm_start[3]"),
    ]
    assert entries[1].path == export  # relative to the study file's folder
    assert (entries[2].study, entries[2].top, entries[3].top) == ("pilot", 1, 3)
    assert entries[1].label == "warm_start[1] exports/pilot"


def test_warm_starts_are_not_stored_with_the_study(write_study):
    definition = load_study_file(write_study({**tiny_study("seeded"), "warm_start": ["resnet20"]}))
    assert "warm_start" not in definition.to_dict()
    assert definition.with_overrides(n_trials=5).warm_start == definition.warm_start
    extra = parse_warm_starts(["wrn-16-2"], where="--enqueue")
    assert [entry.spec for entry in definition.with_warm_starts(extra).warm_start] == ["resnet20", "wrn-16-2"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("resnet20", "warm_start: expected a list of entries"),
        ([["resnet20"]], "warm_start[0]: expected a preset name, a config.json path"),
        (["resnet20", "resnt20"], "warm_start[1]: unknown preset 'resnt20'"),
        (
            ["gone/config.json"],
            "warm_start[0]: no such file gone/config.json (relative paths resolve against",
        ),
        (
            ["study:pilot:0"],
            "warm_start[0]: 'study:pilot:0': K, the number of top trials, must be an integer >= 1",
        ),
        (["study:pilot:many"], "warm_start[0]: 'study:pilot:many': K"),
        (["study:"], "warm_start[0]: 'study:' needs a study name after study:"),
        (["study:a b"], "warm_start[0]: 'study:a b' needs a study name"),
    ],
)
def test_a_malformed_entry_is_one_line_naming_it(write_study, value, message):
    path = write_study({**tiny_study("seeded"), "warm_start": value})
    with pytest.raises(StudyFileError) as raised:
        load_study_file(path)
    assert one_line(raised.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    "content",
    [
        {
            "schema_version": 1,
            "study": "pilot",
            "trial": 3,
            "architecture": ARCHITECTURE.to_dict(),
            "train": TRAIN.to_dict(),
        },
        {"config": ARCHITECTURE.to_dict(), "model_params": 100},  # ressearch build --json
        ARCHITECTURE.to_dict(),
    ],
    ids=["export", "build-json", "architecture"],
)
def test_config_files_give_the_architecture_and_any_training_settings(tmp_path, content):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    architecture, train = load_config_file(path)
    assert architecture == ARCHITECTURE
    assert train == (TRAIN if "train" in content else None)
    assert load_config_file(tmp_path) == (architecture, train)  # the folder stands for its config.json
    assert load_architecture(str(tmp_path), outputs=3) == ARCHITECTURE.replace(outputs=3)  # ressearch build


def test_a_folder_without_config_json_says_so(tmp_path):
    (tmp_path / "trial-3").mkdir()
    with pytest.raises(ConfigError) as raised:
        load_config_file(tmp_path)
    assert one_line(raised.value) == (
        f"{tmp_path}: no config.json in this folder (an export of several objectives has one in each "
        "trial-N folder: name that one)"
    )
