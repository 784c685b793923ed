"""scikit-learn's bundled datasets (offline): digits as 8x8x1 images, the others as rows."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from ressearch.config.data import DataConfig
from ressearch.data.recipes import fit_image, fit_standardised
from ressearch.data.sources.base import Raw

__all__ = ["load"]


def load(config: DataConfig, base_dir: Path | None) -> Raw:
    from sklearn import datasets

    name = config.location
    if name == "digits":
        digits = datasets.load_digits()
        return Raw(
            x=np.asarray(digits.images),  # (n, 8, 8), values 0..16
            y=np.asarray(digits.target),
            fit=partial(fit_image, max_value=16.0, flatten=config.flatten),
            task="classification",
            class_names=tuple(str(label) for label in digits.target_names),
        )
    loader = {
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
    }[name]
    bunch = loader()
    features = [str(feature) for feature in bunch.feature_names]
    regression = name == "diabetes"
    return Raw(
        x=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target),
        fit=partial(
            fit_standardised, kind="tabular", features=features, scaling=config.scaling, clip=config.clip
        ),
        task="regression" if regression else "classification",
        class_names=None if regression else tuple(str(label) for label in bunch.target_names),
    )
