"""Named sections: ``space: tabular`` and ``train: tabular`` expand to the documented keys, a
mapping with ``extends:`` overrides some of them, and a wrong name is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ressearch import ConfigError
from ressearch.config import parse_study
from ressearch.config.named import NAMED_SPACES, NAMED_TRAIN
from ressearch.config.space import ArchitectureSpace, Choice, Fixed, Range, TrainSpace
from tests.helpers import one_line, tiny_study


def test_tabular_expands_to_its_keys():
    space = ArchitectureSpace.from_dict("tabular")
    assert space.to_dict() == NAMED_SPACES["tabular"]
    assert space.dimensions["numeric_embedding"] == Fixed("piecewise_linear")
    assert space.dimensions["ensemble_k"] == Fixed(4)
    assert space.dimensions["width"] == Range(64, 256, log=True)
    train = TrainSpace.from_dict("tabular")
    assert train.to_dict() == NAMED_TRAIN["tabular"]
    assert train.dimensions["optimizer"] == Fixed("adamw")
    assert train.dimensions["learning_rate"] == Range(1e-4, 3e-3, log=True)
    assert train.dimensions["early_stopping_patience"] == Fixed(5)


def test_a_section_knows_which_keys_its_name_gave():
    assert TrainSpace.from_dict("tabular").inherited == set(NAMED_TRAIN["tabular"])
    train = TrainSpace.from_dict({"extends": "tabular", "epochs": 3, "label_smoothing": 0.0})
    assert train.inherited == set(NAMED_TRAIN["tabular"]) - {"epochs", "label_smoothing"}
    assert TrainSpace.from_dict({"epochs": 3}).inherited == set()
    assert "label_smoothing" not in train.without("label_smoothing")
    stored = TrainSpace.from_dict({"epochs": 9, "batch_size": 32})  # as a study was created
    kept = train.keeping_named_keys_of(stored)
    assert kept.dimensions["batch_size"] == Fixed(32)  # named: the stored value
    assert kept.dimensions["epochs"] == Fixed(3)  # written by the file: its own
    assert "optimizer" not in kept  # named, and absent from the stored section


def test_extends_overrides_some_keys_and_keeps_the_rest():
    space = ArchitectureSpace.from_dict({"extends": "tabular", "width": [8, 16], "ensemble_k": 2})
    assert space.dimensions["width"] == Choice((8, 16))
    assert space.dimensions["ensemble_k"] == Fixed(2)
    assert space.dimensions["depth"] == Range(1, 3)
    assert "extends" not in space.to_dict()
    train = TrainSpace.from_dict({"extends": "tabular", "epochs": 3})
    assert train.dimensions["epochs"] == Fixed(3) and train.dimensions["batch_size"] == Fixed(256)


@pytest.mark.parametrize(
    ("embedding", "dropped"),
    [
        ("none", {"embedding_bins", "embedding_dim"}),
        ("periodic", {"embedding_bins", "embedding_dim"}),
        ("plr", {"embedding_bins"}),
    ],
)
def test_an_override_drops_the_named_keys_it_makes_meaningless(embedding, dropped):
    space = ArchitectureSpace.from_dict({"extends": "tabular", "numeric_embedding": embedding})
    assert space.dimensions["numeric_embedding"] == Fixed(embedding)
    assert set(NAMED_SPACES["tabular"]) - set(space.dimensions) == dropped
    kept = ArchitectureSpace.from_dict(
        {"extends": "tabular", "numeric_embedding": ["none", "piecewise_linear"]}
    )
    assert "embedding_bins" in kept and "embedding_dim" in kept


def test_a_study_file_stores_the_expanded_sections():
    raw = tiny_study("named")
    raw["space"], raw["train"] = "tabular", "tabular"
    definition = parse_study(raw)
    stored = definition.to_dict()
    assert stored["space"] == NAMED_SPACES["tabular"]
    assert stored["train"] == NAMED_TRAIN["tabular"]
    assert parse_study({**raw, "space": stored["space"], "train": stored["train"]}).to_dict() == stored


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        (
            "space",
            "tabluar",
            "space: unknown named space 'tabluar' (did you mean 'tabular'?); known are tabular, "
            "or give a mapping of keys",
        ),
        ("train", "tabularr", "train: unknown named train 'tabularr' (did you mean 'tabular'?)"),
        ("space", {"extends": "images"}, "space.extends: unknown named space 'images'; known are tabular"),
        ("train", {"extends": ["tabular"]}, "train.extends: unknown named train ['tabular']"),
        ("space", {"extends": "tabular", "widht": 8}, "space.widht: unknown key (did you mean 'width'?)"),
        ("train", {"extends": "tabular", "epochs": 0}, "train.epochs: Input should be greater than 0"),
        (
            "space",
            {"extends": "tabular", "numeric_embedding": "none", "embedding_bins": 8},
            "space.embedding_bins: used only when numeric_embedding is piecewise_linear",
        ),
    ],
)
def test_a_wrong_name_or_override_is_one_line(section, value, message):
    raw = tiny_study("named")
    raw[section] = value
    with pytest.raises(ConfigError) as caught:
        parse_study(raw)
    assert one_line(caught.value).startswith(message)


def test_the_readme_shows_what_tabular_expands_to():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("# space: tabular is\n") :]
    shown = yaml.safe_load(block[: block.index("```")])
    assert shown == {"space": NAMED_SPACES["tabular"], "train": NAMED_TRAIN["tabular"]}
