"""StudyWatcher: a study's trials, looked at again and again, become the events of a run.

Real Optuna studies in memory, changed between looks as a worker would change them.
"""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from ressearch.config.architecture import ArchitectureConfig
from ressearch.search import EpochEvent, TrialConfig, TrialEvent, TrialRecord
from ressearch.search.retry import StaleTrialRetry
from ressearch.search.watch import StudyWatcher

ARCHITECTURE = ArchitectureConfig(input_shape=(8, 8, 1), outputs=10, depths=(2,), widths=(16,))


def _started(study: optuna.Study, epochs: int = 3) -> optuna.Trial:
    trial = study.ask()
    config = TrialConfig(architecture=ARCHITECTURE.to_dict(), train={"epochs": epochs})
    TrialRecord.started(trial, None, config, seed=0, worker="host:1")
    return trial


def _look(watcher: StudyWatcher, study: optuna.Study) -> list[EpochEvent | TrialEvent]:
    return watcher.poll(study.get_trials(deepcopy=False), best=None)


def test_a_trial_is_told_as_it_starts_reports_epochs_and_ends():
    study = optuna.create_study(direction="maximize")
    study.add_trial(optuna.create_trial(value=0.5))  # finished before the watcher: not told again
    watcher = StudyWatcher(study.get_trials(), target=3, metric="val_accuracy")
    assert _look(watcher, study) == []

    trial = _started(study)
    study.ask()  # a trial that has not sampled yet: nothing to tell
    (start,) = _look(watcher, study)
    assert start.starting and (start.number, start.epoch, start.epochs) == (1, 0, 3)

    trial.report(0.6, 0)
    trial.report(0.7, 1)
    first, second = _look(watcher, study)
    assert [(e.epoch, e.metrics) for e in (first, second)] == [
        (1, {"val_accuracy": 0.6}),
        (2, {"val_accuracy": 0.7}),
    ]
    assert _look(watcher, study) == []  # nothing new

    trial.report(0.8, 2)
    TrialRecord(model_params=1234, epochs=3, metrics={"val_accuracy": 0.8}).write(trial)
    study.tell(trial, 0.8)
    last, end = _look(watcher, study)  # the epoch it reported since the last look, then its end
    assert isinstance(last, EpochEvent) and last.epoch == 3
    assert isinstance(end, TrialEvent)
    assert (end.number, end.state, end.values, end.model_params, end.epochs) == (
        1,
        "COMPLETE",
        [0.8],
        1234,
        3,
    )
    assert end.architecture == ARCHITECTURE.describe() and end.duration is not None and end.done == 2
    assert _look(watcher, study) == []  # told once


def test_a_trial_seen_only_finished_is_told_whole():
    study = optuna.create_study(direction="maximize")
    watcher = StudyWatcher([], target=1, metric="val_accuracy")
    trial = _started(study, epochs=2)
    trial.report(0.1, 0)
    trial.report(0.2, 1)
    study.tell(trial, state=TrialState.PRUNED)
    events = _look(watcher, study)
    assert [type(e).__name__ for e in events] == ["EpochEvent", "EpochEvent", "EpochEvent", "TrialEvent"]
    assert [e.epoch for e in events[:3]] == [0, 1, 2]
    assert events[-1].state == "PRUNED" and events[-1].values == [0.2]  # the last value it reported


def test_a_vanished_workers_trial_that_a_retry_continues_has_no_end():
    study = optuna.create_study(direction="maximize")
    watcher = StudyWatcher([], target=2, metric="val_accuracy")
    retried, final = _started(study), _started(study)
    assert len(_look(watcher, study)) == 2  # both start
    for trial in (retried, final):
        TrialRecord.vanished().write_to_storage(study._storage, trial._trial_id)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    # Failed, their retries not queued yet: the watcher looks again before telling an end.
    assert _look(watcher, study) == []
    StaleTrialRetry(3)(study, study.trials[retried.number])  # a retry continues the first
    StaleTrialRetry(0)(study, study.trials[final.number])  # the second has no retry left: it counts
    (end,) = _look(watcher, study)
    assert (end.number, end.state) == (final.number, "FAIL")
    assert _look(watcher, study) == []
