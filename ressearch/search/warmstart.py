"""Warm starts: seed a study with presets, exported configs or another study's best trials.

The entries of a study file's ``warm_start:`` and of ``ressearch run --enqueue`` (checked for
form by :mod:`ressearch.config.warmstart`) become the params that make this study's spaces
sample their configs on this data (:func:`resolve_warm_starts`, through
:func:`~ressearch.search.inverse.params_for`); :func:`new_warm_starts` keeps those not queued
yet and checks that the study has a free slot for each (``n_trials`` is the total: warm starts
count towards it); :func:`enqueue_warm_starts` queues them as WAITING trials, which run before
new samples, each recording its entry (``warm_start``). All but the last write nothing, so a
run whose entry the space cannot express fails before a study or database exists.

A warm-started trial trains like any other: its config is seeded, never its weights or score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

import optuna
from optuna.trial import FrozenTrial, TrialState

from ressearch.config.architecture import ArchitectureConfig
from ressearch.config.files import load_config_file
from ressearch.config.presets import get_preset
from ressearch.config.space import ArchitectureSpace, Choice, TrainSpace
from ressearch.config.training import TrainConfig
from ressearch.config.warmstart import WarmStart
from ressearch.errors import ConfigError, RessearchError, StorageError
from ressearch.search.inverse import params_for
from ressearch.search.record import StudyMeta, TrialRecord
from ressearch.search.retry import free_slots, is_retry
from ressearch.storage.studies import load_study

__all__ = [
    "Seed",
    "duplicate_of",
    "enqueue_warm_starts",
    "new_warm_starts",
    "resolve_warm_starts",
    "top_trials",
]

_FIXED_PARAMS = "fixed_params"  # the system attribute Optuna's enqueue_trial keeps the params in


@dataclass(frozen=True)
class Seed:
    """One trial to enqueue: the params, and the entry it comes from.

    ``source`` is what the trial records: the entry as written, or ``study:NAME#N`` for trial N
    of another study.
    """

    source: str
    params: dict[str, Any]


def top_trials(study: optuna.Study, k: int) -> list[FrozenTrial]:
    """The ``k`` best complete trials by the objective (several objectives: the Pareto set by
    number), fewer if the study has fewer."""
    if len(study.directions) > 1:
        return sorted(study.best_trials, key=lambda trial: trial.number)[:k]
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return sorted(complete, key=lambda trial: (sign * float(trial.values[0]), trial.number))[:k]


def _study_configs(
    entry: WarmStart, storage: optuna.storages.BaseStorage | None, this_study: str
) -> list[tuple[str, ArchitectureConfig, TrainConfig | None]]:
    """The stored configs of the top trials a ``study:NAME:K`` entry names."""
    if entry.study == this_study:
        raise ConfigError(f"{entry.label}: names this study itself; give another study of the storage")
    if storage is None:  # an SQLite file that does not exist yet holds no study
        raise ConfigError(
            f"{entry.label}: study {entry.study!r} is not in the storage: its SQLite file does not exist yet"
        )
    try:
        other = load_study(str(entry.study), storage)
    except RessearchError as error:
        raise ConfigError(f"{entry.label}: {error}") from None
    trials = top_trials(other, entry.top)
    if not trials:
        raise ConfigError(f"{entry.label}: study {entry.study!r} has no complete trial yet")
    configs = []
    folder = StudyMeta.folder_of(other)
    for trial in trials:
        try:
            stored = TrialRecord.from_trial(trial).config(folder)
        except StorageError as error:
            raise ConfigError(f"{entry.label}: trial {trial.number} of {entry.study!r}: {error}") from None
        if stored is None or stored.architecture is None:
            raise ConfigError(
                f"{entry.label}: trial {trial.number} of {entry.study!r} has no stored architecture "
                "(not a ressearch study?)"
            )
        try:
            architecture = ArchitectureConfig.from_dict(stored.architecture)
            train = TrainConfig.from_dict(stored.train) if stored.train is not None else None
        except ConfigError as error:
            raise ConfigError(f"{entry.label}: trial {trial.number}: {error}") from None
        configs.append((f"study:{entry.study}#{trial.number}", architecture, train))
    return configs


def _entry_configs(
    entry: WarmStart, storage: optuna.storages.BaseStorage | None, this_study: str
) -> list[tuple[str, ArchitectureConfig, TrainConfig | None]]:
    """``(source, architecture, train or None)`` for each trial the entry seeds."""
    if entry.kind == "study":
        return _study_configs(entry, storage, this_study)
    try:
        if entry.kind == "preset":
            return [(entry.spec, get_preset(entry.spec), None)]
        architecture, train = load_config_file(entry.path or entry.spec)
    except ConfigError as error:
        raise ConfigError(f"{entry.where}: {error}") from None
    return [(entry.spec, architecture, train)]


def resolve_warm_starts(
    entries: Sequence[WarmStart],
    *,
    space: ArchitectureSpace,
    train_space: TrainSpace,
    input_shape: tuple[int, ...],
    outputs: int,
    head: Literal["classification", "regression"] = "classification",
    output_scale: tuple[float, float] | None = None,
    continuous_features: tuple[int, ...] | None = None,
    categorical_columns: tuple[tuple[int, int], ...] = (),
    storage: optuna.storages.BaseStorage | None = None,
    study_name: str = "",
    grid: bool = False,
) -> list[Seed]:
    """The params of every trial the entries seed, in order; reads files and other studies of
    ``storage`` (None: it has none yet), writes nothing.

    ``grid`` (``sampler: grid``): Optuna's grid sampler cannot complete a trial's params, so an
    entry without training settings (a preset, an architecture JSON) is refused where the
    ``train:`` space has choices.

    Raises:
        ConfigError: one line, ``warm_start[i] ENTRY: FIELD VALUE cannot be made by this space: WHY``
            (or why the entry cannot be read).
    """
    seeds = []
    for entry in entries:
        for source, architecture, train in _entry_configs(entry, storage, study_name):
            where = entry.label if source == entry.spec else f"{entry.label} ({source})"
            choices = [key for key, value in train_space.dimensions.items() if isinstance(value, Choice)]
            if grid and train is None and choices:
                raise ConfigError(
                    f"{where}: sampler grid needs every parameter and this entry has no training "
                    f"settings for train.{choices[0]}; give an exported config.json"
                )
            try:
                params = params_for(
                    architecture,
                    space,
                    input_shape=input_shape,
                    outputs=outputs,
                    head=head,
                    output_scale=output_scale,
                    continuous_features=continuous_features,
                    categorical_columns=categorical_columns,
                    train=train,
                    train_space=train_space,
                )
            except ConfigError as error:
                raise ConfigError(f"{where}: {error}") from None
            seeds.append(Seed(source, params))
    return seeds


def _same_params(given: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    """Whether Optuna's ``enqueue_trial(skip_if_exists=True)`` takes ``given`` for ``existing``:
    the same keys, each value of the same type and equal (floats within a relative 1e-5)."""
    if given.keys() != existing.keys():
        return False
    for name, value in given.items():
        other = existing[name]
        if not isinstance(value, type(other)):
            return False
        if isinstance(value, Real) and not isinstance(value, Integral):
            if not (math.isnan(value) and math.isnan(other)) and abs(value - other) > 1e-5 * abs(other):
                return False
        elif value != other:
            return False
    return True


def _queued(params: Mapping[str, Any], trials: Sequence[FrozenTrial]) -> bool:
    return any(_same_params(params, trial.system_attrs.get(_FIXED_PARAMS, trial.params)) for trial in trials)


def new_warm_starts(seeds: Sequence[Seed], trials: list[FrozenTrial], n_trials: int) -> list[Seed]:
    """The seeds no trial of the study has yet (a resumed run or a second worker queues none
    twice), checked against the study's free slots.

    Raises:
        ConfigError: more new seeds than free slots of ``n_trials``.
    """
    new: list[Seed] = []
    for seed in seeds:
        if not _queued(seed.params, trials) and not any(_same_params(seed.params, s.params) for s in new):
            new.append(seed)
    free = free_slots(trials, n_trials)
    if new and len(new) > free:  # no new seed: nothing to fit, however full the study (free < 0 too)
        raise ConfigError(
            f"warm_start: {len(new)} new warm starts to enqueue and {max(free, 0)} free of "
            f"study.n_trials {n_trials} (warm starts count towards it); raise n_trials (--n-trials) "
            "or drop entries"
        )
    return new


def enqueue_warm_starts(study: optuna.Study, seeds: Sequence[Seed]) -> None:
    """Queue each seed as a WAITING trial that records its ``warm_start`` entry."""
    for seed in seeds:
        study.enqueue_trial(
            seed.params, user_attrs=TrialRecord(warm_start=seed.source).to_attrs(), skip_if_exists=True
        )


def duplicate_of(trial: FrozenTrial, study: optuna.Study) -> int | None:
    """The number of an earlier trial of ``study`` enqueued with the same warm start, if any.

    Workers that start together may each enqueue an entry before either sees the other's
    (Optuna's ``skip_if_exists`` is no lock): the later copy is then not run. Only a
    warm-started trial reads the study's trials for this.
    """
    fixed = trial.system_attrs.get(_FIXED_PARAMS)
    if fixed is None or TrialRecord.from_trial(trial).warm_start is None or is_retry(trial):
        return None
    for other in study.get_trials(deepcopy=False):
        if other.number >= trial.number or other.system_attrs.get(_FIXED_PARAMS) != fixed:
            continue
        record = TrialRecord.from_trial(other)
        if record.warm_start is not None and not record.surplus:
            return other.number
    return None
