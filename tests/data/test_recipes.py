"""Recipes re-applied to raw rows give the arrays the study trained on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ressearch.data import (
    MISSING_CATEGORY,
    apply_preprocessing,
)
from ressearch.errors import DataError
from tests.data.helpers import assert_same_rows, load, write_csv


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
