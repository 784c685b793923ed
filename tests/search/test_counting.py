"""One definition of a counted trial: the database form (``count_stored``, what ``studies`` reads)
and the trials form (``count_trials``, what a run's summary reads) agree on every kind of trial,
on SQLite, PostgreSQL and a storage that is no database (Optuna's journal file).

The trials are made with Optuna's own API as the retry rules make them: an interrupted trial
and the retry that continues it, a vanished worker's trial and its finished retry, a chain of
two retries, a surplus trial, a capped failure that counts, running and waiting trials.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from ressearch.search.counting import TrialCounts, count_stored, count_trials, study_target
from ressearch.search.record import RETRIED_REASON, StudyMeta, TrialRecord
from ressearch.search.retry import RETRY_HISTORY, counted
from ressearch.storage.urls import open_storage
from tests.conftest import BACKENDS

_DISTRIBUTIONS = {"width": IntDistribution(4, 64)}


def _add(study: optuna.Study, state: TrialState, *, record: TrialRecord | None = None, history=()) -> int:
    """Add a trial in ``state``; ``history`` makes it a retry of those trial numbers. Its number."""
    values = 0.5 if state == TrialState.COMPLETE else None
    system_attrs = {"failed_trial": history[0], RETRY_HISTORY: list(history)} if history else {}
    study.add_trial(
        create_trial(
            state=state,
            value=values,
            params={"width": 8},
            distributions=_DISTRIBUTIONS,
            user_attrs=(record or TrialRecord()).to_attrs(),
            system_attrs=system_attrs,
            intermediate_values={0: 0.4} if state == TrialState.PRUNED else None,
        )
    )
    return len(study.trials) - 1


def _every_kind(study: optuna.Study) -> None:
    _add(study, TrialState.COMPLETE)  # 0 counted
    _add(study, TrialState.PRUNED)  # 1 counted
    _add(study, TrialState.FAIL, record=TrialRecord(fail_reason="sampled an impossible network"))  # 2 counted
    stopped = _add(study, TrialState.FAIL, record=TrialRecord.interruption())  # 3 not counted
    _add(study, TrialState.WAITING, history=[stopped])  # 4: its retry, waiting
    vanished = _add(study, TrialState.FAIL, record=TrialRecord.vanished())  # 5 not counted
    again = _add(study, TrialState.FAIL, record=TrialRecord.vanished(), history=[vanished])  # 6 not counted
    _add(study, TrialState.COMPLETE, history=[vanished, again])  # 7 counted: the chain's end
    _add(study, TrialState.FAIL, record=TrialRecord(surplus=True, fail_reason="surplus"))  # 8 not counted
    _add(study, TrialState.FAIL, record=TrialRecord(fail_reason=RETRIED_REASON))  # 9 counted: retries capped
    _add(study, TrialState.RUNNING)  # 10
    _add(study, TrialState.WAITING)  # 11
    # A retry queued for a trial that finished meanwhile (a race at Ctrl-C): the retry replaces it.
    raced = _add(study, TrialState.COMPLETE)  # 12 not counted
    _add(study, TrialState.WAITING, history=[raced])  # 13


EXPECTED = TrialCounts(complete=2, pruned=1, failed=2, not_counted=5, running=1, waiting=3, target=8)


@pytest.mark.parametrize("backend", [*BACKENDS, "journal"])
def test_the_database_and_the_trials_count_alike(backend, request, tmp_path: Path):
    if backend == "journal":
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage: optuna.storages.BaseStorage = JournalStorage(
            JournalFileBackend(str(tmp_path / "journal.log"))
        )
    elif backend == "sqlite":
        storage = open_storage(f"sqlite:///{tmp_path / 'counts.db'}", heartbeat=False)
    else:
        storage = open_storage(request.getfixturevalue("postgres_url"), heartbeat=False)
    study = optuna.create_study(study_name=f"counts-{backend}", storage=storage, direction="maximize")
    _every_kind(study)
    trials = study.get_trials(deepcopy=False)

    stored = count_stored(storage, study._study_id, target=8)
    assert count_trials(trials, target=8) == stored == EXPECTED
    assert stored.counted == len(counted(trials)) == 5  # the rule a run stops on
    assert stored.stored == len(trials)
    assert stored.describe() == "5/8 trials (2 complete, 1 pruned, 2 failed; 5 more not counted: " + (
        "interrupted, retried or surplus)"
    )


def test_a_study_without_marks_counts_its_finished_trials(tmp_path: Path):
    storage = open_storage(f"sqlite:///{tmp_path / 'plain.db'}", heartbeat=False)
    study = optuna.create_study(storage=storage)
    for state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING):
        _add(study, state)
    counts = count_stored(storage, study._study_id)
    assert counts == count_trials(study.trials) == TrialCounts(complete=1, failed=1, running=1)
    assert counts.of_target() == "2" and not counts.finished  # no target: another tool's study


def test_the_target_is_the_n_trials_the_study_was_last_run_to(tmp_path: Path):
    from ressearch.config.study import StudyDefinition
    from tests.helpers import tiny_study

    storage = open_storage(f"sqlite:///{tmp_path / 'target.db'}", heartbeat=False)
    study = optuna.create_study(study_name="target", storage=storage)
    definition = StudyDefinition.from_dict(tiny_study("target", study={"n_trials": 7}))
    StudyMeta(definition=definition.to_dict(), artifacts=str(tmp_path / "artifacts")).write(study)
    assert study_target(study.user_attrs, "target") == 7
    assert study_target({}, "other") is None  # not a ressearch study
    (tmp_path / "artifacts").rename(tmp_path / "moved")  # its study.json is not where it says
    assert study_target(study.user_attrs, "target") is None
