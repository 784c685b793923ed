"""The KerasTuner bridge from Python: run an existing hypermodel as a ressearch study.

:func:`run` takes what a KerasTuner user has (a ``keras_tuner.HyperModel`` class, a factory, a
``build(hp)`` function, or a ``"module:attribute"`` string naming one), writes the study file
the call amounts to (:func:`study_definition`, ``space: {hypermodel: ...}``) and runs it as
``ressearch run`` does: Optuna's samplers and pruners over the hypermodel's ``hp`` calls, SQLite
or PostgreSQL storage, per-epoch checkpoints, a stored model per trial, ``ressearch dashboard``
and ``ressearch export`` on the result. A hypermodel is recorded by reference (its module and
name), so workers and exports import it again; an instance that no module holds has none, and
is refused with one line.

Example (trains; see ``tests/integrations/test_keras_tuner.py``)::

    import keras_tuner
    import ressearch.keras_tuner

    summary = ressearch.keras_tuner.run(
        keras_tuner.applications.HyperResNet,
        data="builtin:digits",
        study={"name": "digits-hyperresnet", "metric": "val_accuracy", "n_trials": 10},
        fixed={"version": "v2", "conv3_depth": 4, "conv4_depth": 6},
        train={"epochs": 5, "batch_size": 64},
    )
"""

from __future__ import annotations

import importlib
import sys
import sysconfig
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ressearch.config.study import StudyDefinition, parse_study
from ressearch.errors import ConfigError

if TYPE_CHECKING:
    from ressearch.search.objective import EpochEvent
    from ressearch.search.runner import RunStart, RunSummary, TrialEvent

__all__ = ["reference", "run", "study_definition"]


def _module_root(module_name: str) -> str | None:
    """The folder the top-level package (or module) of ``module_name`` was imported from; None
    for an installed package (it imports from anywhere)."""
    top = sys.modules.get(module_name.split(".")[0])
    file = getattr(top, "__file__", None)
    if not file:
        return None
    path = Path(file).resolve()
    root = path.parent.parent if path.name == "__init__.py" else path.parent
    installed = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    return None if root in installed else str(root)


def reference(hypermodel: Any) -> tuple[str, str | None]:
    """The ``module:attribute`` that imports ``hypermodel`` again, and the folder it lives in.

    A string is taken as it is (its folder is found when the study runs). A class or function
    is named by its module and qualified name; an instance by the name its class's module
    gives it.

    Raises:
        ConfigError: ``hypermodel`` cannot be imported again by name (defined inside a function,
            or an instance no module holds).
    """
    if isinstance(hypermodel, str):
        return hypermodel, None
    module_name = getattr(hypermodel, "__module__", None)
    qualname = getattr(hypermodel, "__qualname__", None)
    if module_name is None or qualname is None:  # an instance: find the module attribute it is
        module_name = type(hypermodel).__module__
        module = sys.modules.get(module_name)
        names = [name for name, value in vars(module or object()).items() if value is hypermodel]
        if not names:
            raise ConfigError(
                f"hypermodel: a {type(hypermodel).__name__} instance that no module holds; pass its class "
                "and arguments=..., or a 'module:attribute' string: ressearch records a reference that "
                "workers and exports import again"
            )
        qualname = names[0]
    target: Any = importlib.import_module(module_name)
    for part in str(qualname).split("."):
        target = getattr(target, part, None)
    if target is not hypermodel:
        raise ConfigError(
            f"hypermodel: {module_name}:{qualname} does not import again (defined inside a function?); "
            "define it at the top level of a module"
        )
    return f"{module_name}:{qualname}", _module_root(module_name)


def study_definition(
    hypermodel: Any,
    *,
    data: str | Mapping[str, Any],
    study: Mapping[str, Any],
    arguments: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    train: Mapping[str, Any] | None = None,
    runtime: Mapping[str, Any] | None = None,
) -> StudyDefinition:
    """The study file a :func:`run` call amounts to, validated.

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` class, a factory returning one, a ``build(hp)``
            function, an instance a module holds, or a ``"module:attribute"`` string.
        data: the ``data:`` section, or just its source (``"builtin:digits"``, ``"csv:rows.csv"``).
        study: the ``study:`` section (``name`` and ``metric`` at least).
        arguments: for the hypermodel's constructor, factory or build function (the data's
            ``input_shape`` and ``classes`` are passed where it takes them).
        fixed: hyperparameters held at one value (KerasTuner's ``hp.Fixed``), not searched.
        train: the ``train:`` section (``epochs``, ``batch_size``, ...).
        runtime: the ``runtime:`` section.

    Raises:
        ConfigError: one line naming the section and key.
    """
    name, module_dir = reference(hypermodel)
    space: dict[str, Any] = {
        "hypermodel": name,
        "arguments": dict(arguments or {}),
        "fixed": dict(fixed or {}),
    }
    if module_dir is not None:
        space["module_dir"] = module_dir
    raw = {
        "study": dict(study),
        "data": {"source": data} if isinstance(data, str) else dict(data),
        "space": space,
        "train": dict(train or {}),
        "runtime": dict(runtime or {}),
    }
    return parse_study(raw)


def run(
    hypermodel: Any,
    *,
    data: str | Mapping[str, Any],
    study: Mapping[str, Any],
    arguments: Mapping[str, Any] | None = None,
    fixed: Mapping[str, Any] | None = None,
    train: Mapping[str, Any] | None = None,
    runtime: Mapping[str, Any] | None = None,
    storage: str | None = None,
    artifacts: str | Path | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    on_start: Callable[[RunStart], None] | None = None,
    on_trial: Callable[[TrialEvent], None] | None = None,
    on_epoch: Callable[[EpochEvent], None] | None = None,
) -> RunSummary:
    """Run a KerasTuner hypermodel as a ressearch study, in this process, to its ``n_trials``.

    The arguments up to ``runtime`` are :func:`study_definition`'s; the rest are
    :func:`ressearch.search.run_study`'s (``storage`` defaults to ``$RESSEARCH_STORAGE``, else
    ``sqlite:///ressearch.db``). Each trial's network is built by the hypermodel with Optuna
    suggesting its hyperparameters; a second call resumes the study. More processes join it with
    ``ressearch worker`` on a study file with the same ``space: {hypermodel: ...}``; the best
    model is exported with ``ressearch.export_study`` (or ``ressearch export``).

    Raises:
        ConfigError: a bad section, or a hypermodel that cannot be imported or made for the data
            (before anything is written); :class:`HypermodelError` stops the run when the
            hypermodel does not fit the study (found by the first trial).
    """
    from ressearch.search.runner import run_study

    definition = study_definition(
        hypermodel,
        data=data,
        study=study,
        arguments=arguments,
        fixed=fixed,
        train=train,
        runtime=runtime,
    )
    return run_study(
        definition,
        storage=storage,
        artifacts=artifacts,
        n_trials=n_trials,
        timeout=timeout,
        on_start=on_start,
        on_trial=on_trial,
        on_epoch=on_epoch,
    )
