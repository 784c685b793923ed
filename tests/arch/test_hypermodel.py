"""Hypermodels by reference: each kind a study file may name is made for the data and builds.

The message of every mistake a study file can make here is checked through the CLI in
``tests/cli/test_bad_input.py``; these tests check what the kinds are given and that a recorded
config rebuilds its network.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import keras
import keras_tuner
import pytest

from ressearch.arch.hypermodel import build_with_values, load_hypermodel, rebuild_model
from ressearch.config import HypermodelConfig, load_network
from ressearch.errors import ConfigError
from tests.helpers import one_line

MODULE = """
import keras
import keras_tuner


def network(input_shape, classes, units):
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))


class Tunable(keras_tuner.HyperModel):
    def __init__(self, input_shape, num_classes, width=1, **kwargs):
        super().__init__(**kwargs)
        self.input_shape, self.num_classes, self.width = input_shape, num_classes, width

    def build(self, hp):
        return network(self.input_shape, self.num_classes, self.width * hp.Int("units", 2, 8))


def build(hp, input_shape, classes, scale=1):
    return network(input_shape, classes, scale * hp.Choice("units", [3, 5]))


def factory(width):
    return Tunable((4, 4, 1), 3, width=width)


made = Tunable((2, 2, 1), 2)
"""


@pytest.fixture
def module(tmp_path: Path) -> str:
    """A module of hypermodels in the test's folder (a fresh name: Python caches modules by name)."""
    name = f"hypermodels_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    return name


def config(module: str, attribute: str, folder: Path, **fields) -> HypermodelConfig:
    return HypermodelConfig(
        hypermodel=f"{module}:{attribute}",
        module_dir=str(folder),
        input_shape=(8, 8, 1),
        classes=10,
        **fields,
    )


@pytest.mark.parametrize(
    ("attribute", "arguments", "kind", "units", "params"),
    [
        # A class: the data's input_shape and num_classes, the study's width.
        ("Tunable", {"width": 2}, "class", 4, 64 * 8 + 8 + 8 * 10 + 10),
        # A build(hp) function: input_shape and classes from the data, scale from the study.
        ("build", {"scale": 2}, "build function", 5, 64 * 10 + 10 + 10 * 10 + 10),
        # A factory makes its own (its shape is its own business), an instance is made already.
        ("factory", {"width": 1}, "factory", 4, 16 * 4 + 4 + 4 * 3 + 3),
        ("made", {}, "instance", 4, 4 * 4 + 4 + 4 * 2 + 2),
    ],
)
def test_every_kind_of_hypermodel_is_made_for_the_data(
    module, tmp_path, monkeypatch, attribute, arguments, kind, units, params
):
    monkeypatch.chdir(tmp_path.parent)  # found through module_dir, not the working directory
    loaded = load_hypermodel(config(module, attribute, tmp_path, arguments=arguments))
    assert loaded.kind == kind and isinstance(loaded.hypermodel, keras_tuner.HyperModel)
    model = build_with_values(loaded, {"units": units})
    assert model.count_params() == params


def test_the_study_may_not_pass_what_the_data_decides(module, tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_hypermodel(config(module, "build", tmp_path, arguments={"classes": 3}))
    assert (
        one_line(raised.value) == "space.arguments.classes: ressearch passes it from the data (10); remove it"
    )


def test_an_exported_config_rebuilds_the_network(module, tmp_path):
    network = config(module, "Tunable", tmp_path, arguments={"width": 3}, hyperparameters={"units": 2})
    exported = tmp_path / "config.json"
    exported.write_text(json.dumps({"schema_version": 1, "hypermodel": network.to_dict(), "train": {}}))
    assert load_network(str(exported)) == network
    model = rebuild_model(exported)
    assert isinstance(model, keras.Model) and model.count_params() == 64 * 6 + 6 + 6 * 10 + 10
    assert rebuild_model(network.to_dict()).count_params() == model.count_params()
    # `ressearch build --outputs 3` adapts it as it adapts an architecture.
    assert load_network(str(exported), outputs=3).classes == 3
    with pytest.raises(ConfigError, match="an architecture config, not a hypermodel's"):
        rebuild_model(_architecture_config(tmp_path))


def _architecture_config(folder: Path) -> Path:
    from ressearch import get_preset

    path = folder / "architecture.json"
    path.write_text(get_preset("resnet20").to_json())
    return path
