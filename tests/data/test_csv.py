"""CSV sources: encoding, imputation, feature selection, task detection and bad files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.data.helpers import data_error, load, write_csv


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
    ("a,y\n1,p\n2,3\n", {"task": "regression"}, "column 'y' of {path} holds text ('p'); regression needs"),
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


def test_continuous_features_are_the_numeric_columns_not_the_one_hot_ones(tmp_path):
    write_csv(tmp_path / "people.csv")
    dataset = load(source=f"csv:{tmp_path / 'people.csv'}", target="label")
    features = dataset.preprocessing["features"]
    continuous = dataset.continuous_features
    assert [features[index] for index in continuous] == ["age", "income", "constant"]
    assert all("=" in name for index, name in enumerate(features) if index not in continuous)
    tabular = load(source="builtin:breast_cancer")
    assert tabular.continuous_features is None  # every column is continuous
