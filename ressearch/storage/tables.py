"""Read a study's trials as flat rows, fetching only what the answer needs.

Optuna loads a whole ``FrozenTrial`` per trial (every parameter, attribute and intermediate
value), which is right for a sampler and slow for a table of 100,000 trials whose learning
curves and configs no column shows. On an RDB storage (SQLite, PostgreSQL) these functions ask
the database for the needed columns only, with one query per table, through Optuna's own table
models; on any other storage (the gRPC proxy) they fall back to Optuna's trials.

Reads only: nothing here writes.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import json_to_distribution
from optuna.trial import TrialState

__all__ = ["TrialRow", "first_start", "state_counts", "trial_rows"]


@dataclass
class TrialRow:
    """One trial as a table needs it: its number, state, values, times, params, some attributes."""

    number: int
    state: TrialState
    values: list[float] | None
    datetime_start: datetime.datetime | None
    datetime_complete: datetime.datetime | None
    params: dict[str, Any] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return (self.datetime_complete - self.datetime_start).total_seconds()


def _rdb(storage: optuna.storages.BaseStorage) -> optuna.storages.RDBStorage | None:
    """The RDB storage behind ``storage`` (Optuna wraps it in a cache), or None."""
    backend = getattr(storage, "_backend", storage)
    return backend if isinstance(backend, optuna.storages.RDBStorage) else None


def _local(utc: datetime.datetime | None) -> datetime.datetime | None:
    """RDB storages keep naive UTC; Optuna's trials show naive local time, and so do these rows."""
    if utc is None:
        return None
    return utc.replace(tzinfo=datetime.UTC).astimezone().replace(tzinfo=None)


def _fetch(connection: Any, query: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(query)]


def state_counts(storage: optuna.storages.BaseStorage, study_id: int) -> dict[TrialState, int]:
    """How many trials of the study are in each state (one grouped query on an RDB storage)."""
    counts = dict.fromkeys(TrialState, 0)
    rdb = _rdb(storage)
    if rdb is None:
        for trial in storage.get_all_trials(study_id, deepcopy=False):
            counts[trial.state] += 1
        return counts
    from optuna.storages._rdb import models
    from sqlalchemy import func, select

    trial_model = models.TrialModel
    query = (
        select(trial_model.state, func.count())
        .where(trial_model.study_id == study_id)
        .group_by(trial_model.state)
    )
    with rdb.engine.connect() as connection:
        for state, count in _fetch(connection, query):
            counts[state] = int(count)
    return counts


def first_start(storage: optuna.storages.BaseStorage, study_id: int) -> datetime.datetime | None:
    """When the study's first trial started (naive local time), or None."""
    rdb = _rdb(storage)
    if rdb is None:
        starts = [
            t.datetime_start for t in storage.get_all_trials(study_id, deepcopy=False) if t.datetime_start
        ]
        return min(starts, default=None)
    from optuna.storages._rdb import models
    from sqlalchemy import func, select

    trial_model = models.TrialModel
    query = select(func.min(trial_model._datetime_start_utc)).where(trial_model.study_id == study_id)
    with rdb.engine.connect() as connection:
        return _local(connection.execute(query).scalar())


def trial_rows(
    storage: optuna.storages.BaseStorage,
    study_id: int,
    *,
    user_attrs: Sequence[str] = (),
    params: bool = True,
) -> list[TrialRow]:
    """The study's trials by number, with the ``user_attrs`` named (and the params if asked)."""
    rdb = _rdb(storage)
    if rdb is None:
        wanted = set(user_attrs)
        return [
            TrialRow(
                trial.number,
                trial.state,
                list(trial.values) if trial.values is not None else None,
                trial.datetime_start,
                trial.datetime_complete,
                dict(trial.params) if params else {},
                {key: value for key, value in trial.user_attrs.items() if key in wanted},
            )
            for trial in storage.get_all_trials(study_id, deepcopy=False)
        ]
    return _rdb_rows(rdb, study_id, tuple(user_attrs), params)


def _rdb_rows(
    rdb: optuna.storages.RDBStorage, study_id: int, user_attrs: tuple[str, ...], params: bool
) -> list[TrialRow]:
    from optuna.storages._rdb import models
    from sqlalchemy import select

    trial_model = models.TrialModel
    value_model = models.TrialValueModel
    of_study = select(trial_model.trial_id).where(trial_model.study_id == study_id).scalar_subquery()
    rows: dict[int, TrialRow] = {}
    with rdb.engine.connect() as connection:
        query = select(
            trial_model.trial_id,
            trial_model.number,
            trial_model.state,
            trial_model._datetime_start_utc,
            trial_model._datetime_complete_utc,
        ).where(trial_model.study_id == study_id)
        for trial_id, number, state, start, complete in _fetch(connection, query):
            rows[trial_id] = TrialRow(number, state, None, _local(start), _local(complete))
        objectives: dict[int, dict[int, float]] = {}
        values_query = select(
            value_model.trial_id, value_model.objective, value_model.value, value_model.value_type
        ).where(value_model.trial_id.in_(of_study))
        for trial_id, objective, number, kind in _fetch(connection, values_query):
            objectives.setdefault(trial_id, {})[objective] = value_model.stored_repr_to_value(number, kind)
        for trial_id, by_objective in objectives.items():
            if trial_id in rows:
                rows[trial_id].values = [by_objective[index] for index in sorted(by_objective)]
        if params:
            param_model = models.TrialParamModel
            distributions: dict[str, Any] = {}
            params_query = (
                select(
                    param_model.trial_id,
                    param_model.param_name,
                    param_model.param_value,
                    param_model.distribution_json,
                )
                .where(param_model.trial_id.in_(of_study))
                .order_by(param_model.param_id)  # the order they were sampled in, as Optuna gives them
            )
            for trial_id, name, internal, distribution_json in _fetch(connection, params_query):
                distribution = distributions.get(distribution_json)
                if distribution is None:
                    distribution = distributions[distribution_json] = json_to_distribution(distribution_json)
                if trial_id in rows:
                    rows[trial_id].params[name] = distribution.to_external_repr(internal)
        if user_attrs:
            attribute_model = models.TrialUserAttributeModel
            attrs_query = select(
                attribute_model.trial_id, attribute_model.key, attribute_model.value_json
            ).where(attribute_model.trial_id.in_(of_study), attribute_model.key.in_(user_attrs))
            found: dict[int, dict[str, Any]] = {}
            for trial_id, key, value_json in _fetch(connection, attrs_query):
                found.setdefault(trial_id, {})[key] = json.loads(value_json)
            for trial_id, attributes in found.items():
                if trial_id in rows:
                    rows[trial_id].user_attrs = attributes
    return sorted(rows.values(), key=lambda row: row.number)
