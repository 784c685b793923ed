"""How one trial trains its network: a frozen, validated, JSON-safe training config."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from ressearch.config.base import SCHEMA_VERSION, FrozenConfig, PositiveInt, Search

__all__ = ["OPTIMIZERS", "TrainConfig"]

Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "sgd", "rmsprop")


class TrainConfig(FrozenConfig):
    """How one trial trains its network.

    Example:
        >>> TrainConfig(epochs=3, optimizer="sgd").momentum
        0.9
    """

    _label: ClassVar[str] = "train"

    schema_version: Annotated[Literal[1], Search(sampled=False, reason="the config format")] = SCHEMA_VERSION
    epochs: PositiveInt = 10
    batch_size: PositiveInt = 64
    optimizer: Optimizer = "adam"
    learning_rate: Annotated[float, Field(gt=0.0, le=10.0)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    momentum: Annotated[float, Field(ge=0.0, lt=1.0), Search(when=("optimizer", ("sgd", "rmsprop")))] = 0.9
    schedule: Literal["constant", "cosine"] = "constant"
    warmup_epochs: Annotated[int, Field(ge=0), Search(when=("schedule", ("cosine",)))] = 0
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    early_stopping_patience: PositiveInt | None = None
    clipnorm: Annotated[float, Field(gt=0.0)] | None = None
    # Polyak averaging: validation, early stopping and the saved model use the optimizer's
    # exponential moving average of the weights (Keras' use_ema), updated every step with this
    # momentum; None trains and keeps the weights as they are.
    ema_momentum: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.warmup_epochs and self.schedule != "cosine":
            raise ValueError("warmup_epochs is part of the cosine schedule: set schedule: cosine")
        if self.warmup_epochs >= self.epochs and self.warmup_epochs > 0:
            raise ValueError(f"warmup_epochs must be below epochs, got {self.warmup_epochs=}, {self.epochs=}")
        return self
