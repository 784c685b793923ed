"""Shared helpers of the data tests: load a data section, expect a one-line DataError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ressearch.data import DataConfig, Dataset, load_dataset
from ressearch.errors import DataError
from tests.helpers import one_line


def load(seed: int = 0, base_dir: Path | None = None, **data: object) -> Dataset:
    return load_dataset(DataConfig.from_dict(data), seed=seed, base_dir=base_dir)


def data_error(**data: object) -> str:
    with pytest.raises(DataError) as raised:
        load(**data)
    return one_line(raised.value)


def sorted_rows(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1)
    return flat[np.lexsort(flat.T[::-1])]


def assert_same_rows(dataset: Dataset, x_all: np.ndarray) -> None:
    """The train and validation rows are exactly the rows of ``x_all``, in some order."""
    both = np.concatenate([dataset.x_train, dataset.x_val])
    assert both.dtype == x_all.dtype == np.float32
    assert np.array_equal(sorted_rows(both), sorted_rows(x_all))


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


def write_table(path: Path, rows: int = 300) -> pd.DataFrame:
    """A table with what preprocessing must handle: skewed numbers with missing values and an
    outlier, text with missing values, a many-valued text column, a constant and an empty column."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "size (m2)": rng.lognormal(4.0, 0.8, rows).round(1),
            "rooms": rng.integers(1, 7, rows).astype(float),
            "city": rng.choice(["Oslo", "Bergen", "Tromsø", "Stavanger"], rows),
            "street": [f"street {i % 40}" for i in range(rows)],
            "constant": 3.0,
            "empty": np.nan,
            "label": rng.choice(["cheap", "dear"], rows),
        }
    )
    frame = frame.astype({"city": object})
    frame.loc[[2, 9, 30], "size (m2)"] = np.nan
    frame.loc[7, "size (m2)"] = 1e6  # an outlier
    frame.loc[[4, 11], "city"] = np.nan
    frame.to_csv(path, index=False)
    return frame
