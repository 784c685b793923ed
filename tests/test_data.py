"""ressearch.data on real data: scikit-learn's bundled sets and files written into tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn import datasets as sk_datasets
from sklearn.utils.class_weight import compute_class_weight

from ressearch.data import (
    BUILTIN_DATASETS,
    KERAS_DATASETS,
    MISSING_CATEGORY,
    DataConfig,
    Dataset,
    apply_preprocessing,
    load_dataset,
)
from ressearch.errors import ConfigError, DataError


def load(seed: int = 0, base_dir: Path | None = None, **data: object) -> Dataset:
    return load_dataset(DataConfig.from_dict(data), seed=seed, base_dir=base_dir)


def data_error(**data: object) -> str:
    with pytest.raises(DataError) as raised:
        load(**data)
    message = str(raised.value)
    assert "\n" not in message
    return message


def sorted_rows(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1)
    return flat[np.lexsort(flat.T[::-1])]


def assert_same_rows(dataset: Dataset, x_all: np.ndarray) -> None:
    """The train and validation rows are exactly the rows of ``x_all``, in some order."""
    both = np.concatenate([dataset.x_train, dataset.x_val])
    assert both.dtype == x_all.dtype == np.float32
    assert np.array_equal(sorted_rows(both), sorted_rows(x_all))


# --- built-in sets -------------------------------------------------------------------------------------

BUILTIN_EXPECTED = {
    # name: (input_shape, task, num_classes, outputs, rows)
    "breast_cancer": ((30,), "classification", 2, 1, 569),
    "diabetes": ((10,), "regression", 0, 1, 442),
    "digits": ((8, 8, 1), "classification", 10, 10, 1797),
    "iris": ((4,), "classification", 3, 3, 150),
    "wine": ((13,), "classification", 3, 3, 178),
}


def test_every_builtin_dataset_is_covered():
    assert set(BUILTIN_EXPECTED) == set(BUILTIN_DATASETS)


@pytest.mark.parametrize("name", BUILTIN_DATASETS)
def test_builtin_datasets_load_with_their_shapes_and_tasks(name):
    input_shape, task, num_classes, outputs, rows = BUILTIN_EXPECTED[name]
    dataset = load(source=f"builtin:{name}")
    assert (dataset.input_shape, dataset.task, dataset.num_classes, dataset.outputs) == (
        input_shape,
        task,
        num_classes,
        outputs,
    )
    assert len(dataset.x_train) + len(dataset.x_val) == rows
    assert len(dataset.x_val) == int(np.ceil(0.2 * rows))
    assert dataset.x_train.dtype == dataset.x_val.dtype == np.float32
    assert dataset.y_train.dtype == (np.float32 if task == "regression" else np.int64)
    assert dataset.y_train.ndim == dataset.y_val.ndim == 1
    assert dataset.summary["input_shape"] == list(input_shape)
    assert (dataset.summary["n_train"], dataset.summary["n_val"]) == (
        len(dataset.y_train),
        len(dataset.y_val),
    )
    # Both the recipe and the summary survive JSON unchanged.
    for part in (dataset.preprocessing, dataset.summary):
        assert json.loads(json.dumps(part)) == part


@pytest.mark.parametrize("name", ["breast_cancer", "diabetes", "iris", "wine"])
def test_tabular_builtins_are_standardised_with_training_statistics(name):
    dataset = load(source=f"builtin:{name}")
    np.testing.assert_allclose(dataset.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(dataset.x_train.std(axis=0), 1.0, atol=1e-4)
    assert not np.allclose(dataset.x_val.mean(axis=0), 0.0, atol=1e-5)  # not refitted on validation
    raw = getattr(sk_datasets, f"load_{name}")().data
    assert_same_rows(dataset, apply_preprocessing(json.loads(json.dumps(dataset.preprocessing)), raw))


def test_digits_are_images_in_unit_range_or_flat_vectors():
    images = load(source="builtin:digits")
    flat = load(source="builtin:digits", flatten=True)
    assert images.input_shape == (8, 8, 1) and flat.input_shape == (64,)
    assert images.x_train.min() == 0.0 and images.x_train.max() == 1.0
    assert np.array_equal(images.x_train.reshape(len(images.x_train), -1), flat.x_train)
    assert np.array_equal(images.y_val, flat.y_val)
    assert_same_rows(images, apply_preprocessing(images.preprocessing, sk_datasets.load_digits().images))


def test_split_is_stratified_and_deterministic():
    first = load(source="builtin:iris")
    again = load(source="builtin:iris")
    other = load(source="builtin:iris", seed=1)
    for name in ("x_train", "y_train", "x_val", "y_val"):
        assert getattr(first, name).tobytes() == getattr(again, name).tobytes()
    assert not np.array_equal(first.x_val, other.x_val)
    assert first.summary["stratified"] is True
    assert np.bincount(first.y_val).tolist() == [10, 10, 10]
    assert np.bincount(other.y_val).tolist() == [10, 10, 10]


def test_max_rows_subsamples_with_stratification():
    dataset = load(source="builtin:iris", max_rows=30)
    assert dataset.summary["rows_loaded"] == 150 and dataset.summary["rows_used"] == 30
    assert np.bincount(np.concatenate([dataset.y_train, dataset.y_val])).tolist() == [10, 10, 10]
    assert load(source="builtin:iris", max_rows=30).x_val.tobytes() == dataset.x_val.tobytes()


def test_class_weight_balanced_follows_the_training_labels():
    dataset = load(source="builtin:wine", class_weight="balanced")
    expected = compute_class_weight("balanced", classes=np.arange(3), y=dataset.y_train)
    assert dataset.class_weight == pytest.approx(dict(enumerate(expected)))
    assert load(source="builtin:wine").class_weight is None


# --- csv ---------------------------------------------------------------------------------------------


def write_csv(path: Path, rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows).astype(float),
            "income": rng.normal(50_000, 10_000, rows).round(2),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "member": rng.choice([True, False], rows),
            "constant": 7.0,
            "label": rng.choice(["yes", "no"], rows),
        }
    )
    frame = frame.astype({"colour": object, "label": object})
    frame.loc[[1, 5], "age"] = np.nan
    frame.loc[3, "colour"] = np.nan
    frame.loc[[10, 20], "label"] = np.nan
    frame.to_csv(path, index=False)
    return frame


def test_csv_encodes_imputes_and_counts_in_the_summary(tmp_path):
    write_csv(tmp_path / "people.csv")
    dataset = load(source=f"csv:{tmp_path / 'people.csv'}", target="label")
    summary = dataset.summary
    assert summary["rows_loaded"] == 40
    assert summary["rows_dropped"] == {"missing_target": 2}
    assert summary["imputed"] == {"age": 2, "colour": 1}
    assert summary["n_train"] + summary["n_val"] == 38
    assert dataset.class_names == ("no", "yes") and dataset.outputs == 1
    assert not np.isnan(dataset.x_train).any()

    columns = {spec["name"]: spec for spec in dataset.preprocessing["columns"]}
    assert [columns[name]["type"] for name in ("age", "income", "colour", "member", "constant")] == [
        "numeric",
        "numeric",
        "categorical",
        "categorical",
        "numeric",
    ]
    assert columns["member"]["categories"] == ["False", "True"]
    assert {"blue", "green", "red"} <= set(columns["colour"]["categories"])
    assert columns["constant"]["std"] == 1.0
    features = dataset.preprocessing["features"]
    assert dataset.input_shape == (len(features),)
    assert features[:2] == ["age", "income"] and "colour=blue" in features
    np.testing.assert_allclose(dataset.x_train[:, :2].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(dataset.x_train[:, features.index("constant")], 0.0, atol=1e-6)


def test_apply_preprocessing_reproduces_the_csv_arrays_from_the_raw_frame(tmp_path):
    write_csv(tmp_path / "people.csv")
    dataset = load(source=f"csv:{tmp_path / 'people.csv'}", target="label")
    recipe = json.loads(json.dumps(dataset.preprocessing))
    raw = pd.read_csv(tmp_path / "people.csv")
    assert_same_rows(dataset, apply_preprocessing(recipe, raw[raw["label"].notna()]))

    # New rows: an unseen category maps to zeros; a missing value takes the training median.
    new = raw.iloc[:2].drop(columns="label").copy()
    new["colour"] = ["purple", np.nan]
    new["age"] = np.nan
    x = apply_preprocessing(recipe, new)
    features = recipe["features"]
    colour = [i for i, name in enumerate(features) if name.startswith("colour=")]
    assert x[0, colour].tolist() == [0.0] * len(colour)
    age = recipe["columns"][0]
    assert x[0, 0] == np.float32((age["median"] - age["mean"]) / age["std"])
    if f"colour={MISSING_CATEGORY}" in features:
        assert x[1, features.index(f"colour={MISSING_CATEGORY}")] == 1.0

    with pytest.raises(DataError, match="column 'income' is missing from the rows"):
        apply_preprocessing(recipe, new.drop(columns="income"))


def test_csv_features_pick_columns_and_relative_paths_use_base_dir(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    write_csv(tmp_path / "sub" / "people.csv")
    dataset = load(base_dir=tmp_path, source="csv:sub/people.csv", target="label", features=["income", "age"])
    assert dataset.preprocessing["features"] == ["income", "age"]
    monkeypatch.chdir(tmp_path / "sub")
    assert load(source="csv:people.csv", target="label").input_shape[0] > 2


def test_csv_task_auto_detects_regression_and_integer_classes(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    pd.DataFrame({"x": x, "y": x * 2.5 + 0.1, "k": rng.integers(0, 3, 60)}).to_csv(
        tmp_path / "t.csv", index=False
    )
    regression = load(source=f"csv:{tmp_path / 't.csv'}", target="y", features=["x"])
    assert (regression.task, regression.outputs, regression.num_classes) == ("regression", 1, 0)
    assert regression.y_train.dtype == np.float32
    classes = load(source=f"csv:{tmp_path / 't.csv'}", target="k", features=["x"])
    assert (classes.task, classes.class_names, classes.outputs) == ("classification", ("0", "1", "2"), 3)


def test_a_class_with_one_row_falls_back_to_an_unstratified_split(tmp_path):
    labels = ["a"] * 10 + ["b"] * 9 + ["c"]
    pd.DataFrame({"x": range(20), "y": labels}).to_csv(tmp_path / "rare.csv", index=False)
    dataset = load(source=f"csv:{tmp_path / 'rare.csv'}", target="y")
    assert dataset.summary["stratified"] is False
    assert "class 'c' has 1 row" in dataset.summary["notes"][0]


MANY_FLOATS = "a,y\n" + "".join(f"{i},{i / 7}\n" for i in range(1200))
CSV_ERRORS = [
    # (file text or None for no file, extra config, expected part of the message)
    ("a,b\n1,2\n3,4\n", {}, "data.target: column 'y' is not in {path}; it has columns 'a', 'b'"),
    ("a,y\n1,2\n3,4\n", {"features": ["a", "zz"]}, "data.features: column 'zz' is not in {path}"),
    ("", {}, "data.source: csv file {path} is empty"),
    ("a,y\n", {}, "data.source: csv file {path} has no rows"),
    ("a,y\n1,k\n2,k\n3,k\n", {}, "data.target: column 'y' of {path} has a single class ('k')"),
    ("a,y\n1,2\n3,4,5,6\n", {}, "data.source: {path} is not parseable CSV"),
    (None, {}, "data.source: csv file {path} does not exist"),
    ("a,y\n1,p\n2,q\n", {"task": "regression"}, "column 'y' of {path} is not numeric"),
    (MANY_FLOATS, {"task": "classification"}, "1200 distinct values, too many for classification"),
    (MANY_FLOATS, {"class_weight": "balanced"}, "data.class_weight: 'balanced' needs a classification task"),
    ("a,y\n1,\n2,\n", {}, "data.target: column 'y' of {path}: no row has a target value"),
    ("a,y\n1,p\n2,q\n3,p\n4,q\n", {"validation_split": 0.1}, "too few to hold all 2 classes"),
]


@pytest.mark.parametrize(("text", "extra", "expected"), CSV_ERRORS)
def test_bad_csv_data_raises_one_line_naming_the_problem(tmp_path, text, extra, expected):
    path = tmp_path / "data.csv"
    if text is not None:
        path.write_text(text)
    assert expected.format(path=path) in data_error(source=f"csv:{path}", target="y", **extra)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"source": "s3:bucket/file"}, "data.source: expected builtin:NAME, csv:PATH, npz:PATH"),
        (
            {"source": "builtin:mnist"},
            "data.source: unknown builtin dataset 'mnist'; known are breast_cancer",
        ),
        (
            {"source": "keras:imagenet"},
            "unknown keras dataset 'imagenet'; known are cifar10, cifar100, mnist",
        ),
        ({"source": "csv:data.csv"}, "data: target is required for a csv: source"),
        ({"source": "builtin:iris", "target": "y"}, "target and features apply to csv: sources only"),
        (
            {"source": "builtin:iris", "validation_split": 1.0},
            "data.validation_split: Input should be less than 1",
        ),
        ({"source": "builtin:iris", "image_size": [8, 8]}, "image_size applies to images: sources only"),
        ({"source": "csv:d.csv", "target": "y", "features": ["y"]}, "must not include the target column 'y'"),
        ({"source": "builtin:iris", "colour": "red"}, "data.colour: unknown key"),
    ],
)
def test_bad_data_configs_name_the_key_and_what_is_allowed(data, expected):
    with pytest.raises(ConfigError) as raised:
        DataConfig.from_dict(data)
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_data_config_round_trips():
    config = DataConfig(source="csv:x.csv", target="y", features=("a", "b"), max_rows=100)
    assert DataConfig.from_json(config.to_json()) == config
    assert KERAS_DATASETS == ("cifar10", "cifar100", "mnist", "fashion_mnist")


# --- npz ---------------------------------------------------------------------------------------------


def test_npz_tabular_float_targets_are_a_regression(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(50, 4))
    np.savez(tmp_path / "t.npz", x=x, y=x.sum(axis=1))
    dataset = load(source=f"npz:{tmp_path / 't.npz'}")
    assert (dataset.task, dataset.input_shape, dataset.preprocessing["kind"]) == (
        "regression",
        (4,),
        "tabular",
    )
    np.testing.assert_allclose(dataset.x_train.mean(axis=0), 0.0, atol=1e-5)
    assert_same_rows(dataset, apply_preprocessing(dataset.preprocessing, x))


def test_npz_uint8_images_are_scaled_and_sequences_standardised(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 6, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "img.npz", x=images, y=np.repeat([0, 1], 10))
    dataset = load(source=f"npz:{tmp_path / 'img.npz'}")
    assert (dataset.task, dataset.input_shape, dataset.outputs) == ("classification", (6, 6, 3), 1)
    assert dataset.x_train.min() >= 0.0 and dataset.x_train.max() <= 1.0
    assert_same_rows(dataset, images.astype(np.float32) / np.float32(255))
    assert load(source=f"npz:{tmp_path / 'img.npz'}", flatten=True).input_shape == (108,)

    sequences = rng.normal(5.0, 3.0, size=(30, 10, 2))
    np.savez(tmp_path / "seq.npz", x=sequences, y=np.repeat([0, 1, 2], 10))
    dataset = load(source=f"npz:{tmp_path / 'seq.npz'}")
    assert (dataset.input_shape, dataset.preprocessing["kind"], dataset.outputs) == ((10, 2), "sequence", 3)
    np.testing.assert_allclose(dataset.x_train.mean(axis=(0, 1)), 0.0, atol=1e-5)


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"x": np.zeros((10, 3)), "labels": np.zeros(10)}, "has no array 'y'; it has arrays 'labels', 'x'"),
        ({"y": np.zeros(10)}, "has no array 'x'; it has arrays 'y'"),
        (
            {"x": np.zeros((10, 3)), "y": np.zeros(9)},
            "arrays 'x' and 'y' in {path} differ in length: 10 rows",
        ),
        ({"x": np.zeros((4, 2, 2, 2, 2)), "y": np.zeros(4)}, "array 'x' in {path} has rank 5"),
        (
            {"x": np.full((4, 2), np.nan), "y": np.arange(4)},
            "array 'x' in {path} holds 8 missing (NaN) values",
        ),
    ],
)
def test_bad_npz_names_the_array(tmp_path, arrays, expected):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    assert expected.format(path=path) in data_error(source=f"npz:{path}")


def test_a_file_that_is_not_npz_is_named(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_text("x,y\n1,2\n")
    assert f"data.source: {path} is not a readable .npz file" in data_error(source=f"npz:{path}")
    assert "npz file" in data_error(source=f"npz:{tmp_path / 'absent.npz'}")


# --- image folders ---------------------------------------------------------------------------------


def write_images(root: Path) -> None:
    rng = np.random.default_rng(0)
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    for i in range(4):  # colour, 6 wide and 5 high
        pixels = rng.integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
        Image.fromarray(pixels, "RGB").save(root / "cat" / f"{i}.png")
    for i in range(4):  # grayscale, 4 x 4: resized and given three channels
        pixels = rng.integers(0, 256, size=(4, 4), dtype=np.uint8)
        Image.fromarray(pixels, "L").save(root / "dog" / f"{i}.png")
    (root / "dog" / "notes.txt").write_text("not an image")


def test_image_folders_load_as_classes_resized_and_scaled(tmp_path):
    write_images(tmp_path / "pets")
    dataset = load(base_dir=tmp_path, source="images:pets")
    assert dataset.class_names == ("cat", "dog")
    assert dataset.input_shape == (5, 6, 3)  # the first image's size
    assert dataset.summary["rows_loaded"] == 8
    assert np.bincount(dataset.y_val).tolist() == [1, 1]
    assert dataset.x_train.min() >= 0.0 and dataset.x_train.max() <= 1.0
    cat = np.asarray(Image.open(tmp_path / "pets" / "cat" / "0.png"))
    both = np.concatenate([dataset.x_train, dataset.x_val])
    assert sum(np.array_equal(row, cat / np.float32(255)) for row in both) == 1

    sized = load(base_dir=tmp_path, source="images:pets", image_size=[8, 8], flatten=True)
    assert sized.input_shape == (192,)
    assert apply_preprocessing(sized.preprocessing, cat[np.newaxis]).shape == (1, 192)


def test_bad_image_folders_are_named(tmp_path):
    (tmp_path / "one" / "only").mkdir(parents=True)
    message = data_error(base_dir=tmp_path, source="images:one")
    assert f"image folder {tmp_path / 'one'} needs one sub-folder per class and at least 2" in message

    write_images(tmp_path / "pets")
    (tmp_path / "pets" / "bird").mkdir()
    message = data_error(base_dir=tmp_path, source="images:pets")
    assert f"class folder {tmp_path / 'pets' / 'bird'} has no images" in message

    (tmp_path / "pets" / "bird" / "0.png").write_bytes(b"not a png")
    message = data_error(base_dir=tmp_path, source="images:pets")
    assert f"{tmp_path / 'pets' / 'bird' / '0.png'} is not a readable image" in message
    assert "image folder" in data_error(source=f"images:{tmp_path / 'absent'}")


# --- keras datasets ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_keras_dataset_missing_offline_fails_fast_in_one_line(monkeypatch, tmp_path):
    # An empty Keras cache and RESSEARCH_OFFLINE: the error path, with no traffic off this machine.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("RESSEARCH_OFFLINE", "1")
    monkeypatch.setattr("ressearch.data._keras_cache_dirs", lambda: [tmp_path / "keras-home" / "datasets"])
    message = data_error(source="keras:cifar10")
    assert message == (
        "data.source: keras:cifar10 must be downloaded and this machine cannot reach the internet; "
        "place it in $KERAS_HOME/datasets or use npz:PATH"
    )


def test_importing_the_module_does_not_import_tensorflow():
    code = "import sys, ressearch.data; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
