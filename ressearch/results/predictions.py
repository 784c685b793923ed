"""Score new data with an exported model: ``predict(export_dir, rows)`` and input files.

An export folder holds ``model.keras`` (which predicts in the target's units) and
``preprocessing.json`` (the versioned recipe that turns raw rows into model inputs, with the
class names). Where the recipe says ``"model_input": "raw"`` the model holds the recipe's steps
and takes raw columns; only :func:`~ressearch.data.recipes.raw_inputs` runs outside it. Older
exports (and images) take preprocessed arrays, and the recipe is applied first. Raw rows are
what the study read: CSV columns (missing values and text as in training; extra columns
ignored), arrays, or images of any size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ressearch.data.messages import first_line, quoted
from ressearch.data.recipes import Recipe, apply_preprocessing, raw_inputs, resize
from ressearch.data.sources.images import IMAGE_SUFFIXES, decode_image, image_files
from ressearch.errors import ConfigError, DataError

if TYPE_CHECKING:
    import keras

__all__ = ["Predictor", "PredictInput", "predict", "read_input"]

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class PredictInput:
    """Raw rows read from a file, their labels for the output, and the columns left unused."""

    rows: pd.DataFrame | Array
    index: list[Any]
    ignored: list[str] = field(default_factory=list)


def _recipe(export_dir: Path) -> Recipe:
    path = export_dir / "preprocessing.json"
    try:
        recipe = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{export_dir}: no preprocessing.json; give a folder `ressearch export` wrote"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the recipe ({first_line(error)})") from None
    if isinstance(recipe, dict) and isinstance(recipe.get("recipe"), dict):  # exports before the flat form
        recipe = {**recipe["recipe"], "class_names": recipe.get("class_names", [])}
    if not isinstance(recipe, dict) or "kind" not in recipe:
        raise ConfigError(f"{path}: not a preprocessing recipe (no 'kind')")
    return recipe


@dataclass(frozen=True)
class Predictor:
    """An exported model and its recipe, ready to score raw rows."""

    model: keras.Model
    recipe: Recipe

    @classmethod
    def load(cls, export_dir: str | Path) -> Predictor:
        """Load ``model.keras`` and ``preprocessing.json`` from an export folder.

        Raises:
            ConfigError: the folder is not an export (or holds a Pareto set: pick a trial-N folder).
        """
        folder = Path(export_dir)
        if not folder.is_dir():
            raise ConfigError(f"{folder}: no such export folder")
        if not (folder / "model.keras").is_file():
            trials = sorted(path.name for path in folder.glob("trial-*") if (path / "model.keras").is_file())
            if trials:
                raise ConfigError(
                    f"{folder}: an export of several trials (a Pareto set); give one of {', '.join(trials)}"
                )
            raise ConfigError(f"{folder}: no model.keras; give a folder `ressearch export` wrote")
        recipe = _recipe(folder)
        from ressearch.arch.saving import load_model

        return cls(load_model(folder / "model.keras"), recipe)

    @property
    def class_names(self) -> list[str]:
        return [str(name) for name in self.recipe.get("class_names") or []]

    @property
    def takes_raw_rows(self) -> bool:
        """Whether the model holds its preprocessing (exports from recipe version 2 on)."""
        return self.recipe.get("model_input") == "raw"

    @property
    def regression(self) -> bool:
        return self.recipe.get("task") == "regression"

    def needed_columns(self) -> list[str] | None:
        """The raw columns a CSV must have; None where the recipe takes unnamed arrays."""
        if self.recipe["kind"] == "csv":
            return [spec["name"] for spec in self.recipe["columns"]]
        if self.recipe["kind"] == "tabular" and self.recipe.get("features"):
            return list(self.recipe["features"])
        return None

    def predict(
        self, rows: pd.DataFrame | Array | Any, *, proba: bool = False, index: list[Any] | None = None
    ) -> pd.DataFrame:
        """One output row per input row: ``row``, ``prediction`` (class name or value) and, with
        ``proba``, a ``proba_<class>`` column per class.

        Raises:
            DataError: the rows do not fit the recipe (missing columns named, wrong shape).
        """
        if proba and self.regression:
            raise ConfigError("--proba: a regression model predicts values, not class probabilities")
        if isinstance(rows, pd.DataFrame):
            needed = self.needed_columns()
            if needed is not None:
                missing = [name for name in needed if name not in rows.columns]
                if missing:
                    raise DataError(
                        f"columns {quoted(missing)} are missing from the rows; "
                        f"the model needs {quoted(needed)}"
                    )
                rows = rows[needed]
            elif self.recipe["kind"] == "tabular":
                rows = rows.to_numpy()
        if self.takes_raw_rows:
            import tensorflow as tf  # Keras' predict takes strings only as tensors

            inputs = raw_inputs(self.recipe, rows)
            x = (
                {name: tf.constant(values) for name, values in inputs.items()}
                if isinstance(inputs, dict)
                else inputs
            )
            count = len(next(iter(inputs.values())) if isinstance(inputs, dict) else inputs)
        else:
            x = apply_preprocessing(self.recipe, rows)
            count = len(x)
        outputs = np.asarray(self.model.predict(x, verbose=0, batch_size=256), dtype=np.float64)
        frame = pd.DataFrame({"row": index if index is not None else list(range(count))})
        if self.regression:
            frame["prediction"] = outputs[:, 0]
            return frame
        names = self.class_names
        probabilities = np.concatenate([1.0 - outputs, outputs], axis=1) if outputs.shape[1] == 1 else outputs
        frame["prediction"] = [names[code] for code in np.argmax(probabilities, axis=1)]
        if proba:
            for code, name in enumerate(names):
                frame[f"proba_{name}"] = probabilities[:, code]
        return frame


def read_input(path: str | Path, predictor: Predictor) -> PredictInput:
    """Raw rows from a file: a CSV, an ``.npz`` with ``x``, an image, or a folder of images.

    Raises:
        DataError: the file cannot be read or does not fit the model (one line naming it).
    """
    source = Path(path)
    if not source.exists():
        raise DataError(f"{source}: no such file or folder")
    if source.is_dir():
        files = image_files(source)
        if not files:
            raise DataError(f"{source}: a folder with no images ({', '.join(IMAGE_SUFFIXES)})")
        return PredictInput(_images(files, predictor.recipe), [file.name for file in files])
    suffix = source.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return PredictInput(_images([source], predictor.recipe), [source.name])
    if suffix == ".npz":
        return _read_npz(source)
    return _read_csv(source, predictor)


def _read_csv(source: Path, predictor: Predictor) -> PredictInput:
    try:
        frame = pd.read_csv(source)
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: the csv file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{source}: not parseable CSV ({first_line(error)})") from None
    frame.columns = pd.Index([str(name) for name in frame.columns])
    needed = predictor.needed_columns()
    if needed is None:
        return PredictInput(frame, list(range(len(frame))))
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise DataError(f"{source}: columns {quoted(missing)} are missing; the model needs {quoted(needed)}")
    ignored = [name for name in frame.columns if name not in needed]
    return PredictInput(frame, list(range(len(frame))), ignored)


def _read_npz(source: Path) -> PredictInput:
    try:
        with np.load(source, allow_pickle=False) as archive:
            if "x" not in archive.files:
                raise DataError(f"{source}: no array 'x'; it has arrays {quoted(sorted(archive.files))}")
            x = np.asarray(archive["x"])
    except DataError:
        raise
    except Exception as error:  # numpy raises many kinds for a file that is not an archive
        raise DataError(f"{source}: not a readable .npz file ({first_line(error)})") from None
    return PredictInput(x, list(range(len(x))))


def _images(files: list[Path], recipe: Recipe) -> Array:
    if recipe.get("kind") != "image":
        raise DataError(f"{files[0]}: this model takes {recipe.get('kind')} rows, not images")
    channels, size = int(recipe["channels"]), list(recipe["size"])
    images = []
    for file in files:
        image = decode_image(file)
        if image.shape[-1] != channels:  # gray for a colour model, or colour for a gray one
            image = (
                np.repeat(image, channels, axis=-1) if channels == 3 else image.mean(axis=-1, keepdims=True)
            )
        if list(image.shape[:2]) != size:
            image = resize(image[np.newaxis], size)[0]
        images.append(image)
    return np.stack(images)


def predict(export_dir: str | Path, rows: pd.DataFrame | Array | Any, *, proba: bool = False) -> pd.DataFrame:
    """Score raw ``rows`` with the model exported to ``export_dir``.

    ``rows``: a DataFrame with the raw feature columns (CSV studies), or an array of rows or
    images as the study's source held them. Returns a DataFrame: ``row``, ``prediction``
    (the class name, or the value for regression) and, with ``proba``, ``proba_<class>`` columns.
    """
    return Predictor.load(export_dir).predict(rows, proba=proba)
