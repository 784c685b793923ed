"""Resuming a stored study: whether this study file may resume it, and whether anything is left.

:func:`finished_study` answers "is there anything for a run to do?" from the storage alone (no
data, no TensorFlow), so ``ressearch run`` on a study that has its total says so at once. It
answers only where it is sure: any doubt (no study yet, a study file with warm starts to check
against the data, trials still to count) is None, and the run takes its ordinary path, which
decides the same thing after loading the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna

from ressearch.config.study import StudyDefinition
from ressearch.errors import ConfigError
from ressearch.search.counting import TrialCounts, count_stored
from ressearch.search.record import StudyMeta

__all__ = ["Finished", "check_resumable", "finished_study"]


@dataclass(frozen=True)
class Finished:
    """A study whose counted trials reach its total: what a run that has nothing to do tells."""

    name: str
    counts: TrialCounts
    metrics: tuple[str, ...]
    best_number: int | None = None  # one objective: the best trial
    best_values: list[float] | None = None
    pareto: list[int] | None = None  # several objectives: the Pareto set's numbers


def check_resumable(
    study: optuna.Study, definition: StudyDefinition, artifacts: str | Path | None = None
) -> StudyMeta:
    """The study's metadata, once it is sure that ``definition`` may resume ``study``
    (``artifacts``: where its study.json is, if not in the folder its metadata names).

    Raises:
        ConfigError: ressearch did not create the study, or it has other data, metrics or seed.
        StorageError: its study.json is not in the artifact folder.
    """
    meta = StudyMeta.from_study(study, artifacts=artifacts)
    name = definition.settings.name
    if meta is None:
        raise ConfigError(
            f"study.name: study {name!r} exists but was not created by ressearch; choose another name"
        )
    stored = meta.study_definition()
    if stored.data != definition.data:
        raise ConfigError(
            f"data: study {name!r} was created with data {stored.data.to_dict()}; this file has "
            f"{definition.data.to_dict()}. Resuming on other data would mix results: use a new study.name"
        )
    if stored.settings.objective_metrics != definition.settings.objective_metrics or (
        stored.settings.objective_directions != definition.settings.objective_directions
    ):
        raise ConfigError(
            f"study.metric: study {name!r} optimises {list(stored.settings.objective_metrics)} "
            f"({', '.join(stored.settings.objective_directions)}); this file asks for "
            f"{list(definition.settings.objective_metrics)}: use a new study.name"
        )
    if stored.settings.seed != definition.settings.seed:
        raise ConfigError(
            f"study.seed: study {name!r} was created with seed {stored.settings.seed}, which fixes its "
            f"validation split; this file has {definition.settings.seed}"
        )
    return meta


def finished_study(
    definition: StudyDefinition, storage: str | None = None, artifacts: str | Path | None = None
) -> Finished | None:
    """The study of ``definition`` (its overrides applied) if its counted trials already reach
    ``n_trials``: a run would start no trial. None where that is not sure without the data.

    Reads only. A study file with warm starts is never answered here: whether its entries are
    queued yet is known only once they are made into params for this data. Trials still
    running elsewhere are told in the counts (``running``); they are not this run's to wait for,
    as a run with no slot left does not start one.

    Raises:
        ConfigError: the study exists and this file may not resume it (as a full run would).
        StorageError, StorageUnavailable: as :func:`~ressearch.storage.open_storage`.
    """
    from ressearch.storage.studies import study_names
    from ressearch.storage.urls import is_sqlite, open_storage, resolve_storage_url, sqlite_file

    settings = definition.settings
    if definition.warm_start:
        return None
    url = resolve_storage_url(storage)
    if is_sqlite(url) and not sqlite_file(url).exists():
        return None
    backend = open_storage(url, heartbeat=False, outage_s=settings.outage_s, read_only=True)
    if settings.name not in study_names(backend):
        return None
    study = optuna.load_study(study_name=settings.name, storage=backend)
    check_resumable(study, definition, artifacts)
    counts = count_stored(backend, study._study_id, target=settings.n_trials)
    if not counts.finished:
        return None
    if len(study.directions) > 1:
        pareto = sorted(trial.number for trial in study.best_trials)
        return Finished(settings.name, counts, settings.objective_metrics, pareto=pareto)
    try:
        best = study.best_trial  # one ordered query
    except ValueError:  # no complete trial: every one was pruned or failed
        return Finished(settings.name, counts, settings.objective_metrics)
    values = [float(best.value)] if best.value is not None else None
    return Finished(settings.name, counts, settings.objective_metrics, best.number, values)
