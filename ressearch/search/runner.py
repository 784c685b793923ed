"""Create, resume and run studies: prepare, optimize, summarize.

A ressearch study is an ordinary Optuna study whose :class:`StudyMeta` holds what resuming and
exporting need, so both need only the storage and the study name. ``n_trials`` is the total
the study should reach: a second run adds only the missing trials. :func:`run_study` is
:func:`prepare` (storage, data, resumability, sampler and pruner, metadata), :func:`optimize`
(trials until the total, a clean stop on Ctrl-C/SIGTERM) and :func:`summarize`; each can be
used alone. Nothing here prints: callers get events.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ressearch.config.space import ArchitectureSpace
from ressearch.config.study import StudyDefinition
from ressearch.data.dataset import Dataset, load_dataset
from ressearch.errors import ConfigError, StorageUnavailable, TrialFailed
from ressearch.redact import redact
from ressearch.runtime import resident_mb
from ressearch.search.counting import TrialCounts, count_trials
from ressearch.search.objective import EpochEvent, Objective, checkpoint_folder
from ressearch.search.record import StudyMeta, TrialRecord
from ressearch.search.resume import check_resumable
from ressearch.search.retry import (
    RETRY_HISTORY,
    StaleTrialRetry,
    counted,
    counts,
    fail_silent_trials,
    free_slots,
    reap_vanished_workers,
    requeue,
    superseded,
)
from ressearch.search.samplers import make_pruner, make_sampler
from ressearch.search.warmstart import Seed, enqueue_warm_starts, new_warm_starts, resolve_warm_starts
from ressearch.signals import raise_interrupt, stop_signals
from ressearch.storage.artifacts import artifact_dir_for
from ressearch.storage.outages import is_outage, stop_waiting
from ressearch.storage.studies import study_names
from ressearch.storage.urls import creation_lock, is_sqlite, open_storage, resolve_storage_url, sqlite_file

__all__ = [
    "EpochEvent",
    "PreparedStudy",
    "Recycle",
    "Requeued",
    "RunStart",
    "RunSummary",
    "TrialEvent",
    "best_so_far",
    "finished_trials",
    "optimize",
    "prepare",
    "requeued_trials",
    "run_study",
    "sampler_seed",
    "summarize",
    "trial_event",
]

_POLL_S = 2.0  # how often a worker with no slot left looks again (a trial may be requeued)
# Its first looks come sooner, doubling up to _POLL_S: at a study's end the worker with no slot
# waits for the other's last trial, which often ends within the second (it exited up to 2 s late).
_FIRST_POLL_S = 0.25


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
    warm_starts: tuple[str, ...] = ()  # the entries this run enqueued (see Seed.source)


@dataclass(frozen=True)
class TrialEvent:
    """One finished trial, and where the study stands after it.

    Built by :func:`trial_event` from the frozen trial, so a run in this process and a watcher
    of the storage (``run --workers``) tell the same.
    """

    number: int
    state: str
    values: list[float] | None  # a pruned trial's: the last value it reported
    reason: str | None
    done: int
    target: int
    best: list[float] | None
    elapsed: float  # seconds since the run started
    model_params: int | None = None
    architecture: str | None = None  # the network in one line (ArchitectureConfig.describe)
    duration: float | None = None  # seconds from the trial's start to its end
    epochs: int | None = None  # epochs it trained
    metrics: dict[str, float] | None = None  # what it measured (a complete trial)


@dataclass
class Recycle:
    """When a worker process should end so a fresh one takes over: memory grows with every
    trial a TensorFlow process trains, and only a new process gives it back.

    ``due`` is set once the worker has run ``max_trials`` trials or its resident memory passed
    ``max_rss_mb``; the run then stops starting trials.
    """

    max_trials: int | None = None
    max_rss_mb: float | None = None
    trials: int = 0
    due: bool = False

    def after_trial(self) -> bool:
        self.trials += 1
        over_count = self.max_trials is not None and self.trials >= self.max_trials
        over_memory = self.max_rss_mb is not None and resident_mb() > self.max_rss_mb
        self.due = self.due or over_count or over_memory
        return self.due


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
    not_counted: int = 0  # finished trials that hold no slot: interrupted, retried, surplus
    interrupted: bool = False
    recycled: bool = False  # the worker stopped to be replaced by a fresh process (see Recycle)
    best_number: int | None = None
    best_values: list[float] | None = None
    elapsed: float = 0.0
    pareto: list[int] = field(default_factory=list)
    requeued: list[Requeued] = field(default_factory=list)  # what the next run continues first

    @property
    def counts(self) -> TrialCounts:
        """The counts as :mod:`ressearch.search.counting` tells them (``studies`` and ``best`` too)."""
        return TrialCounts(
            complete=self.complete,
            pruned=self.pruned,
            failed=self.failed,
            not_counted=self.not_counted,
            target=self.target,
        )


@dataclass(frozen=True)
class Requeued:
    """An interrupted trial and the retry that continues it: a WAITING trial with its parameters
    and seed, which the next run starts before any new trial. The retry restores the chain's
    checkpoint, so it trains from ``checkpointed`` epochs on (0: from the start)."""

    number: int
    retry: int
    checkpointed: int
    epochs: int | None  # the epochs it was to train (None: it had not sampled them)


@dataclass
class PreparedStudy:
    """A study ready to run: created or resumed, its data loaded, its metadata written."""

    definition: StudyDefinition
    study: optuna.Study
    dataset: Dataset
    storage: str  # redacted
    artifacts: Path
    created: bool
    done_before: int
    retry: StaleTrialRetry = field(default_factory=lambda: StaleTrialRetry(3))
    warm_started: list[Seed] = field(default_factory=list)  # the warm starts this run enqueued

    def start_event(self) -> RunStart:
        settings = self.definition.settings
        return RunStart(
            name=settings.name,
            storage=self.storage,
            target=settings.n_trials,
            done=self.done_before,
            created=self.created,
            pruning=settings.uses_pruning,
            multi_objective=settings.multi_objective,
            metrics=settings.objective_metrics,
            data=self.dataset.summary,
            best=best_so_far(self.study)[1],
            warm_starts=tuple(seed.source for seed in self.warm_started),
        )


def trial_event(
    trial: FrozenTrial, *, done: int, target: int, best: list[float] | None, elapsed: float
) -> TrialEvent:
    """The event of a finished trial, read from its frozen trial and record."""
    record = TrialRecord.from_trial(trial)
    return TrialEvent(
        number=trial.number,
        state=trial.state.name,
        values=list(trial.values) if trial.values else None,
        reason=record.fail_reason,
        done=done,
        target=target,
        best=best,
        elapsed=elapsed,
        model_params=record.model_params,
        architecture=record.describe_network(),
        duration=trial.duration.total_seconds() if trial.duration is not None else None,
        epochs=record.epochs,
        metrics=record.metrics,
    )


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that count towards the total: complete, pruned or failed, and not continued by a
    retry (an interrupted trial, or one whose worker vanished), so no trial counts twice."""
    return counted(study.get_trials(deepcopy=False))


def best_so_far(study: optuna.Study) -> tuple[int | None, list[float] | None, list[int]]:
    """The best trial's number and value(s), and the Pareto set's numbers (several objectives)."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None, None, []
    if len(study.directions) > 1:
        return None, None, [trial.number for trial in study.best_trials]
    best = study.best_trial
    return best.number, [float(best.value)] if best.value is not None else None, [best.number]


def sampler_seed(seed: int, existing: int, worker_index: int | None = None) -> int:
    """The sampler's seed: it moves on with the study (a resumed run does not replay old samples)
    and, for one of several workers, with the worker's index.

    Example:
        >>> sampler_seed(0, 5)
        5
        >>> len({sampler_seed(0, 5, index) for index in range(4)})
        4
    """
    if worker_index is None:
        return seed + existing
    digest = hashlib.sha256(f"{seed}:{worker_index}:{existing}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def prepare(
    definition: StudyDefinition,
    *,
    storage: str | None = None,
    artifacts: str | Path | None = None,
    worker_index: int | None = None,
) -> PreparedStudy:
    """Open the storage, load the data, and create the study or check that it can be resumed.

    Bad data, a metric the task cannot measure, a hypermodel that cannot be imported or made
    for the data, a study that cannot be resumed with this file or a warm start the spaces cannot
    express (or that finds no free slot) raise before anything is written. The definition's
    warm starts not queued yet are enqueued (see :mod:`ressearch.search.warmstart`).
    ``worker_index`` (one of several workers) gives the sampler a seed stream of its own,
    reproducible from the study seed and that index, so workers started together do not repeat
    each other's samples.
    """
    settings = definition.settings
    if definition.hypermodel is not None and definition.warm_start:
        raise ConfigError(
            f"{definition.warm_start[0].label}: warm starts are ressearch architectures, and this study's "
            "space is a KerasTuner hypermodel; drop warm_start (and --enqueue)"
        )
    url = resolve_storage_url(storage)
    # A server is checked before the data loads; an SQLite file is created only once the data is
    # known to be good, so a bad dataset leaves no database behind.
    retry = StaleTrialRetry(settings.max_retries)

    def connect() -> optuna.storages.BaseStorage:
        return open_storage(
            url, grace_period=settings.grace_period, outage_s=settings.outage_s, on_stale=retry
        )

    backend = None if is_sqlite(url) else connect()
    dataset = load_dataset(definition.data, seed=settings.seed)
    from ressearch.data.tasks import check_task  # Keras-free: see ressearch.data.tasks

    if dataset.task == "regression" and "label_smoothing" in definition.train.inherited:
        # `train: tabular` smooths class labels; a regression study has none to smooth.
        definition = replace(definition, train=definition.train.without("label_smoothing"))
    check_task(settings.objective_metrics, dataset, label_smoothing="label_smoothing" in definition.train)
    if definition.hypermodel is not None:  # its module, attribute and arguments, before any database
        from ressearch.search.hypermodel import check_hypermodel

        check_hypermodel(definition.hypermodel, dataset)
    if backend is None and any(entry.kind == "study" for entry in definition.warm_start):
        # Other studies are read from the storage: an SQLite file is opened only if it exists.
        backend = connect() if sqlite_file(url).exists() else None
    seeds: list[Seed] = []
    if isinstance(definition.space, ArchitectureSpace):  # a hypermodel study has none (above)
        seeds = resolve_warm_starts(
            definition.warm_start,
            space=definition.space,
            train_space=definition.train,
            input_shape=dataset.input_shape,
            outputs=dataset.outputs,
            head="regression" if dataset.task == "regression" else "classification",
            output_scale=dataset.target_scale,
            continuous_features=dataset.continuous_features,
            categorical_columns=dataset.categorical_columns,
            storage=backend,
            study_name=settings.name,
            grid=settings.sampler == "grid",
        )
    new_warm_starts(seeds, [], settings.n_trials)  # more than n_trials: fail before a database exists
    backend = backend or connect()
    # Processes started together: one creates the study, the others find it with its metadata.
    with creation_lock(url, backend):
        study, created, previous_meta, seeds = _create_or_resume(
            definition, backend, worker_index, seeds, artifacts
        )
        if previous_meta is not None:
            definition = _keeping_named_keys(definition, previous_meta.study_definition())
        if artifacts:
            folder = Path(artifacts).resolve()
        elif previous_meta is not None:
            folder = Path(previous_meta.artifacts)
        else:
            folder = artifact_dir_for(url)
        StudyMeta(
            definition=definition.to_dict(),
            artifacts=str(folder),
            data=dataset.summary,
            preprocessing=dataset.preprocessing,
            class_names=list(dataset.class_names),
        ).write(study, previous=previous_meta)  # study.json first, then the attribute naming it
        enqueue_warm_starts(study, seeds)  # under the lock: two processes never enqueue one entry twice
    reap_vanished_workers(study, retry)  # before counting: their retries are waiting to run
    return PreparedStudy(
        definition=definition,
        study=study,
        dataset=dataset,
        storage=redact(url),
        artifacts=folder,
        created=created,
        done_before=len(finished_trials(study)),
        retry=retry,
        warm_started=seeds,
    )


def _keeping_named_keys(definition: StudyDefinition, stored: StudyDefinition) -> StudyDefinition:
    """``definition`` (a study file) resuming ``stored`` (the study as created): the keys its
    sections took from a name (`space: tabular`) keep the stored values, so a change to a named
    section since then never changes how the study's next trials are sampled and trained."""
    space = definition.space
    if isinstance(space, ArchitectureSpace) and isinstance(stored.space, ArchitectureSpace):
        space = space.keeping_named_keys_of(stored.space)
    return replace(definition, space=space, train=definition.train.keeping_named_keys_of(stored.train))


def _create_or_resume(
    definition: StudyDefinition,
    backend: optuna.storages.BaseStorage,
    worker_index: int | None,
    seeds: list[Seed],
    artifacts: str | Path | None = None,
) -> tuple[optuna.Study, bool, StudyMeta | None, list[Seed]]:
    """The study, created or loaded (checked resumable); whether it was created; its metadata;
    the warm starts it does not hold yet."""
    settings = definition.settings
    created = settings.name not in study_names(backend)
    existing = 0
    previous_meta = None
    trials: list[FrozenTrial] = []
    if not created:
        previous = optuna.load_study(study_name=settings.name, storage=backend)
        previous_meta = check_resumable(previous, definition, artifacts)
        trials = previous.get_trials(deepcopy=False)
        existing = len(trials)
    seeds = new_warm_starts(seeds, trials, settings.n_trials)  # a study with no room raises here
    # The sampler's seed moves on with the study, so a resumed run does not replay old samples.
    sampler = make_sampler(
        settings.sampler,
        seed=sampler_seed(settings.seed, existing, worker_index),
        multi_objective=settings.multi_objective,
        grid=definition.grid() if settings.sampler == "grid" else None,
    )
    study = optuna.create_study(
        study_name=settings.name,
        storage=backend,
        sampler=sampler,
        pruner=make_pruner(
            settings.pruner,
            enabled=settings.uses_pruning,
            startup_trials=settings.pruner_startup_trials,
            warmup_epochs=settings.pruner_warmup_epochs,
        ),
        directions=list(settings.objective_directions),
        load_if_exists=True,
    )
    if created:
        study.set_metric_names(list(settings.objective_metrics))
    return study, created, previous_meta, seeds


def optimize(
    prepared: PreparedStudy,
    *,
    on_trial: Callable[[TrialEvent], None] | None = None,
    on_epoch: Callable[[EpochEvent], None] | None = None,
    objective: Objective | None = None,
    recycle: Recycle | None = None,
) -> bool:
    """Run trials until the study has ``n_trials`` counted trials (or its timeout passes).

    Several workers share the total exactly: a trial starts only in a free slot (the study's
    counted, running and waiting trials are fewer than ``n_trials``), and a worker with no slot
    left waits for a retry of the trials in flight elsewhere (at most ``study.grace_period``, the
    time a vanished worker's trial takes to be failed and requeued), then leaves them to finish.
    Ctrl-C and SIGTERM end the run cleanly: the interrupted trial is marked FAIL with
    ``interrupted`` set and requeued (a later run continues it) and no trial this process ran is
    left RUNNING. ``on_trial`` hears of each counted trial as it ends, ``on_epoch`` of each
    trial this process runs as it starts training and at the end of each epoch.

    Returns:
        True if the run was interrupted.
    """
    settings = prepared.definition.settings
    study = prepared.study
    objective = objective or Objective(
        prepared.definition, prepared.dataset, artifacts=prepared.artifacts, on_epoch=on_epoch
    )
    # What is alive now (TensorFlow, Optuna, the data, the storage) lives as long as the process:
    # frozen, it is skipped by every collection, the one each trial starts with included. On the
    # overhead benchmark's tabular study this took fit ~12 % faster (benchmarks/overhead.py).
    # The training layer (Keras, TensorFlow) is imported first: the first trial would import it
    # anyway, and a caller of run_study that has not (the CLI has) would leave its ~430,000
    # objects to every trial's collection, 0.2 s each here.
    import ressearch.training  # noqa: F401

    gc.freeze()
    started = time.monotonic()

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        reap_vanished_workers(study, prepared.retry)
        trials = study.get_trials(deepcopy=False)
        done = len(counted(trials))
        no_slot = free_slots(trials, settings.n_trials) <= 0 and not _waiting(trials)
        if no_slot or (recycle is not None and recycle.after_trial()):
            study.stop()  # no trial to start (the rest are done or in flight), or time for a new process
        if on_trial and counts(trial, superseded(trials)):
            on_trial(
                trial_event(
                    trial,
                    done=done,
                    target=settings.n_trials,
                    best=best_so_far(study)[1],
                    elapsed=time.monotonic() - started,
                )
            )

    deadline = started + settings.timeout if settings.timeout else None
    waited_since: float | None = None
    pause = _FIRST_POLL_S
    try:
        with stop_signals(raise_interrupt):
            while True:
                reap_vanished_workers(study, prepared.retry)
                optuna.storages.fail_stale_trials(study)  # other machines' vanished workers
                fail_silent_trials(study, settings.grace_period, prepared.retry)  # the same, via a proxy
                trials = study.get_trials(deepcopy=False)
                remaining = settings.n_trials - len(counted(trials))
                left = None if deadline is None else deadline - time.monotonic()
                if (
                    remaining <= 0
                    or (left is not None and left <= 0)
                    or (recycle is not None and recycle.due)
                ):
                    return False
                if free_slots(trials, settings.n_trials) <= 0 and not _waiting(trials):
                    # Every slot is done or in flight elsewhere: wait, as one may be requeued, but no
                    # longer than a vanished worker's trial takes to be failed and retried.
                    waited_since = waited_since or time.monotonic()
                    if time.monotonic() - waited_since > settings.grace_period + 2 * _POLL_S:
                        return False
                    time.sleep(pause)
                    pause = min(_POLL_S, 2 * pause)
                    continue
                waited_since, pause = None, _FIRST_POLL_S
                study.optimize(
                    objective,
                    n_trials=remaining,
                    timeout=left,
                    catch=(TrialFailed,),
                    callbacks=[after_trial],
                    # train_trial collects once at its start; a second collection frees nothing.
                    gc_after_trial=False,
                )
    except KeyboardInterrupt:
        _fail_running(study, objective.running)
        return True
    except Exception as error:
        if not is_outage(error):
            raise
        # The storage stayed away for longer than the study waits: write what can still be written
        # at once (the storage may be back), then stop with one line.
        stop_waiting(study._storage)
        numbers = sorted(objective.running.values())
        unreached = _fail_running(study, objective.running)
        raise StorageUnavailable(_outage_message(prepared, numbers, unreached)) from None


def summarize(prepared: PreparedStudy, *, interrupted: bool = False, elapsed: float = 0.0) -> RunSummary:
    """Where the study stands: the counts (:func:`~ressearch.search.counting.count_trials`), the
    best trial or the Pareto set, and, after an interruption, what the next run continues."""
    study = prepared.study
    settings = prepared.definition.settings
    trials = study.get_trials(deepcopy=False)
    counts = count_trials(trials, settings.n_trials)
    summary = RunSummary(
        name=settings.name,
        target=settings.n_trials,
        done_before=prepared.done_before,
        done=counts.counted,
        complete=counts.complete,
        pruned=counts.pruned,
        failed=counts.failed,
        not_counted=counts.not_counted,
        interrupted=interrupted,
        elapsed=elapsed,
        requeued=requeued_trials(trials, prepared.artifacts, settings.name) if interrupted else [],
    )
    summary.best_number, summary.best_values, summary.pareto = best_so_far(study)
    return summary


def requeued_trials(trials: list[FrozenTrial], artifacts: Path, study_name: str) -> list[Requeued]:
    """The interrupted trials whose retry waits to run, and the epochs their checkpoint holds."""
    from ressearch.training.checkpoint import read_checkpoint

    by_number = {trial.number: trial for trial in trials}
    found = []
    for retry in trials:
        history = retry.system_attrs.get(RETRY_HISTORY) or []
        stopped = by_number.get(history[-1]) if retry.state == TrialState.WAITING and history else None
        if stopped is None or not TrialRecord.from_trial(stopped).is_interrupted:
            continue
        checkpoint = read_checkpoint(checkpoint_folder(artifacts, study_name, int(history[0])))
        epochs = TrialRecord.from_trial(stopped).planned_epochs
        found.append(
            Requeued(
                number=stopped.number,
                retry=retry.number,
                checkpointed=checkpoint.epochs if checkpoint is not None else 0,
                epochs=int(epochs) if isinstance(epochs, int) else None,
            )
        )
    return found


def run_study(
    definition: StudyDefinition,
    *,
    storage: str | None = None,
    artifacts: str | Path | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    on_start: Callable[[RunStart], None] | None = None,
    on_trial: Callable[[TrialEvent], None] | None = None,
    on_epoch: Callable[[EpochEvent], None] | None = None,
    worker_index: int | None = None,
    recycle: Recycle | None = None,
) -> RunSummary:
    """Create the study, or resume it, and run trials until it has ``n_trials`` in all.

    :func:`prepare`, then :func:`optimize`, then :func:`summarize`; see each.

    Example (trains two small networks, about ten seconds)::

        from ressearch.config import load_study_file
        summary = run_study(load_study_file("studies/quickstart.yaml"), n_trials=2)
    """
    prepared = prepare(
        definition.with_overrides(n_trials=n_trials, timeout=timeout),
        storage=storage,
        artifacts=artifacts,
        worker_index=worker_index,
    )
    if on_start:
        on_start(prepared.start_event())
    started = time.monotonic()
    interrupted = optimize(prepared, on_trial=on_trial, on_epoch=on_epoch, recycle=recycle)
    summary = summarize(prepared, interrupted=interrupted, elapsed=time.monotonic() - started)
    summary.recycled = recycle is not None and recycle.due and summary.done < summary.target
    return summary


def _waiting(trials: list[FrozenTrial]) -> bool:
    """Whether a trial waits to run (a retry, or one enqueued): a worker runs it before new ones."""
    return any(trial.state == TrialState.WAITING for trial in trials)


def _fail_running(study: optuna.Study, running: dict[int, int]) -> list[int]:
    """Mark trials this process left RUNNING (interrupted outside the objective) as FAIL and
    requeue them; the numbers of those it could not reach (best effort: the storage may be gone).

    ``running`` maps trial ids to trial numbers.
    """
    storage = study._storage
    left = []
    for trial_id, number in list(running.items()):
        try:
            if storage.get_trial(trial_id).state == TrialState.RUNNING:
                requeue(study, trial_id)
                TrialRecord.interruption().write_to_storage(storage, trial_id)
                storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except Exception:  # an outage, or a trial another process finished meanwhile
            left.append(number)
    return left


def _outage_message(prepared: PreparedStudy, running: list[int], left: list[int]) -> str:
    """The one line a run ends with when its storage stayed away for longer than it waits."""
    settings = prepared.definition.settings
    message = (
        f"storage: {prepared.storage} did not answer for {settings.outage_s:g} s "
        "(study.storage_timeout); run the same command again once it is back"
    )
    if left:
        trials = ", ".join(map(str, left))
        return (
            f"{message}: trial {trials} stays RUNNING until then, and the next run fails it and "
            "retries it from its last checkpoint"
        )
    if running:
        return (
            f"{message}: trial {', '.join(map(str, running))} was requeued and continues from its checkpoint"
        )
    return message
