"""KerasTuner hypermodels as data: the ``space:`` of a hypermodel study, and one built network.

A study whose ``space:`` names a hypermodel (``space: {hypermodel: "package.module:callable"}``)
runs an existing KerasTuner ``HyperModel``, class, factory or ``build(hp)`` function: its
``hp.Choice``/``Int``/``Float``/``Boolean`` calls become the trial's Optuna suggestions as it
builds. :class:`HypermodelSpace` is that section: the reference, the ``arguments`` its
constructor (or factory, or build function) takes, the hyperparameters it ``fixed`` to one
value, and the folder the module is imported from. :class:`HypermodelConfig` describes one
network it built, as data: the same reference and arguments, the data's input shape and
classes, and the hyperparameter values; it is what a trial records and an export writes, and
it alone rebuilds the network (:func:`ressearch.arch.hypermodel.rebuild_model`).

Pydantic only: importing and building the hypermodel is :mod:`ressearch.arch.hypermodel`.

Example:
    >>> space = HypermodelSpace.from_dict(
    ...     {"hypermodel": "keras_tuner.applications:HyperResNet", "fixed": {"conv4_depth": 6}})
    >>> space.module, space.attribute
    ('keras_tuner.applications', 'HyperResNet')
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

from pydantic import Field, JsonValue, field_validator

from ressearch.config.base import FrozenConfig
from ressearch.errors import ConfigError

__all__ = [
    "FIT_KEYS",
    "HYPERMODEL_KEYS",
    "HypermodelConfig",
    "HypermodelSpace",
    "Scalar",
]

# A hyperparameter's value, as KerasTuner's Choice/Int/Float/Boolean/Fixed give them.
Scalar = bool | int | float | str

# The train: keys a hypermodel study always uses (they shape `fit`, not the compile). The others
# compile a model the hypermodel leaves uncompiled; one that compiles its own does not need them.
FIT_KEYS: tuple[str, ...] = ("epochs", "batch_size", "early_stopping_patience")

_REFERENCE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _check_reference(value: str) -> str:
    if not _REFERENCE.match(value):
        raise ValueError(
            "expected 'module:attribute' (a dotted module path, a colon, an attribute), such as "
            f"keras_tuner.applications:HyperResNet or mymodels:build, got {value!r}"
        )
    return value


class _Reference(FrozenConfig):
    """What names a hypermodel and how to make it: the shared fields of a space and a network."""

    hypermodel: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    module_dir: str | None = None  # the folder the module is imported from, absolute

    @field_validator("hypermodel")
    @classmethod
    def _reference(cls, value: str) -> str:
        return _check_reference(value)

    @property
    def module(self) -> str:
        return self.hypermodel.partition(":")[0]

    @property
    def attribute(self) -> str:
        return self.hypermodel.partition(":")[2]


class HypermodelSpace(_Reference):
    """The ``space:`` section of a study that runs a KerasTuner hypermodel.

    ``hypermodel`` is ``module:attribute``; ``arguments`` go to the class, factory or build
    function (the data's ``input_shape`` and ``classes``/``num_classes`` are passed where it takes
    them); ``fixed`` gives hyperparameters one value (as KerasTuner's ``hp.Fixed``), so they are
    not searched; ``module_dir`` is where the module lives (default: the study file's folder).
    """

    _label: ClassVar[str] = "space"

    fixed: dict[str, Scalar] = Field(default_factory=dict)

    @field_validator("fixed", mode="before")
    @classmethod
    def _scalars(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name, item in value.items():
                if not isinstance(item, Scalar):
                    raise ValueError(
                        f"{name} must be one number, string or true/false (as hp.Fixed takes), got {item!r}"
                    )
        return value

    @classmethod
    def from_study(cls, data: dict[str, Any], *, base_dir: Path) -> Self:
        """The ``space:`` section of a study file, ``module_dir`` resolved against ``base_dir``
        (the study file's folder).

        Raises:
            ConfigError: a key other than those of a hypermodel study, or a bad value.
        """
        for key in data:
            if key not in cls.model_fields:
                raise ConfigError(
                    f"space.{key}: a hypermodel study's space holds only {', '.join(HYPERMODEL_KEYS)} "
                    f"(the hypermodel declares its own hyperparameters); to fix one, write "
                    f"fixed: {{{key}: VALUE}}"
                )
        folder = data.get("module_dir")
        if isinstance(folder, str):
            path = Path(folder).expanduser()
            folder = str(path if path.is_absolute() else (base_dir / path).resolve())
        else:
            folder = str(base_dir) if folder is None else folder
        return cls.from_dict({**data, "module_dir": folder})

    def network(self, *, input_shape: tuple[int, ...], classes: int | None) -> HypermodelConfig:
        """The description of a network this hypermodel builds for the data (its values to come)."""
        return HypermodelConfig(
            hypermodel=self.hypermodel,
            arguments=self.arguments,
            module_dir=self.module_dir,
            input_shape=tuple(input_shape),
            classes=classes,
        )


HYPERMODEL_KEYS: tuple[str, ...] = tuple(HypermodelSpace.model_fields)


class HypermodelConfig(_Reference):
    """One network a hypermodel built, as data: rebuilt by the same hypermodel with the same
    ``arguments``, data shape and ``hyperparameters`` (KerasTuner's ``hp.values``).

    Example:
        >>> config = HypermodelConfig(hypermodel="mymodels:build", input_shape=(8, 8, 1), classes=10,
        ...                           hyperparameters={"units": 16, "dropout": False})
        >>> HypermodelConfig.from_json(config.to_json()) == config
        True
    """

    _label: ClassVar[str] = "hypermodel"

    input_shape: Annotated[tuple[Annotated[int, Field(gt=0)], ...], Field(min_length=1)] | None = None
    classes: Annotated[int, Field(gt=0)] | None = None
    # KerasTuner's hp.values: scalars, or what a hypermodel's own hp.Fixed holds.
    hyperparameters: dict[str, JsonValue] = Field(default_factory=dict)

    def describe(self) -> str:
        """One line: the hypermodel and its hyperparameters.

        Example:
            >>> HypermodelConfig(hypermodel="mymodels:build", hyperparameters={"units": 16}).describe()
            'build (mymodels:build): units=16'
        """
        values = ", ".join(f"{name}={value}" for name, value in self.hyperparameters.items())
        return f"{self.attribute.rpartition('.')[2]} ({self.hypermodel})" + (f": {values}" if values else "")
