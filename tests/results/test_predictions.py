"""Scoring new data with an export: arrays, image files and folders, regression values, and
every bad input as one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_diabetes, load_digits

import ressearch
from ressearch.arch.saving import load_model
from ressearch.config import parse_study
from ressearch.data import apply_preprocessing, load_dataset
from ressearch.data.recipes import raw_inputs
from ressearch.errors import ConfigError, DataError
from ressearch.results import Predictor, export_study
from ressearch.search import TrialRecord, run_study
from ressearch.storage import download_model, load_study
from tests.data.helpers import write_table
from tests.helpers import cli, one_line, tiny_study, user_error

pytestmark = pytest.mark.slow


def export(
    tmp_path_factory: pytest.TempPathFactory, name: str, formats: str = "keras", **sections: dict
) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp(name)
    if "table" in sections:
        write_table(folder / "rooms.csv")
        sections = {key: value for key, value in sections.items() if key != "table"}
        sections["data"] = {"source": f"csv:{folder / 'rooms.csv'}", "target": "label", **sections["data"]}
    definition = parse_study(tiny_study(name, **sections))
    storage = f"sqlite:///{folder / 'studies.db'}"
    summary = run_study(definition, storage=storage, artifacts=folder / "artifacts")
    assert summary.complete >= 1, summary
    export_study(name, folder / "export", storage=storage, formats=formats)
    return folder / "export", TrialRecord.from_trial(load_study(name, storage).best_trial), definition


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """An exported conv net on the 8x8 digits images."""
    return export(tmp_path_factory, "digits", study={"n_trials": 1, "pruner": "none"})


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
    """An exported residual MLP on the diabetes regression rows."""
    return export(
        tmp_path_factory,
        "diabetes",
        study={"n_trials": 1, "pruner": "none", "metric": "val_rmse", "direction": "minimize"},
        data={"source": "builtin:diabetes", "max_rows": None},
        space={"block_type": "basic", "expansion": 1.0},
        train={"epochs": 5},
    )


@pytest.fixture(scope="module")
def rooms(tmp_path_factory):
    """An exported residual MLP on a table with text, missing values, a constant and an empty
    column, its numbers quantile-scaled and smoothly clipped: model files that take raw rows."""
    return export(
        tmp_path_factory,
        "rooms",
        "keras,savedmodel",
        table=True,
        study={"n_trials": 1, "pruner": "none"},
        data={"scaling": "quantile", "clip": True, "max_rows": None, "max_onehot": 8},
        space={"block_type": "basic", "expansion": 1.0},
        train={"epochs": 3},
    )


def test_the_exported_model_scores_raw_rows_as_the_recipe_did(rooms, tmp_path):
    out, record, definition = rooms
    recipe = json.loads((out / "preprocessing.json").read_text())
    assert recipe["model_input"] == "raw" and recipe["scaling"] == "quantile" and recipe["clip"] == 3.0
    dataset = load_dataset(definition.data, seed=definition.settings.seed)
    raw = pd.read_csv(out.parent / "rooms.csv").iloc[dataset.val_rows]
    rows = raw.drop(columns="label")

    # The recipe path: the trial's own network, on rows the recipe preprocessed.
    download_model(out.parent / "artifacts", record.model_artifact, tmp_path / "net.keras", trial_number=0)
    network = load_model(tmp_path / "net.keras")
    # max_onehot 8: the 40 streets were embedded while training; the 5 cities one-hot.
    embedded = [layer.input_dim for layer in network.layers if isinstance(layer, keras.layers.Embedding)]
    assert embedded == [41]
    expected = network.predict(apply_preprocessing(recipe, rows), verbose=0)
    predictor = Predictor.load(out)
    assert predictor.takes_raw_rows and isinstance(predictor.model.input, dict)
    scored = predictor.predict(raw, proba=True)  # the label column is ignored
    np.testing.assert_allclose(scored["proba_dear"], expected[:, 0], rtol=1e-5, atol=1e-6)
    accuracy = float(np.mean(scored["prediction"].to_numpy() == raw["label"].to_numpy()))
    assert accuracy == pytest.approx(record.metrics["val_accuracy"], abs=1e-6)

    # The SavedModel, with TensorFlow alone, on a dict of raw columns (text included).
    raw_columns = raw_inputs(recipe, rows)
    np.savez(tmp_path / "inputs.npz", **{name: values for name, values in raw_columns.items()})
    served = _serve(out / "savedmodel", tmp_path / "inputs.npz", tmp_path / "served.npz", columns=True)
    np.testing.assert_allclose(served["serve"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["signature"], expected, rtol=1e-5, atol=1e-6)

    # An export from before (the network alone, the recipe applied outside) scores the same.
    old = tmp_path / "old"
    old.mkdir()
    (tmp_path / "net.keras").rename(old / "model.keras")
    old_recipe = {key: value for key, value in recipe.items() if key != "model_input"}
    (old / "preprocessing.json").write_text(json.dumps(old_recipe))
    before = Predictor.load(old)
    assert not before.takes_raw_rows
    pd.testing.assert_frame_equal(before.predict(raw, proba=True), scored, rtol=1e-5, atol=1e-6)

    # The CLI on a CSV of raw rows gives the same predictions.
    raw.to_csv(tmp_path / "rows.csv", index=False)
    result = cli("predict", out, tmp_path / "rows.csv", "--proba")
    assert result.exit_code == 0, result.output
    from_cli = pd.read_csv(pd.io.common.StringIO(result.stdout))
    np.testing.assert_allclose(from_cli["proba_dear"], expected[:, 0], rtol=1e-5, atol=1e-6)


def test_npz_rows_reproduce_the_recorded_accuracy(digits, tmp_path):
    out, record, definition = digits
    dataset = load_dataset(definition.data, seed=definition.settings.seed)
    raw = load_digits().images[dataset.val_rows]  # the validation rows, as the source holds them
    np.savez(tmp_path / "val.npz", x=raw)
    result = cli("predict", out, tmp_path / "val.npz")
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(pd.io.common.StringIO(result.stdout))
    labels = load_digits().target[dataset.val_rows]
    accuracy = float(np.mean(predictions["prediction"].to_numpy() == labels))
    assert accuracy == pytest.approx(record.metrics["val_accuracy"], abs=1e-6)


def test_image_files_and_folders_of_any_size_are_scored(digits, tmp_path):
    out, _, _ = digits
    images = load_digits().images[:3]
    folder = tmp_path / "images"
    folder.mkdir()
    for index, image in enumerate(images):
        pixels = (image * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels, "L").resize((16, 16)).convert("RGB").save(folder / f"{index}.png")
    (folder / "notes.txt").write_text("not an image")
    whole = cli("predict", out, folder, "--proba")
    assert whole.exit_code == 0, whole.output
    frame = pd.read_csv(pd.io.common.StringIO(whole.stdout))
    assert list(frame["row"]) == ["0.png", "1.png", "2.png"]
    assert [column for column in frame.columns if column.startswith("proba_")] == [
        f"proba_{d}" for d in range(10)
    ]
    np.testing.assert_allclose(frame.filter(like="proba_").sum(axis=1), 1.0, rtol=1e-5)
    single = pd.read_csv(pd.io.common.StringIO(cli("predict", out, folder / "1.png").stdout))
    assert single["prediction"].tolist() == [frame["prediction"][1]]


def test_regression_predicts_values_in_the_targets_units(diabetes, tmp_path):
    out, record, definition = diabetes
    dataset = load_dataset(definition.data, seed=definition.settings.seed)
    bunch = load_diabetes(as_frame=True)
    raw = bunch.frame.iloc[dataset.val_rows]
    predicted = ressearch.predict(out, raw)  # the target column is ignored
    rmse = float(np.sqrt(np.mean((predicted["prediction"].to_numpy() - raw["target"].to_numpy()) ** 2)))
    assert rmse == pytest.approx(record.metrics["val_rmse"], rel=1e-4)
    assert 100 < predicted["prediction"].mean() < 200  # units, not a standardised scale
    raw.to_csv(tmp_path / "val.csv", index=False)
    assert "--proba: a regression model predicts values" in user_error(
        "predict", out, tmp_path / "val.csv", "--proba"
    )


# Runs where ressearch cannot be imported: a serving machine has TensorFlow and the SavedModel only.
SERVE_WITHOUT_RESSEARCH = """
import sys
class NoRessearch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ressearch":
            raise ImportError("ressearch is not installed here")
sys.meta_path.insert(0, NoRessearch())
import re
import numpy as np, tensorflow as tf
served = tf.saved_model.load(sys.argv[1])
arrays = np.load(sys.argv[2])
if sys.argv[4] == "columns":  # a dict of raw columns; the signature names them plainly
    x = {name: tf.constant(arrays[name]) for name in arrays.files}
    plain = {re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_"): value for name, value in x.items()}
    by_signature = served.signatures["serving_default"](**plain)
else:
    x = tf.constant(arrays["x"])
    by_signature = served.signatures["serving_default"](x)
np.savez(sys.argv[3], serve=served.serve(x).numpy(), signature=next(iter(by_signature.values())).numpy())
"""


def _serve(savedmodel: Path, inputs: Path, out: Path, *, columns: bool = False) -> dict:
    """What the SavedModel gives for the arrays in ``inputs``, in a process without ressearch."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            SERVE_WITHOUT_RESSEARCH,
            savedmodel,
            inputs,
            out,
            "columns" if columns else "x",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return dict(np.load(out))


def test_a_savedmodel_export_serves_values_without_ressearch(diabetes, tmp_path):
    exported, record, definition = diabetes
    name, storage = definition.settings.name, f"sqlite:///{exported.parent / 'studies.db'}"
    out = tmp_path / "served"
    result = cli("export", name, "--out", out, "--format", "keras,savedmodel", "--storage", storage)
    assert result.exit_code == 0, result.output
    assert (out / "model.keras").is_file() and (out / "savedmodel" / "saved_model.pb").is_file()
    dataset = load_dataset(definition.data, seed=definition.settings.seed)
    raw = load_diabetes().data[dataset.val_rows].astype(np.float32)  # raw rows: the model scales them
    np.savez(tmp_path / "inputs.npz", x=raw)
    served = _serve(out / "savedmodel", tmp_path / "inputs.npz", tmp_path / "served.npz")
    expected = Predictor.load(out).model.predict(raw, verbose=0)
    np.testing.assert_allclose(served["serve"], expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(served["signature"], expected, rtol=1e-5, atol=1e-4)
    rmse = float(np.sqrt(np.mean((served["serve"][:, 0] - dataset.y_val) ** 2)))
    assert rmse == pytest.approx(record.metrics["val_rmse"], rel=1e-4)  # in the target's units

    only = tmp_path / "only"
    assert cli("export", name, "--out", only, "--format", "savedmodel", "--storage", storage).exit_code == 0
    assert not (only / "model.keras").exists() and (only / "savedmodel").is_dir()
    assert "--format: unknown model format(s) 'onnx'" in user_error(
        "export", name, "--out", tmp_path / "x", "--format", "onnx", "--storage", storage
    )
    assert not (tmp_path / "x").exists()


def test_missing_columns_are_named_and_nothing_is_written(diabetes, tmp_path):
    out, _, _ = diabetes
    rows = load_diabetes(as_frame=True).frame.drop(columns=["bmi", "s1"])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    message = user_error("predict", out, tmp_path / "rows.csv", "--out", tmp_path / "scored.csv")
    assert message.startswith(f"error: {tmp_path / 'rows.csv'}: columns 'bmi', 's1' are missing")
    assert not list(tmp_path.glob("*scored*"))
    with pytest.raises(DataError) as raised:
        Predictor.load(out).predict(rows)
    assert "columns 'bmi', 's1' are missing from the rows" in one_line(raised.value)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: folder / "missing.csv", "missing.csv: no such file or folder"),
        (lambda folder: _write(folder / "empty.csv", ""), "empty.csv: the csv file is empty"),
        (lambda folder: _write(folder / "x.npz", "not an archive"), "x.npz: not a readable .npz file"),
        (lambda folder: _npz(folder / "y.npz", y=np.zeros(3)), "y.npz: no array 'x'; it has arrays 'y'"),
        (lambda folder: _write(folder / "bad.png", "not a png"), "bad.png is not a readable image"),
        (lambda folder: _mkdir(folder / "nothing"), "nothing: a folder with no images"),
    ],
    ids=["missing", "empty-csv", "not-npz", "npz-without-x", "bad-image", "empty-folder"],
)
def test_unreadable_inputs_are_one_line(digits, tmp_path, make, message):
    out, _, _ = digits
    assert message in user_error("predict", out, make(tmp_path))


def test_an_export_folder_that_is_not_one(digits, tmp_path):
    out, _, _ = digits
    with pytest.raises(ConfigError) as raised:
        Predictor.load(tmp_path)
    assert one_line(raised.value).endswith("no model.keras; give a folder `ressearch export` wrote")
    pareto = tmp_path / "pareto"
    (pareto / "trial-3").mkdir(parents=True)
    (pareto / "trial-3" / "model.keras").write_bytes((out / "model.keras").read_bytes())
    assert "give one of trial-3" in user_error("predict", pareto, out / "trials.csv")
    # A table of rows for a model of images: the shape it needs, in one line.
    assert "preprocessing: expected images of shape (n, height, width, 1)" in user_error(
        "predict", out, out / "trials.csv"
    )
    assert "--out: the folder" in user_error(
        "predict",
        out,
        _npz(tmp_path / "v.npz", x=load_digits().images[:2]),
        "--out",
        tmp_path / "no" / "p.csv",
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path
