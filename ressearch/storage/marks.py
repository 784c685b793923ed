"""The few trials that carry some attributes, without loading the others.

Which trials count towards a study's ``n_trials`` depends on a handful of attributes that only
some trials have (the search layer's :mod:`ressearch.search.counting` says which). On an RDB
storage (SQLite, PostgreSQL) :func:`marked_trials` asks the database for the trials that have
any of the named attributes, and only those attributes, and :func:`trials_by_number` for the
states of some trials; on any other storage (the gRPC proxy) both read Optuna's trials.

Reads only: nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from ressearch.storage.tables import _fetch, _rdb

__all__ = ["MarkedTrial", "marked_trials", "trials_by_number"]


@dataclass(frozen=True)
class MarkedTrial:
    """A trial's number, state and the named attributes it has (as a ``FrozenTrial`` names them)."""

    number: int
    state: TrialState
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)


def marked_trials(
    storage: optuna.storages.BaseStorage,
    study_id: int,
    *,
    user_attrs: Sequence[str] = (),
    system_attrs: Sequence[str] = (),
) -> list[MarkedTrial]:
    """The study's trials that have at least one of ``user_attrs`` or ``system_attrs`` (whatever
    its value), with those attributes only, by number."""
    rdb = _rdb(storage)
    if rdb is None:
        found = []
        for trial in storage.get_all_trials(study_id, deepcopy=False):
            # The names come from the record module, the one reader of what they mean.
            users = {key: value for key, value in trial.user_attrs.items() if key in user_attrs}
            systems = {key: value for key, value in trial.system_attrs.items() if key in system_attrs}
            if users or systems:
                found.append(MarkedTrial(trial.number, trial.state, users, systems))
        return found
    from optuna.storages._rdb import models
    from sqlalchemy import select

    trial_model = models.TrialModel
    marks: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    tables = (
        (models.TrialUserAttributeModel, user_attrs, 0),
        (models.TrialSystemAttributeModel, system_attrs, 1),
    )
    with rdb.engine.connect() as connection:
        for model, keys, side in tables:
            if not keys:
                continue
            query = (
                select(model.trial_id, model.key, model.value_json)
                .join(trial_model, trial_model.trial_id == model.trial_id)
                .where(trial_model.study_id == study_id, model.key.in_(list(keys)))
            )
            for trial_id, key, value_json in _fetch(connection, query):
                marks.setdefault(trial_id, ({}, {}))[side][key] = json.loads(value_json)
        if not marks:
            return []
        states = select(trial_model.trial_id, trial_model.number, trial_model.state).where(
            trial_model.trial_id.in_(list(marks))
        )
        rows = _fetch(connection, states)
    found = [MarkedTrial(number, state, *marks[trial_id]) for trial_id, number, state in rows]
    return sorted(found, key=lambda trial: trial.number)


def trials_by_number(
    storage: optuna.storages.BaseStorage, study_id: int, numbers: Collection[int]
) -> list[MarkedTrial]:
    """The study's trials of the given ``numbers`` (those that exist), with no attributes, by number."""
    if not numbers:
        return []
    wanted = set(numbers)
    rdb = _rdb(storage)
    if rdb is None:
        trials = storage.get_all_trials(study_id, deepcopy=False)
        return [MarkedTrial(trial.number, trial.state) for trial in trials if trial.number in wanted]
    from optuna.storages._rdb import models
    from sqlalchemy import select

    trial_model = models.TrialModel
    query = select(trial_model.number, trial_model.state).where(
        trial_model.study_id == study_id, trial_model.number.in_(sorted(wanted))
    )
    with rdb.engine.connect() as connection:
        rows = _fetch(connection, query)
    return sorted((MarkedTrial(number, state) for number, state in rows), key=lambda trial: trial.number)
