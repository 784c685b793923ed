"""Create, resume and run studies: the objective, pruning, artifacts, a clean stop.

A ressearch study is an ordinary Optuna study. Its user attribute ``ressearch`` holds the
validated study file (data paths absolute), the artifact folder and the data summary, so that
resuming and exporting need only the storage and the study name. Each trial stores its
architecture and training config, parameter count, learning curve, training time and, as an
Optuna artifact, the trained model. ``n_trials`` is the total the study should reach: a second
run adds only the missing trials. Nothing here prints; callers get events.
"""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ressearch import __version__
from ressearch.data import Dataset, load_dataset
from ressearch.errors import ConfigError, RessearchError, StudyNotFoundError, TrialFailed
from ressearch.redact import redact
from ressearch.space import sample, sample_train
from ressearch.storage import artifact_dir_for, open_artifact_store, open_storage, resolve_storage_url
from ressearch.studyfile import StudyDefinition

__all__ = [
    "STUDY_ATTR",
    "RunStart",
    "RunSummary",
    "TrialEvent",
    "finished_trials",
    "load_study",
    "make_pruner",
    "make_sampler",
    "run_study",
    "study_metadata",
]

STUDY_ATTR = "ressearch"
_COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@dataclass(frozen=True)
class RunStart:
    """What a run is about to do."""

    name: str
    storage: str  # redacted
    target: int
    done: int
    created: bool
    pruning: bool
    multi_objective: bool
    metrics: tuple[str, ...]
    data: dict[str, Any]
    best: list[float] | None = None


@dataclass(frozen=True)
class TrialEvent:
    """One finished trial, and where the study stands after it."""

    number: int
    state: str
    values: list[float] | None
    reason: str | None
    done: int
    target: int
    best: list[float] | None
    elapsed: float


@dataclass
class RunSummary:
    """How a run ended."""

    name: str
    target: int
    done_before: int
    done: int = 0
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    interrupted: bool = False
    best_number: int | None = None
    best_values: list[float] | None = None
    elapsed: float = 0.0
    pareto: list[int] = field(default_factory=list)


def make_sampler(
    name: str, *, seed: int | None, multi_objective: bool, grid: dict[str, list[Any]] | None = None
) -> optuna.samplers.BaseSampler:
    """The Optuna sampler called ``name`` (tpe, random, cmaes, qmc, nsga2, grid)."""
    if name == "grid":
        if not grid:
            raise ConfigError("study.sampler: grid needs the study's lists of choices")
        return optuna.samplers.GridSampler(grid, seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        if multi_objective:
            raise ConfigError("study.sampler: cmaes optimises one objective; use tpe or nsga2 for metrics")
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    return optuna.samplers.NSGAIISampler(seed=seed)


def make_pruner(name: str, *, enabled: bool) -> optuna.pruners.BasePruner:
    """The Optuna pruner called ``name``; NopPruner where pruning is off (several objectives)."""
    if not enabled or name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.HyperbandPruner(min_resource=1)


def load_study(name: str, storage: str | optuna.storages.BaseStorage | None = None) -> optuna.Study:
    """The study ``name``; an unknown name lists the studies the storage has."""
    if isinstance(storage, optuna.storages.BaseStorage):
        backend = storage
    else:
        backend = open_storage(storage, heartbeat=False)
    names = [summary.study_name for summary in optuna.get_all_study_summaries(backend)]
    if name not in names:
        known = ", ".join(sorted(names)) or "none"
        raise StudyNotFoundError(f"study {name!r} is not in the storage; it has: {known}")
    return optuna.load_study(study_name=name, storage=backend)


def study_metadata(study: optuna.Study) -> dict[str, Any]:
    """The ``ressearch`` user attribute; a study not created by ressearch has an empty one."""
    meta = study.user_attrs.get(STUDY_ATTR)
    return meta if isinstance(meta, dict) else {}


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that count towards the total: complete, pruned, failed, but not interrupted."""
    return [
        trial
        for trial in study.get_trials(deepcopy=False, states=_COUNTED)
        if not trial.user_attrs.get("interrupted")
    ]


def _check_resumable(study: optuna.Study, definition: StudyDefinition) -> None:
    meta = study_metadata(study)
    name = definition.settings.name
    if not meta:
        raise ConfigError(
            f"study.name: study {name!r} exists but was not created by ressearch; choose another name"
        )
    stored = StudyDefinition.from_dict(meta["definition"])
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


@contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGINT (Ctrl-C) and SIGTERM (a supervisor, `kill`) stop a run cleanly.

    SIGINT is installed explicitly: a process started in the background, or under `timeout`,
    inherits it ignored, and Python then never raises KeyboardInterrupt.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class _Objective:
    """Sample, build, train, record; one call per trial."""

    def __init__(
        self,
        definition: StudyDefinition,
        dataset: Dataset,
        artifacts: Path,
    ) -> None:
        self.definition = definition
        self.dataset = dataset
        self.store = open_artifact_store(artifacts)
        self.running: set[int] = set()
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        from ressearch.training import CurveRecorder, train_trial

        settings = self.definition.settings
        self.running.add(trial._trial_id)
        recorder = CurveRecorder()
        try:
            try:
                architecture = sample(
                    trial,
                    self.definition.space,
                    input_shape=self.dataset.input_shape,
                    outputs=self.dataset.outputs,
                    head="regression" if self.dataset.task == "regression" else "classification",
                )
                train = sample_train(trial, self.definition.train)
            except ConfigError as error:
                raise TrialFailed(f"sampled an impossible architecture: {error}") from None
            trial.set_user_attr("architecture", architecture.to_dict())
            trial.set_user_attr("train", train.to_dict())
            seed = settings.seed + trial.number
            trial.set_user_attr("seed", seed)
            trial.set_user_attr("worker", self.worker)  # host:pid, for studies run by several workers
            callbacks = []
            monitor = settings.objective_metrics[0]
            if settings.uses_pruning and monitor.startswith("val_"):
                from optuna_integration import KerasPruningCallback

                callbacks.append(KerasPruningCallback(trial, monitor))
            with tempfile.TemporaryDirectory(prefix="ressearch-trial-") as folder:
                model_path = Path(folder) / "model.keras"
                try:
                    result = train_trial(
                        architecture,
                        train,
                        self.dataset,
                        seed=seed,
                        callbacks=callbacks,
                        recorder=recorder,
                        max_params=settings.max_params,
                        save_to=model_path,
                    )
                except ConfigError as error:
                    raise TrialFailed(f"cannot train this trial's config: {error}") from None
                artifact_id = optuna.artifacts.upload_artifact(
                    artifact_store=self.store, file_path=str(model_path), study_or_trial=trial
                )
            trial.set_user_attr("model_artifact", artifact_id)
            trial.set_user_attr("model_params", result.params)
            trial.set_user_attr("metrics", result.metrics)
            trial.set_user_attr("curve", result.curve)
            trial.set_user_attr("epochs", result.epochs)
            trial.set_user_attr("train_seconds", round(result.train_seconds, 3))
            values = [result.metrics[metric] for metric in settings.objective_metrics]
            return values if settings.multi_objective else values[0]
        except TrialFailed as error:
            trial.set_user_attr("fail_reason", redact(str(error)))
            trial.set_user_attr("curve", recorder.curve)
            raise
        except optuna.TrialPruned:
            trial.set_user_attr("curve", recorder.curve)
            trial.set_user_attr("epochs", len(recorder.curve.get("loss", [])))
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            trial.set_user_attr("fail_reason", "interrupted (Ctrl-C or SIGTERM); not counted, it runs again")
            raise
        finally:
            self.running.discard(trial._trial_id)


def _best(study: optuna.Study, multi: bool) -> tuple[int | None, list[float] | None, list[int]]:
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None, None, []
    if multi:
        pareto = [trial.number for trial in study.best_trials]
        return None, None, pareto
    best = study.best_trial
    return best.number, [float(best.value)] if best.value is not None else None, [best.number]


def run_study(
    definition: StudyDefinition,
    *,
    storage: str | None = None,
    artifacts: str | Path | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    on_start: Callable[[RunStart], None] | None = None,
    on_trial: Callable[[TrialEvent], None] | None = None,
) -> RunSummary:
    """Create the study, or resume it, and run trials until it has ``n_trials`` in all.

    Bad data or a study that cannot be resumed with this file raise before anything is
    written. Ctrl-C and SIGTERM end the run cleanly: the interrupted trial is marked FAIL with
    ``interrupted`` set (it does not count, so a later run replaces it) and no trial is left
    RUNNING.

    Example:
        >>> from ressearch.studyfile import load_study_file
        >>> summary = run_study(load_study_file("studies/quickstart.yaml"), n_trials=2)  # doctest: +SKIP
    """
    definition = definition.with_overrides(n_trials=n_trials, timeout=timeout)
    settings = definition.settings
    url = resolve_storage_url(storage)
    backend = open_storage(url)
    dataset = load_dataset(definition.data, seed=settings.seed)
    from ressearch.training import check_task

    check_task(settings.objective_metrics, dataset, label_smoothing="label_smoothing" in definition.train)
    names = {summary.study_name for summary in optuna.get_all_study_summaries(backend)}
    created = settings.name not in names
    existing = 0
    if not created:
        previous = optuna.load_study(study_name=settings.name, storage=backend)
        _check_resumable(previous, definition)
        existing = len(previous.trials)
    # The sampler's seed moves on with the study, so a resumed run does not replay old samples.
    sampler = make_sampler(
        settings.sampler,
        seed=settings.seed + existing,
        multi_objective=settings.multi_objective,
        grid=definition.grid() if settings.sampler == "grid" else None,
    )
    pruner = make_pruner(settings.pruner, enabled=settings.uses_pruning)
    study = optuna.create_study(
        study_name=settings.name,
        storage=backend,
        sampler=sampler,
        pruner=pruner,
        directions=list(settings.objective_directions),
        load_if_exists=True,
    )
    folder = Path(artifacts).resolve() if artifacts else None
    meta = study_metadata(study)
    if folder is None:
        folder = Path(meta["artifacts"]) if meta.get("artifacts") else artifact_dir_for(url)
    study.set_user_attr(
        STUDY_ATTR,
        {
            "version": __version__,
            "definition": definition.to_dict(),
            "artifacts": str(folder),
            "data": dataset.summary,
            "preprocessing": dataset.preprocessing,
            "class_names": list(dataset.class_names),
        },
    )
    if created:
        study.set_metric_names(list(settings.objective_metrics))
    done_before = len(finished_trials(study))
    summary = RunSummary(name=settings.name, target=settings.n_trials, done_before=done_before)
    if on_start:
        on_start(
            RunStart(
                name=settings.name,
                storage=redact(url),
                target=settings.n_trials,
                done=done_before,
                created=created,
                pruning=settings.uses_pruning,
                multi_objective=settings.multi_objective,
                metrics=settings.objective_metrics,
                data=dataset.summary,
                best=_best(study, settings.multi_objective)[1],
            )
        )
    objective = _Objective(definition, dataset, folder)
    started = time.monotonic()

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        done = len(finished_trials(study))
        if done >= settings.n_trials:
            study.stop()
        if on_trial and not trial.user_attrs.get("interrupted"):
            _, best, _ = _best(study, settings.multi_objective)
            on_trial(
                TrialEvent(
                    number=trial.number,
                    state=trial.state.name,
                    values=list(trial.values) if trial.values else None,
                    reason=trial.user_attrs.get("fail_reason"),
                    done=done,
                    target=settings.n_trials,
                    best=best,
                    elapsed=time.monotonic() - started,
                )
            )

    remaining = settings.n_trials - done_before
    if remaining > 0:
        try:
            with _signals_as_interrupt():
                study.optimize(
                    objective,
                    n_trials=remaining,
                    timeout=settings.timeout,
                    catch=(TrialFailed,),
                    callbacks=[after_trial],
                    gc_after_trial=True,
                )
        except KeyboardInterrupt:
            summary.interrupted = True
            _fail_running(study, objective.running)
    trials = study.get_trials(deepcopy=False)
    counted = finished_trials(study)
    summary.done = len(counted)
    summary.complete = sum(trial.state == TrialState.COMPLETE for trial in trials)
    summary.pruned = sum(trial.state == TrialState.PRUNED for trial in trials)
    summary.failed = sum(
        trial.state == TrialState.FAIL and not trial.user_attrs.get("interrupted") for trial in trials
    )
    summary.best_number, summary.best_values, summary.pareto = _best(study, settings.multi_objective)
    summary.elapsed = time.monotonic() - started
    return summary


def _fail_running(study: optuna.Study, trial_ids: set[int]) -> None:
    """Mark trials this process left RUNNING (interrupted outside the objective) as FAIL."""
    storage = study._storage
    for trial_id in list(trial_ids):
        try:
            if storage.get_trial(trial_id).state == TrialState.RUNNING:
                storage.set_trial_user_attr(trial_id, "interrupted", True)
                storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except (RessearchError, RuntimeError, ValueError):
            continue
