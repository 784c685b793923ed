from __future__ import annotations

from pathlib import Path

import pytest

from ressearch import StudyFileError
from ressearch.config import load_study_file, parse_study
from tests.helpers import tiny_study

STUDIES = sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.yaml"))


@pytest.mark.parametrize("path", STUDIES, ids=[path.stem for path in STUDIES])
def test_every_shipped_study_file_validates(path):
    definition = load_study_file(path)
    assert definition.settings.name == path.stem


def test_seed_documents_are_studies():
    names = {path.stem for path in STUDIES}
    assert {
        "quickstart",
        "tabular-breast-cancer",
        "cifar10-resnet-vs-plain",
        "cifar10-preact-dropblock",
        "cifar10-ror-wrn",
    } <= names


def test_relative_data_paths_resolve_against_the_study_file(write_study, tmp_path):
    study = tiny_study("paths")
    study["data"] = {"source": "csv:data/rows.csv", "target": "y"}
    definition = load_study_file(write_study(study))
    assert definition.data.source == f"csv:{tmp_path / 'data' / 'rows.csv'}"


def test_a_hypermodel_space_finds_its_module_beside_the_study_file_and_round_trips(write_study, tmp_path):
    study = tiny_study("hypermodel")
    study["space"] = {"hypermodel": "mymodels:build", "arguments": {"width": 4}, "fixed": {"depth": 2}}
    definition = load_study_file(write_study(study))
    space = definition.hypermodel
    assert space is not None and definition.space is space
    assert (space.module, space.attribute, space.module_dir) == ("mymodels", "build", str(tmp_path))
    assert space.arguments == {"width": 4} and space.fixed == {"depth": 2}
    # Stored with the study (module_dir absolute), it reads back the same from anywhere.
    assert parse_study(definition.to_dict()).space == space
    study["space"]["module_dir"] = "models"
    assert load_study_file(write_study(study)).space.module_dir == str(tmp_path / "models")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"study": {"metrics": ["val_accuracy", "model_params"]}}, "give exactly one of metric"),
        (
            {"study": {"direction": None, "metric": None, "metrics": ["model_params", "model_params"]}},
            "metrics repeats",
        ),
        (
            {"study": {"sampler": "grid"}, "space": {"width": {"low": 4, "high": 8}}},
            "space.width: sampler grid",
        ),
        ({"study": {"sampler": "grid", "n_trials": 9}}, "study.n_trials: the grid has 8 points"),
        ({"data": {"validation_split": 1.5}}, "data.validation_split"),
        ({"extra": {}}, "extra: unknown key"),
        ({"runtime": {"precision": "fp16"}}, "runtime.precision: "),
        ({"runtime": {"pipline": "arrays"}}, "runtime.pipline: unknown key (did you mean 'pipeline'?)"),
        (
            {"runtime": {"steps_per_execution": 0}},
            "runtime.steps_per_execution: Input should be 'auto' or greater than or equal to 1, got 0",
        ),
        (
            {"runtime": {"graph_optimizer": "maybe"}},
            "runtime.graph_optimizer: Input should be 'auto' or a valid boolean",
        ),
        ({"study": {"pruner_startup_trials": -1}}, "study.pruner_startup_trials: Input should be greater"),
        (
            {"study": {"pruner": "hyperband", "pruner_startup_trials": 1}},
            "pruner_startup_trials applies to pruner: median, not hyperband",
        ),
        ({"study": {"pruner_warmup_epochs": -1}}, "study.pruner_warmup_epochs: Input should be greater"),
        (
            {"study": {"pruner": "none", "pruner_warmup_epochs": 0}},
            "pruner_warmup_epochs applies to pruner: median, not none",
        ),
    ],
)
def test_study_file_errors_name_file_and_key(write_study, change, message):
    study = tiny_study("bad")
    for section, values in change.items():
        study[section] = {
            key: value for key, value in {**study.get(section, {}), **values}.items() if value is not None
        }
    path = write_study(study)
    with pytest.raises(StudyFileError) as raised:
        load_study_file(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_the_runtime_section_is_optional_and_stored_with_the_study(write_study):
    default = load_study_file(write_study(tiny_study("fast")))
    assert default.runtime.to_dict() == {
        "precision": "auto",
        "jit_compile": "auto",
        "steps_per_execution": "auto",
        "pipeline": "auto",
        "graph_optimizer": "auto",
    }
    study = {**tiny_study("fast"), "runtime": {"precision": "mixed_bfloat16", "steps_per_execution": 8}}
    chosen = load_study_file(write_study(study))
    assert chosen.runtime.precision == "mixed_bfloat16" and chosen.runtime.steps_per_execution == 8
    assert type(chosen).from_dict(chosen.to_dict()).runtime == chosen.runtime
    # a study stored before graph_optimizer existed reads with it auto
    stored_before = dict(chosen.to_dict())
    stored_before["runtime"] = {k: v for k, v in stored_before["runtime"].items() if k != "graph_optimizer"}
    assert type(chosen).from_dict(stored_before).runtime.graph_optimizer == "auto"
