"""KerasTuner and Optuna, both ways: a trial as KerasTuner ``HyperParameters``, and back.

:class:`TrialHyperParameters` is a ``keras_tuner.HyperParameters`` whose values an Optuna trial
suggests as the hypermodel asks for them: ``hp.Choice`` and ``hp.Boolean`` become
``suggest_categorical``, ``hp.Int`` ``suggest_int`` and ``hp.Float`` ``suggest_float`` (with
their step and log scale), ``hp.Fixed`` is recorded but not suggested. Conditional scopes work
as KerasTuner defines them: a hyperparameter under an inactive scope is registered but not
suggested, so it is not in ``trial.params``. The names are KerasTuner's (name scopes included),
so a trial's stored ``params`` (an Optuna ``FixedTrial``, or a retry's) build the same network
again. :class:`HpSuggester` goes the other way: KerasTuner's ``hp`` behind the ``suggest_*``
calls ressearch's sampling makes (``benchmarks/peers.py`` runs ressearch's space in KerasTuner).

:class:`HypermodelTrial` is what one trial of a hypermodel study trains: ``build`` (the
hypermodel's ``build(hp)`` with the trial's suggestions; the values are recorded on the trial)
and ``fit`` (the hypermodel's own ``fit(hp, model, ...)`` where it defines one, KerasTuner's
contract). :func:`ressearch.training.fit.train_trial` calls them, so a hypermodel trial has the
same fit loop, checkpoints, pruning, record and stored model as any other.

Two kinds of values cannot be Optuna's exactly: a log scale with a step (KerasTuner multiplies
by the step) is a choice among those values, and ``reverse_log`` is sampled on a linear scale.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import keras
import keras_tuner
from keras_tuner.engine import hyperparameters as kt

from ressearch.arch.hypermodel import LoadedHypermodel, check_model, load_hypermodel, overrides_fit
from ressearch.config.hypermodel import FIT_KEYS, HypermodelConfig, HypermodelSpace, Scalar
from ressearch.config.space import Fixed, TrainSpace
from ressearch.config.training import TrainConfig
from ressearch.data.dataset import Dataset
from ressearch.errors import HypermodelError
from ressearch.search.record import TrialConfig, TrialRecord
from ressearch.search.space import Suggester

__all__ = [
    "HpSuggester",
    "HypermodelTrial",
    "TrialHyperParameters",
    "check_hypermodel",
    "hypermodel_config",
    "metric_check",
    "suggest_hyperparameter",
]


def suggest_hyperparameter(trial: Suggester, hyperparameter: kt.HyperParameter) -> Any:
    """The value ``trial`` suggests for one KerasTuner hyperparameter, under its name.

    Raises:
        HypermodelError: Optuna cannot suggest it as declared (the name had another kind or
            other choices in an earlier trial).
    """
    name = hyperparameter.name
    try:
        if isinstance(hyperparameter, kt.Boolean):
            return trial.suggest_categorical(name, [False, True])
        if isinstance(hyperparameter, kt.Choice):
            return trial.suggest_categorical(name, list(hyperparameter.values))
        if isinstance(hyperparameter, kt.Int | kt.Float):
            integer = isinstance(hyperparameter, kt.Int)
            log = hyperparameter.sampling == "log"
            if log and hyperparameter.step is not None:  # KerasTuner multiplies by the step
                values = list(hyperparameter.values)
                return trial.suggest_categorical(name, [round(v) if integer else v for v in values])
            low, high = hyperparameter.min_value, hyperparameter.max_value
            if integer:
                return trial.suggest_int(
                    name, int(low), int(high), step=int(hyperparameter.step or 1), log=log
                )
            return trial.suggest_float(name, float(low), float(high), step=hyperparameter.step, log=log)
    except ValueError as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise HypermodelError(
            f"hyperparameter {name!r}: Optuna cannot suggest it as the hypermodel declares it ({reason}); "
            "a name must keep one kind (and a choice its values) in every trial"
        ) from None
    return hyperparameter.default  # Fixed, or a kind Optuna has no suggestion for


class TrialHyperParameters(keras_tuner.HyperParameters):
    """KerasTuner's ``HyperParameters`` with values suggested by an Optuna trial.

    ``fixed`` values are registered first as ``hp.Fixed``: the hypermodel's hyperparameter of
    that name takes the value without a suggestion (KerasTuner's ``hp.Fixed`` before a search).
    ``taken`` are names the trial suggests for something else (the ``train:`` keys a study
    searches): a hyperparameter of such a name stops the run. ``asked`` lists every name the
    hypermodel asked for, active or not.

    Example:
        >>> import optuna
        >>> hp = TrialHyperParameters(optuna.trial.FixedTrial({"kind": "wide", "units": 64}))
        >>> kind = hp.Choice("kind", ["wide", "deep"])
        >>> with hp.conditional_scope("kind", ["wide"]):
        ...     units = hp.Int("units", 16, 128, step=16)
        >>> with hp.conditional_scope("kind", ["deep"]):
        ...     layers = hp.Int("layers", 2, 8)
        >>> kind, units, layers, hp.values
        ('wide', 64, None, {'kind': 'wide', 'units': 64})
    """

    def __init__(
        self,
        trial: Suggester,
        *,
        fixed: Mapping[str, Scalar] | None = None,
        taken: Collection[str] = (),
    ) -> None:
        super().__init__()
        self.trial = trial
        self.taken = frozenset(taken)
        self.asked: list[str] = []
        for name, value in (fixed or {}).items():
            self.Fixed(name, value)
        self.asked = []  # only what the hypermodel asks for

    def _retrieve(self, hp: kt.HyperParameter) -> Any:
        if hp.name not in self.asked:
            self.asked.append(hp.name)
        return super()._retrieve(hp)

    def _register(self, hyperparameter: kt.HyperParameter, overwrite: bool = False) -> Any:
        # KerasTuner gives a new active hyperparameter its default; here the trial suggests it.
        name = hyperparameter.name
        if not overwrite and name not in self.values and self.is_active(hyperparameter):
            if name in self.taken:
                raise HypermodelError(
                    f"train.{name}: both train: and the hypermodel search a hyperparameter of this "
                    "name; search it in one place"
                )
            self.values[name] = suggest_hyperparameter(self.trial, hyperparameter)
        return super()._register(hyperparameter, overwrite)


class HpSuggester:
    """KerasTuner's ``hp`` behind the ``suggest_*`` calls that ressearch's sampling makes
    (:class:`~ressearch.search.space.Suggester`), so KerasTuner can search a ressearch space.

    Example:
        >>> import keras_tuner
        >>> hp = keras_tuner.HyperParameters()
        >>> HpSuggester(hp).suggest_int("depth", 1, 4), hp.values
        (1, {'depth': 1})
    """

    def __init__(self, hp: keras_tuner.HyperParameters) -> None:
        self.hp = hp

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self.hp.Choice(name, list(choices))

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        # KerasTuner wants no step (not 1) on a log scale: its step there multiplies.
        step_or_none = None if log and step == 1 else step
        return int(self.hp.Int(name, low, high, step=step_or_none, sampling="log" if log else "linear"))

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        return float(self.hp.Float(name, low, high, step=step, sampling="log" if log else "linear"))


def hypermodel_config(space: HypermodelSpace, dataset: Dataset) -> HypermodelConfig:
    """The network ``space``'s hypermodel builds for ``dataset`` (values to come): the classes
    are passed for classification only."""
    classes = dataset.num_classes if dataset.task != "regression" else None
    return space.network(input_shape=dataset.input_shape, classes=classes)


def check_hypermodel(space: HypermodelSpace, dataset: Dataset) -> LoadedHypermodel:
    """Import and make the hypermodel for the data, before any study or database is created.

    Raises:
        ConfigError: the module, attribute or arguments do not make a hypermodel (one line).
    """
    return load_hypermodel(hypermodel_config(space, dataset))


def metric_check(metrics: Sequence[str]) -> keras.callbacks.Callback:
    """Stops the run at the end of the first epoch if the model does not log the study's
    validation metrics (a hypermodel compiles with metrics of its own choosing)."""
    wanted = [metric for metric in metrics if metric.startswith("val_")]
    checked = False

    def check(epoch: int, logs: dict[str, Any] | None) -> None:
        nonlocal checked
        if checked:
            return
        checked = True
        logged = sorted(name for name in (logs or {}) if name.startswith("val_"))
        missing = [metric for metric in wanted if metric not in logged]
        if missing:
            raise HypermodelError(
                f"study.metric: the hypermodel's model logs {', '.join(logged) or 'no validation metric'}, "
                f"not {missing[0]}; compile it with that metric, or choose study.metric among those"
            )

    return keras.callbacks.LambdaCallback(on_epoch_end=check)


class HypermodelTrial:
    """One trial's network, built by the hypermodel with the trial's suggestions, and its fit.

    ``space`` is the study's ``train:`` section: keys other than ``epochs``, ``batch_size`` and
    ``early_stopping_patience`` compile a model the hypermodel leaves uncompiled, and a
    hypermodel that compiles its own model may not be given them (they would be ignored).
    ``train`` is the trial's training settings: its record keeps only those that applied.
    """

    def __init__(
        self,
        loaded: LoadedHypermodel,
        trial: Any,  # optuna.Trial, or anything that suggests and takes user attributes
        *,
        fixed: Mapping[str, Scalar],
        space: TrainSpace,
        train: TrainConfig | None = None,
    ) -> None:
        self.loaded = loaded
        self.trial = trial
        self.fixed = dict(fixed)
        self.space = space
        self.train = train
        self.hp: TrialHyperParameters | None = None
        self._used: dict[str, Any] | None = None  # the training settings the built model uses
        # What rebuilds the trial's network, once built: the caller stores it as its config.json.
        self.config: TrialConfig | None = None

    def build(self) -> keras.Model:
        """Build the trial's network and record its hyperparameter values on the trial.

        Raises:
            HypermodelError: the hypermodel does not fit the study (see the checks below).
        """
        searched = [
            key for key, dimension in self.space.dimensions.items() if not isinstance(dimension, Fixed)
        ]
        hp = TrialHyperParameters(self.trial, fixed=self.fixed, taken=searched)
        model = check_model(self.loaded.hypermodel.build(hp), self.loaded.config)
        self.hp = hp
        self._check(model, hp)
        self._used = self._settings_used(model)
        self._record(hp, train=self._used)
        return model

    def _settings_used(self, model: keras.Model) -> dict[str, Any] | None:
        """The trial's training settings less those the hypermodel decides itself (the compile
        of a model it compiled, the batch size its own fit picks); None where all of them apply."""
        if self.train is None:
            return None
        kept = ("schema_version", *FIT_KEYS)
        unused = [key for key in TrainConfig.model_fields if key not in kept] if model.compiled else []
        if self.own_fit and "batch_size" not in self.space:
            unused.append("batch_size")
        if not unused:
            return None
        return {key: value for key, value in self.train.to_dict().items() if key not in unused}

    def _record(self, hp: TrialHyperParameters, *, train: dict[str, Any] | None = None) -> None:
        """Keep the trial's config (the hypermodel with its hyperparameter values, and the
        training settings it uses: ``train``, else all of the trial's) and record its network."""
        if train is None:
            train = self.train.to_dict() if self.train is not None else None
        hypermodel = self.loaded.config.replace(hyperparameters=dict(hp.values)).to_dict()
        self.config = TrialConfig(hypermodel=hypermodel, train=train)
        TrialRecord(network=self.config.describe()).write(self.trial)

    def _check(self, model: keras.Model, hp: TrialHyperParameters) -> None:
        reference = self.loaded.config.hypermodel
        # A fixed name not asked for is a mistake where no conditional scope was inactive: a
        # hyperparameter under an inactive scope need not be declared in this build.
        unasked = [name for name in self.fixed if name not in hp.asked]
        if unasked and not hp.inactive_scopes:
            raise HypermodelError(
                f"space.fixed.{unasked[0]}: {reference} asked for no hyperparameter of that name "
                f"(it asked for {', '.join(hp.asked) or 'none'}); fix only names it declares"
            )
        compile_keys = [key for key in self.space.dimensions if key not in FIT_KEYS]
        if model.compiled and compile_keys:
            raise HypermodelError(
                f"train.{compile_keys[0]}: {reference} compiles its own model, so train: takes only "
                f"{', '.join(FIT_KEYS)}; remove {', '.join(compile_keys)} (or tune them in build(hp))"
            )

    def fit(self, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        """The hypermodel's ``fit(hp, model, *args, **kwargs)``: ``kwargs`` are what ``fit``
        gets in any trial (callbacks included); ``batch_size`` only where ``train:`` sets it, so
        a ``fit`` that picks its own (``hp.Choice("batch_size", ...)``) may."""
        if "batch_size" not in self.space:
            kwargs.pop("batch_size", None)
        assert self.hp is not None, "build first"
        declared = dict(self.hp.values)
        try:
            return self.loaded.hypermodel.fit(self.hp, model, *args, **kwargs)
        finally:
            if self.hp.values != declared:  # fit declared hyperparameters of its own: record them too
                self._record(self.hp, train=self._used)

    @property
    def own_fit(self) -> bool:
        """Whether the hypermodel defines its own ``fit``."""
        return overrides_fit(self.loaded.hypermodel)
