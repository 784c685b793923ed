"""The ``data:`` section of a study file: where the rows come from and how they are split.

Validation only: nothing here reads a file, and parsing a study file must not import pandas,
scikit-learn or TensorFlow (the loaders in :mod:`ressearch.data` do).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from ressearch.config.base import FrozenConfig

__all__ = ["BUILTIN_DATASETS", "KERAS_DATASETS", "SCALINGS", "SOURCE_KINDS", "DataConfig"]

SOURCE_KINDS: tuple[str, ...] = ("builtin", "csv", "npz", "images", "keras")
BUILTIN_DATASETS: tuple[str, ...] = ("breast_cancer", "diabetes", "digits", "iris", "wine")
KERAS_DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "mnist", "fashion_mnist")
SCALINGS: tuple[str, ...] = ("standard", "robust", "quantile")
# Sources whose location is a path, resolved against the study file's folder.
PATH_KINDS: tuple[str, ...] = ("csv", "npz", "images")


class DataConfig(FrozenConfig):
    """The ``data:`` section of a study file: where the rows come from and how to split them.

    ``source`` is ``builtin:NAME`` (scikit-learn's bundled sets), ``csv:PATH``, ``npz:PATH``
    (arrays ``x`` and ``y``), ``images:DIR`` (one sub-folder per class) or ``keras:NAME`` (from the
    local Keras cache). Relative paths resolve against the study file's folder.

    Example:
        >>> DataConfig(source="csv:rows.csv", target="label").kind
        'csv'
    """

    _label: ClassVar[str] = "data"

    source: str
    target: str | None = None  # csv: the label column
    features: Annotated[tuple[str, ...], Field(min_length=1)] | None = None  # csv: default all others
    task: Literal["auto", "classification", "regression"] = "auto"
    validation_split: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    class_weight: Literal["balanced"] | None = None
    image_size: tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]] | None = None
    flatten: bool = False  # image arrays to vectors, for dense networks
    max_rows: Annotated[int, Field(ge=2)] | None = None  # stratified subsample, for quick studies
    # Rows of columns (csv, tabular arrays): how numeric columns are scaled, fitted on the training
    # rows. standard: mean and standard deviation; robust: median and interquartile range (RealMLP,
    # Holzmueller et al. 2024); quantile: to normal scores through the training quantiles.
    scaling: Literal["standard", "robust", "quantile"] = "standard"
    # Then x / sqrt(1 + (x / 3)^2): outliers squashed smoothly towards +-3 (RealMLP's smooth clip).
    clip: bool = False
    # csv: a text column with more categories than this enters the network as an index into a
    # trainable embedding (embedding_dim wide) instead of one-hot columns; None: every one one-hot.
    max_onehot: Annotated[int, Field(ge=1)] | None = None

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        kind, colon, rest = source.partition(":")
        if not colon or kind not in SOURCE_KINDS or not rest:
            raise ValueError(
                f"expected builtin:NAME, csv:PATH, npz:PATH, images:DIR or keras:NAME, got {source!r}"
            )
        known = {"builtin": BUILTIN_DATASETS, "keras": KERAS_DATASETS}.get(kind)
        if known is not None and rest not in known:
            raise ValueError(f"unknown {kind} dataset {rest!r}; known are {', '.join(known)}")
        return source

    @model_validator(mode="after")
    def _fits_source(self) -> Self:
        if self.kind == "csv" and self.target is None:
            raise ValueError("target is required for a csv: source (the name of the label column)")
        if self.kind != "csv" and (self.target is not None or self.features is not None):
            raise ValueError(f"target and features apply to csv: sources only, not to {self.kind}:")
        if self.features is not None:
            if self.target in self.features:
                raise ValueError(f"features must not include the target column {self.target!r}")
            if len(set(self.features)) != len(self.features):
                raise ValueError("features lists a column twice")
        if self.image_size is not None and self.kind != "images":
            raise ValueError(f"image_size applies to images: sources only, not to {self.kind}:")
        if self.max_onehot is not None and self.kind != "csv":
            raise ValueError(f"max_onehot applies to csv: sources (text columns) only, not to {self.kind}:")
        if (self.scaling != "standard" or self.clip) and self.kind in ("images", "keras"):
            raise ValueError(f"scaling and clip apply to rows of columns, not to {self.kind}: images")
        if self.class_weight is not None and self.task == "regression":
            raise ValueError("class_weight 'balanced' needs a classification task, not regression")
        return self

    @property
    def kind(self) -> str:
        """The part of ``source`` before the colon: builtin, csv, npz, images or keras."""
        return self.source.partition(":")[0]

    @property
    def location(self) -> str:
        """The part of ``source`` after the colon: a dataset name or a path."""
        return self.source.partition(":")[2]
