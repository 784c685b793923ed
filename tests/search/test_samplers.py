"""Every sampler and pruner a study file can name builds and runs real trials over a real space."""

from __future__ import annotations

import optuna
import pytest

from ressearch.config import ArchitectureSpace, TrainSpace, parse_study
from ressearch.config.study import StudySettings
from ressearch.search import make_pruner, make_sampler, prepare, sample, sample_train
from ressearch.search.pruners import MedianPruner
from tests.helpers import tiny_study

SAMPLERS = StudySettings.model_fields["sampler"].annotation.__args__  # type: ignore[union-attr]
PRUNERS = StudySettings.model_fields["pruner"].annotation.__args__  # type: ignore[union-attr]
SPACE = ArchitectureSpace.from_dict({"block_type": ["basic", "preact"], "depth": {"low": 1, "high": 3}})
TRAIN = TrainSpace.from_dict(
    {"learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}, "batch_size": [32, 64]}
)


@pytest.mark.parametrize("name", [name for name in SAMPLERS if name != "nsga2"])
def test_every_single_objective_sampler_runs_trials(name):
    grid = {"block_type": ["basic", "preact"], "batch_size": [32, 64]} if name == "grid" else None
    space = ArchitectureSpace.from_dict({"block_type": ["basic", "preact"]}) if name == "grid" else SPACE
    train = TrainSpace.from_dict({"batch_size": [32, 64]}) if name == "grid" else TRAIN
    study = optuna.create_study(
        sampler=make_sampler(name, seed=0, multi_objective=False, grid=grid), direction="maximize"
    )

    def objective(trial: optuna.Trial) -> float:
        config = sample(trial, space, input_shape=(8,), outputs=2)
        settings = sample_train(trial, train)
        return config.depths[0] + settings.learning_rate

    study.optimize(objective, n_trials=4)
    assert len(study.trials) == 4 and all(t.state.name == "COMPLETE" for t in study.trials)


def test_nsga2_runs_a_multi_objective_study():
    study = optuna.create_study(
        sampler=make_sampler("nsga2", seed=0, multi_objective=True), directions=["maximize", "minimize"]
    )
    study.optimize(lambda trial: (trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)), n_trials=4)
    assert len(study.best_trials) >= 1


@pytest.mark.parametrize("name", PRUNERS)
def test_every_pruner_builds(name):
    pruner = make_pruner(name, enabled=True)
    assert isinstance(pruner, optuna.pruners.BasePruner)
    assert isinstance(make_pruner(name, enabled=False), optuna.pruners.NopPruner)


@pytest.mark.parametrize(("startup_trials", "pruned"), [(None, False), (1, True)])
def test_the_median_pruner_starts_after_the_studys_startup_trials(startup_trials, pruned):
    """By default the median pruner waits for 3 finished trials; ``pruner_startup_trials: 1``
    lets the second trial be pruned against the first from its second epoch on."""
    study = optuna.create_study(
        direction="maximize", pruner=make_pruner("median", enabled=True, startup_trials=startup_trials)
    )
    first = study.ask()
    for step, value in enumerate([0.6, 0.8, 0.9]):
        first.report(value, step)
    study.tell(first, 0.9)
    second = study.ask()
    second.report(0.5, 0)
    assert not second.should_prune()  # the first epoch is never judged (n_warmup_steps=1)
    second.report(0.55, 1)
    assert bool(second.should_prune()) is pruned


def test_the_median_pruner_judges_the_first_epoch_with_no_warmup():
    """``pruner_warmup_epochs: 0`` lets a trial be pruned at its first epoch; the default
    (1) never judges that epoch, however far behind it is."""

    def pruned_at_first_epoch(warmup_epochs):
        study = optuna.create_study(
            direction="maximize",
            pruner=make_pruner("median", enabled=True, startup_trials=1, warmup_epochs=warmup_epochs),
        )
        first = study.ask()
        first.report(0.6, 0)
        study.tell(first, 0.6)
        second = study.ask()
        second.report(0.4, 0)
        return bool(second.should_prune())

    assert pruned_at_first_epoch(0)
    assert not pruned_at_first_epoch(None)
    assert not pruned_at_first_epoch(1)


def test_a_study_file_sets_the_median_pruners_startup_trials(tmp_path, unique_name):
    """``study.pruner_startup_trials`` and ``study.pruner_warmup_epochs`` reach the pruner of
    the study a run creates, and of the same study when a run resumes it."""
    raw = tiny_study(
        unique_name,
        study={"pruner_startup_trials": 1, "pruner_warmup_epochs": 0},
        data={"flatten": True, "max_rows": 200},
    )
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    definition = parse_study(raw, path=tmp_path / "study.yaml")
    for _ in ("created", "resumed"):
        prepared = prepare(definition, storage=storage, artifacts=tmp_path)
        assert isinstance(prepared.study.pruner, MedianPruner)
        assert prepared.study.pruner._n_startup_trials == 1
        assert prepared.study.pruner._n_warmup_steps == 0


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_median_pruner_holds_a_finished_trial_at_its_final_value_past_its_last_epoch(direction):
    """Past the last epoch of every finished trial, Optuna's median pruner judges nobody; here
    a finished trial counts there at the value it finished with, so a trial still short of it
    is pruned, and one that reached it is not."""
    sign = 1.0 if direction == "maximize" else -1.0

    def second_trial(curve):
        study = optuna.create_study(
            direction=direction, pruner=make_pruner("median", enabled=True, startup_trials=1)
        )
        optuna_rule = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=1)
        first = study.ask()
        for step, value in enumerate([0.6, 0.7, 0.8]):
            first.report(sign * value, step)
        study.tell(first, sign * 0.8)
        second = study.ask()
        decisions = []
        for step, value in enumerate(curve):
            second.report(sign * value, step)
            frozen = study.get_trials(deepcopy=False)[-1]
            decisions.append((bool(second.should_prune()), optuna_rule.prune(study, frozen)))
        return decisions

    # Above the first trial at every shared epoch, then short of its 0.8 for three more epochs.
    assert second_trial([0.65, 0.75, 0.8, 0.79, 0.79]) == [(False, False)] * 5
    assert (
        second_trial([0.65, 0.75, 0.78, 0.79, 0.79])
        == [(False, False), (False, False), (True, True)] + [(True, False)] * 2
    )
    # Its best so far is what counts, as in Optuna's rule: one epoch at 0.81 keeps it running.
    assert [ours for ours, _ in second_trial([0.65, 0.75, 0.81, 0.7, 0.7])] == [False] * 5


def test_the_median_pruner_counts_a_trial_that_finished_earlier_at_its_final_value():
    """At an epoch one finished trial reached and another did not, the other counts at its final
    value: here the median of 0.9 (held) and 0.7 is 0.8, so 0.75 is pruned (Optuna's median,
    over 0.7 alone, keeps it)."""
    study = optuna.create_study(
        direction="maximize", pruner=make_pruner("median", enabled=True, startup_trials=1)
    )
    for curve in ([0.5, 0.9], [0.4, 0.5, 0.6, 0.7]):
        trial = study.ask()
        for step, value in enumerate(curve):
            trial.report(value, step)
        study.tell(trial, max(curve))
    third = study.ask()
    for step, value in enumerate([0.5, 0.6, 0.7, 0.75]):
        third.report(value, step)
    assert third.should_prune()
    assert not optuna.pruners.MedianPruner(n_startup_trials=1).prune(
        study, study.get_trials(deepcopy=False)[-1]
    )
