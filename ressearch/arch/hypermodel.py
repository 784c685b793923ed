"""KerasTuner hypermodels: import one by reference, make it for the data, build and rebuild networks.

``module:attribute`` names a ``keras_tuner.HyperModel`` subclass (constructed with the study's
``arguments``), a HyperModel instance, a factory that returns one, or a ``build(hp)`` function
(its first parameter is named ``hp``). Whichever it is, the data's ``input_shape`` and
``classes`` (or ``num_classes``) are passed where its signature takes them. The module is
imported from the installed packages, the working directory or the study's ``module_dir``.

:func:`build_with_values` builds the network a set of hyperparameter values describes, with a
plain ``keras_tuner.HyperParameters`` (no trial: the values are answered as the hypermodel asks
for them, conditional scopes as KerasTuner defines them), and :func:`rebuild_model` does it from
a recorded or exported :class:`HypermodelConfig` alone.

Keras and KerasTuner only: must not import Optuna (suggesting values is the search layer's
:mod:`ressearch.search.hypermodel`), the data, training or higher layers. Mistakes in the
reference or the arguments are one-line :class:`ConfigError` s naming the key.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import keras_tuner

from ressearch.config.hypermodel import HypermodelConfig
from ressearch.errors import ConfigError, HypermodelError

__all__ = [
    "LoadedHypermodel",
    "build_with_values",
    "check_model",
    "load_hypermodel",
    "overrides_fit",
    "rebuild_model",
]

# Constructor arguments ressearch passes from the data, where the signature takes them.
_SHAPE_ARGUMENTS = ("input_shape",)
_CLASS_ARGUMENTS = ("classes", "num_classes")


@dataclass(frozen=True)
class LoadedHypermodel:
    """A hypermodel ready to build: the KerasTuner object and the config it was made from."""

    hypermodel: keras_tuner.HyperModel
    config: HypermodelConfig
    kind: str  # "class", "instance", "factory" or "build function", for messages


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _import_module(config: HypermodelConfig) -> Any:
    """The module of ``config``'s reference, found on the import path, in the working directory
    or in ``module_dir`` (both added to the end of the path, so installed packages come first)."""
    folders = [os.getcwd(), *([config.module_dir] if config.module_dir else [])]
    for folder in folders:
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        return importlib.import_module(config.module)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if config.module == missing or config.module.startswith(missing + "."):
            where = " and ".join(dict.fromkeys(folders))
            raise ConfigError(
                f"space.hypermodel: no module {config.module!r} among the installed packages or in "
                f"{where}; put {config.module.split('.')[0]}.py there (or set space.module_dir) or install it"
            ) from None
        raise ConfigError(
            f"space.hypermodel: importing {config.module!r} failed ({_first_line(error)})"
        ) from None
    except Exception as error:  # whatever the user's module raises as it loads
        raise ConfigError(
            f"space.hypermodel: importing {config.module!r} failed ({_first_line(error)})"
        ) from None


def _resolve(config: HypermodelConfig) -> Any:
    value = _import_module(config)
    for part in config.attribute.split("."):
        if not hasattr(value, part):
            known = [name for name in dir(value) if not name.startswith("_")]
            close = difflib.get_close_matches(part, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"space.hypermodel: {config.module!r} has no attribute {config.attribute!r}{hint}; "
                "name a HyperModel class, instance or factory, or a build(hp) function in it"
            )
        value = getattr(value, part)
    return value


def _parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(function).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        return {}


def _call_arguments(
    function: Callable[..., Any], config: HypermodelConfig, *, skip: int = 0
) -> dict[str, Any]:
    """The study's arguments plus the data's, checked against ``function``'s signature."""
    parameters = dict(list(_parameters(function).items())[skip:])
    takes_any = any(item.kind is inspect.Parameter.VAR_KEYWORD for item in parameters.values())
    data: dict[str, Any] = {}
    if config.input_shape is not None:
        data.update(dict.fromkeys(_SHAPE_ARGUMENTS, tuple(config.input_shape)))
    if config.classes is not None:
        data.update(dict.fromkeys(_CLASS_ARGUMENTS, config.classes))
    for name in config.arguments:
        if name in data and name in parameters:
            raise ConfigError(
                f"space.arguments.{name}: ressearch passes it from the data ({data[name]!r}); remove it"
            )
        if name not in parameters and not takes_any:
            known = [
                key for key, item in parameters.items() if item.kind is not inspect.Parameter.VAR_POSITIONAL
            ]
            raise ConfigError(
                f"space.arguments.{name}: {config.attribute} takes no argument {name!r}; "
                f"it takes {', '.join(known) or 'none'}"
            )
    given = {name: value for name, value in data.items() if name in parameters}
    return {**given, **config.arguments}


def _made(kind: str, config: HypermodelConfig, make: Callable[[], Any]) -> Any:
    try:
        return make()
    except Exception as error:  # the user's constructor or factory refused the arguments
        raise ConfigError(
            f"space.arguments: {config.attribute}(...) as a {kind} failed with the study's "
            f"arguments {dict(config.arguments)} ({_first_line(error)})"
        ) from None


def load_hypermodel(config: HypermodelConfig) -> LoadedHypermodel:
    """Import the hypermodel ``config`` names and make it for the data ``config`` describes.

    Raises:
        ConfigError: no such module or attribute, not a hypermodel, or arguments it refuses
            (one line naming ``space.hypermodel`` or ``space.arguments`` and what to do).
    """
    target = _resolve(config)
    if isinstance(target, keras_tuner.HyperModel):
        if config.arguments:
            raise ConfigError(
                f"space.arguments: {config.hypermodel} is a HyperModel instance, made already; "
                "name its class to pass arguments, or remove them"
            )
        return LoadedHypermodel(target, config, "instance")
    if inspect.isclass(target) and issubclass(target, keras_tuner.HyperModel):
        arguments = _call_arguments(target, config)
        return LoadedHypermodel(_made("class", config, lambda: target(**arguments)), config, "class")
    if not callable(target) or inspect.isclass(target):
        raise ConfigError(
            f"space.hypermodel: {config.hypermodel} is a value of type {type(target).__name__}, not a "
            "keras_tuner HyperModel (class, instance or factory) or a build(hp) function"
        )
    parameters = list(_parameters(target))
    if parameters and parameters[0] == "hp":
        arguments = _call_arguments(target, config, skip=1)
        return LoadedHypermodel(_BuildFunction(target, arguments), config, "build function")
    arguments = _call_arguments(target, config)
    made = _made("factory", config, lambda: target(**arguments))
    if not isinstance(made, keras_tuner.HyperModel):
        raise ConfigError(
            f"space.hypermodel: {config.hypermodel}(...) returned a value of type {type(made).__name__}, "
            "not a keras_tuner.HyperModel; a build function's first parameter must be named hp"
        )
    return LoadedHypermodel(made, config, "factory")


class _BuildFunction(keras_tuner.HyperModel):
    """A ``build(hp, **arguments)`` function as a KerasTuner HyperModel."""

    def __init__(self, function: Callable[..., Any], arguments: Mapping[str, Any]) -> None:
        super().__init__(name=getattr(function, "__name__", None))
        self.function = function
        self.arguments = dict(arguments)

    def build(self, hp: keras_tuner.HyperParameters) -> Any:
        return self.function(hp, **self.arguments)


def overrides_fit(hypermodel: keras_tuner.HyperModel) -> bool:
    """Whether ``hypermodel`` defines its own ``fit(hp, model, ...)`` (KerasTuner's hook)."""
    return type(hypermodel).fit is not keras_tuner.HyperModel.fit


def check_model(model: Any, config: HypermodelConfig) -> keras.Model:
    """``model`` if it is a Keras model with one output, else one line saying what came back.

    Raises:
        HypermodelError: ``build(hp)`` returned something else, or a model with several outputs.
    """
    if not isinstance(model, keras.Model):
        raise HypermodelError(
            f"space.hypermodel: {config.hypermodel} built a {type(model).__name__}, not a keras.Model; "
            "build(hp) must return the model"
        )
    if len(model.outputs) != 1:
        raise HypermodelError(
            f"space.hypermodel: {config.hypermodel} built a model with {len(model.outputs)} outputs; "
            "a study trains models with one output"
        )
    return model


def build_with_values(loaded: LoadedHypermodel, values: Mapping[str, Any]) -> keras.Model:
    """The network ``loaded`` builds when each hyperparameter it asks for has its value in
    ``values`` (hyperparameters absent from ``values`` take their KerasTuner default)."""
    hp = keras_tuner.HyperParameters()
    hp.values = dict(values)  # asked for, a name with a value keeps it (inactive scopes give None)
    return check_model(loaded.hypermodel.build(hp), loaded.config)


def rebuild_model(config: HypermodelConfig | Mapping[str, Any] | str | Path) -> keras.Model:
    """The network a trial of a hypermodel study trained, rebuilt through its hypermodel.

    ``config`` is a :class:`HypermodelConfig`, its dict (a trial record's ``hypermodel``), or an
    exported ``config.json`` (its ``hypermodel``). The model comes as the hypermodel builds it
    (compiled if it compiles), with fresh weights; the trained weights are in ``model.keras``.

    Raises:
        ConfigError: the file or config is not a hypermodel's, or its hypermodel cannot be loaded.
    """
    if isinstance(config, str | Path):
        from ressearch.config.files import load_network

        loaded = load_network(str(config))
        if not isinstance(loaded, HypermodelConfig):
            raise ConfigError(f"{config}: an architecture config, not a hypermodel's; use build_model")
        config = loaded
    elif not isinstance(config, HypermodelConfig):
        config = HypermodelConfig.from_dict(dict(config))
    return build_with_values(load_hypermodel(config), config.hyperparameters)
