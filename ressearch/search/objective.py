"""The objective of a ressearch study: sample, train, record; one call per trial.

Each step is a method that can be used alone (a worker, a retry or a benchmark calls the pieces
it needs). A trial that goes wrong raises :class:`TrialFailed` with one line saying why; Optuna
marks it failed and the study goes on. Ctrl-C or SIGTERM marks the trial interrupted.

A study of a KerasTuner hypermodel takes the same steps: ``sample`` decides the training
settings and records the hypermodel, and the network's hyperparameters are suggested as the
hypermodel builds, inside ``train`` (:class:`~ressearch.search.hypermodel.HypermodelTrial`). A
hypermodel that does not fit its study raises :class:`HypermodelError`, which fails the trial and
stops the run, since every trial would fail alike.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from ressearch.config.architecture import ArchitectureConfig
from ressearch.config.hypermodel import HypermodelConfig
from ressearch.config.space import ArchitectureSpace
from ressearch.config.study import StudyDefinition
from ressearch.config.training import TrainConfig
from ressearch.data.dataset import Dataset
from ressearch.errors import ConfigError, HypermodelError, TrialFailed
from ressearch.redact import redact
from ressearch.runtime import resident_mb
from ressearch.search.record import TrialConfig, TrialMeasurements, TrialRecord
from ressearch.search.retry import (
    SURPLUS_REASON,
    beating,
    chain_number,
    process_start_time,
    requeue,
    take_slot,
)
from ressearch.search.space import sample, sample_train
from ressearch.search.warmstart import duplicate_of
from ressearch.storage.artifacts import open_artifact_store, upload_model
from ressearch.storage.outages import is_outage, stop_waiting
from ressearch.storage.urls import heartbeat_interval

if TYPE_CHECKING:
    import keras

    from ressearch.arch.hypermodel import LoadedHypermodel
    from ressearch.training.callbacks import CurveRecorder
    from ressearch.training.fit import TrialResult
    from ressearch.training.speed import Runtime

__all__ = ["EpochEvent", "Objective", "SampledTrial", "checkpoint_folder", "worker_name"]


def worker_name() -> str:
    """``host:pid`` of this process, recorded on each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def checkpoint_folder(artifacts: Path, study_name: str, chain: int) -> Path:
    """Where the trials of one retry chain (first trial number ``chain``) keep their checkpoint."""
    return artifacts / "checkpoints" / study_name / f"trial-{chain}"


@dataclass(frozen=True)
class SampledTrial:
    """What one trial will train: its network, its training settings and its seed.

    The network is an architecture, or (in a hypermodel study) the hypermodel that builds it
    with the hyperparameters the trial suggests as it builds.
    """

    architecture: ArchitectureConfig | None
    train: TrainConfig
    seed: int
    chain: int  # the first trial of its retry chain (its own number if it is no retry)
    hypermodel: HypermodelConfig | None = None


@dataclass(frozen=True)
class EpochEvent:
    """A running trial's progress: sent when it starts training (``epoch`` is then the epochs its
    checkpoint restored, usually 0, and ``metrics`` is empty) and at the end of every epoch."""

    number: int  # the trial
    epoch: int  # epochs done
    epochs: int  # epochs it trains at most
    metrics: dict[str, float]  # the last epoch's logs: loss, val_accuracy, ...
    elapsed: float  # seconds since the trial started

    @property
    def starting(self) -> bool:
        """Whether this is the trial starting to train (no epoch has ended yet in this run)."""
        return not self.metrics


class Objective:
    """Sample, train, record: one call per trial.

    Example (a study that trains; see ``tests/search/test_objective.py``)::

        objective = Objective(definition, dataset, artifacts=folder)
        study.optimize(objective, n_trials=3, catch=(TrialFailed,))
    """

    def __init__(
        self,
        definition: StudyDefinition,
        dataset: Dataset,
        *,
        artifacts: Path,
        on_epoch: Callable[[EpochEvent], None] | None = None,
    ) -> None:
        self.definition = definition
        self.on_epoch = on_epoch
        self.dataset = dataset
        self.store = open_artifact_store(artifacts)
        self.artifacts = Path(artifacts)
        self.running: dict[int, int] = {}  # trial id -> number of the trials this process has in flight
        self.worker = worker_name()
        self.worker_started = process_start_time(os.getpid())
        self._runtime: Runtime | None = None
        self._hypermodel: LoadedHypermodel | None = None

    @property
    def runtime(self) -> Runtime:
        """The study's ``runtime:`` switches decided for the devices this process sees."""
        if self._runtime is None:
            from ressearch.training.speed import resolve_runtime

            self._runtime = resolve_runtime(self.definition.runtime)
        return self._runtime

    @property
    def hypermodel(self) -> LoadedHypermodel | None:
        """The study's KerasTuner hypermodel, imported and made for the data once per process;
        None for a study of ressearch's architectures."""
        space = self.definition.hypermodel
        if space is not None and self._hypermodel is None:
            from ressearch.search.hypermodel import check_hypermodel

            self._hypermodel = check_hypermodel(space, self.dataset)
        return self._hypermodel

    def sample(self, trial: optuna.Trial) -> SampledTrial:
        """The trial's architecture, training settings and seed; recorded before training starts.

        In a hypermodel study, the hypermodel is recorded instead of an architecture: the
        network's hyperparameters are suggested as it builds (see :meth:`train`).

        Raises:
            TrialFailed: the sampled combination is impossible (it fails this trial alone).
        """
        if self.hypermodel is not None:
            return self._sample_for_hypermodel(trial, self.hypermodel.config)
        space = self.definition.space
        assert isinstance(space, ArchitectureSpace)  # a study without a hypermodel samples one
        try:
            architecture = sample(
                trial,
                space,
                input_shape=self.dataset.input_shape,
                outputs=self.dataset.outputs,
                head="regression" if self.dataset.task == "regression" else "classification",
                output_scale=self.dataset.target_scale,
                continuous_features=self.dataset.continuous_features,
                categorical_columns=self.dataset.categorical_columns,
            )
        except ConfigError as error:
            raise TrialFailed(f"sampled an impossible architecture: {error}") from None
        try:
            train = sample_train(trial, self.definition.train)
        except ConfigError as error:
            raise TrialFailed(f"sampled impossible training settings: {error}") from None
        chain = chain_number(trial.study._storage.get_trial(trial._trial_id))
        sampled = SampledTrial(architecture, train, self.definition.settings.seed + chain, chain)
        self._started(trial, TrialConfig(architecture=architecture.to_dict(), train=train.to_dict()), sampled)
        return sampled

    def _sample_for_hypermodel(self, trial: optuna.Trial, network: HypermodelConfig) -> SampledTrial:
        try:
            train = sample_train(trial, self.definition.train)
        except ConfigError as error:
            raise TrialFailed(f"sampled impossible training settings: {error}") from None
        chain = chain_number(trial.study._storage.get_trial(trial._trial_id))
        sampled = SampledTrial(None, train, self.definition.settings.seed + chain, chain, hypermodel=network)
        # Its config.json is stored once the hypermodel has built (and fitted) the network: only
        # then are its hyperparameter values known (see train).
        self._started(
            trial, TrialConfig(hypermodel=network.to_dict(), train=train.to_dict()), sampled, upload=False
        )
        return sampled

    def _started(
        self, trial: optuna.Trial, config: TrialConfig, sampled: SampledTrial, *, upload: bool = True
    ) -> None:
        TrialRecord.started(
            trial,
            self.store if upload else None,
            config,
            seed=sampled.seed,
            worker=self.worker,
            worker_started=self.worker_started,
            devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
            threads=_threads(),
        )

    @property
    def reports_epochs(self) -> bool:
        """Whether each epoch's objective metric is an intermediate value of the trial: for one
        objective measured on validation data (Optuna keeps none for several objectives)."""
        settings = self.definition.settings
        return not settings.multi_objective and settings.objective_metrics[0].startswith("val_")

    def callbacks(
        self, trial: optuna.Trial, sampled: SampledTrial | None = None
    ) -> list[keras.callbacks.Callback]:
        """Report each epoch's objective metric (optuna-dashboard plots them as learning curves)
        and prune on it where the study prunes; tell ``on_epoch`` how the trial goes."""
        import keras

        callbacks: list[keras.callbacks.Callback] = []
        monitor = self.definition.settings.objective_metrics[0]
        if sampled is not None and sampled.hypermodel is not None:  # it compiles with metrics of its own
            from ressearch.search.hypermodel import metric_check

            callbacks.append(metric_check(self.definition.settings.objective_metrics))
        if self.reports_epochs and self.definition.settings.uses_pruning:
            from optuna_integration import KerasPruningCallback

            callbacks.append(KerasPruningCallback(trial, monitor))
        elif self.reports_epochs:

            def report(epoch: int, logs: dict[str, Any] | None) -> None:
                if logs and monitor in logs:
                    trial.report(float(logs[monitor]), epoch)

            callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=report))
        on_epoch = self.on_epoch
        if on_epoch is not None and sampled is not None:
            started = time.monotonic()
            total = sampled.train.epochs

            def tell(epoch: int, logs: dict[str, Any] | None) -> None:
                metrics = {name: float(value) for name, value in (logs or {}).items()}
                on_epoch(EpochEvent(trial.number, epoch + 1, total, metrics, time.monotonic() - started))

            callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=tell))
        return callbacks

    def claim_slot(self, trial: optuna.Trial) -> None:
        """Go on only if one of the study's ``n_trials`` slots is free for this trial.

        Raises:
            TrialFailed: every slot was done or taken by an earlier trial when this one started
                (another worker won the race): the trial is marked surplus, not counted, and
                this worker stops starting trials. Or the trial is a second copy of a warm
                start (two workers enqueued it at once): it is marked surplus and not counted.
        """
        twin = duplicate_of(trial.study._storage.get_trial(trial._trial_id), trial.study)
        if twin is not None:
            reason = (
                f"surplus: a second copy of trial {twin}'s warm start (enqueued twice at once); not counted"
            )
            TrialRecord(surplus=True, fail_reason=reason).write(trial)
            raise TrialFailed(reason)
        if not take_slot(trial, self.definition.settings.n_trials):
            raise TrialFailed(SURPLUS_REASON)

    def checkpoint(self, sampled: SampledTrial) -> Path:
        """The folder of this trial's per-epoch checkpoint (shared by its retry chain)."""
        return checkpoint_folder(self.artifacts, self.definition.settings.name, sampled.chain)

    def resume(self, trial: optuna.Trial, sampled: SampledTrial) -> int:
        """Continue the chain's checkpoint, if any: the pruner sees its epochs again, same steps.

        Returns:
            The number of epochs restored (0 for a fresh start).
        """
        from ressearch.training.checkpoint import read_checkpoint

        found = read_checkpoint(self.checkpoint(sampled))
        epochs = found.epochs if found is not None else 0
        TrialRecord(resumed_from=epochs).write(trial)
        if found is not None and self.reports_epochs:  # the pruner and the dashboard see them again
            monitor = self.definition.settings.objective_metrics[0]
            for step, value in enumerate(found.curve.get(monitor, [])[:epochs]):
                trial.report(value, step)
        return epochs

    def train(
        self, trial: optuna.Trial, sampled: SampledTrial, recorder: CurveRecorder
    ) -> tuple[TrialResult, str]:
        """Train the sampled network (continuing its checkpoint) and store the model as an artifact.

        A hypermodel's network is built by the hypermodel, the trial suggesting its
        hyperparameters, and fitted by its own ``fit`` where it defines one.

        Returns:
            The training result and the model's artifact id.
        """
        from ressearch.training.fit import Builder, Fitter, train_trial

        network: ArchitectureConfig | Builder
        fit: Fitter | None = None
        built = None
        if sampled.architecture is not None:
            network = sampled.architecture
        else:
            from ressearch.search.hypermodel import HypermodelTrial

            loaded = self.hypermodel
            space = self.definition.hypermodel
            assert loaded is not None and space is not None  # a hypermodel study samples none
            built = HypermodelTrial(
                loaded,
                trial,
                fixed=space.fixed,
                space=self.definition.train,
                train=sampled.train,
            )
            network = built.build
            fit = built.fit if built.own_fit else None
        with tempfile.TemporaryDirectory(prefix="ressearch-trial-") as folder:
            model_path = Path(folder) / "model.keras"
            try:
                result = train_trial(
                    network,
                    sampled.train,
                    self.dataset,
                    seed=sampled.seed,
                    callbacks=self.callbacks(trial, sampled),
                    recorder=recorder,
                    max_params=self.definition.settings.max_params,
                    save_to=model_path,
                    checkpoint=self.checkpoint(sampled),
                    latency="latency" in self.definition.settings.objective_metrics,
                    runtime=self.runtime,
                    fit=fit,
                )
            except HypermodelError:
                raise  # the study and its hypermodel disagree: every trial would fail alike
            except ConfigError as error:
                raise TrialFailed(f"cannot train this trial's config: {error}") from None
            finally:
                # A hypermodel's network, built (pruned, failed or trained): its values are known now.
                if built is not None and built.config is not None:
                    TrialRecord.with_config(trial, self.store, built.config)
            start = time.perf_counter()
            artifact_id = upload_model(self.store, model_path, trial)
            result.seconds["upload"] = round(time.perf_counter() - start, 4)
            return result, artifact_id

    def record(self, trial: optuna.Trial, result: TrialResult, artifact_id: str) -> float | list[float]:
        """Write what the trial measured (all of it to its metrics.json, the objective metrics to
        its record too); its objective value(s)."""
        settings = self.definition.settings
        measurements = TrialMeasurements(
            metrics=result.metrics,
            curve=result.curve,
            seconds=result.seconds,
            epochs=result.epochs,
            train_seconds=round(result.train_seconds, 3),
            model_params=result.model_params,
        )
        TrialRecord(
            model_artifact=artifact_id,
            metrics_artifact=TrialRecord.measured(trial, self.store, measurements),
            model_params=result.model_params,
            metrics={metric: result.metrics[metric] for metric in settings.objective_metrics},
            epochs=result.epochs,
            train_seconds=round(result.train_seconds, 3),
            worker_rss_mb=round(resident_mb(), 1),
        ).write(trial)
        values = [result.metrics[metric] for metric in settings.objective_metrics]
        return values if settings.multi_objective else values[0]

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        from ressearch.training.callbacks import CurveRecorder

        self.running[trial._trial_id] = trial.number
        recorder = CurveRecorder()
        outage = False
        try:
            with beating(trial, heartbeat_interval(self.definition.settings.grace_period)):
                return self._run(trial, recorder)
        except Exception as error:
            # The storage stayed away for as long as the study waits: Optuna's own write of the
            # failure must not wait again, and the run still owes this trial its end (see optimize).
            outage = is_outage(error)
            if outage:
                stop_waiting(trial.study._storage)
            raise
        finally:
            if not outage:
                self.running.pop(trial._trial_id, None)

    def _run(self, trial: optuna.Trial, recorder: CurveRecorder) -> float | list[float]:
        sampled: SampledTrial | None = None
        try:
            start = time.perf_counter()
            self.claim_slot(trial)
            sampled = self.sample(trial)
            restored = self.resume(trial, sampled)
            sampling = round(time.perf_counter() - start, 4)
            if self.on_epoch is not None:
                self.on_epoch(EpochEvent(trial.number, restored, sampled.train.epochs, {}, 0.0))
            result, artifact_id = self.train(trial, sampled, recorder)
            result.seconds = {"sample": sampling, **result.seconds}
            values = self.record(trial, result, artifact_id)
        except (TrialFailed, HypermodelError) as error:
            TrialRecord(
                fail_reason=redact(str(error)),
                metrics_artifact=self._curve(trial, recorder),
                model_params=recorder.model_params,
            ).write(trial)
            self._clear_checkpoint(sampled)
            raise
        except optuna.TrialPruned:
            TrialRecord(
                epochs=len(recorder.curve.get("loss", [])),
                metrics_artifact=self._curve(trial, recorder),
                model_params=recorder.model_params,
            ).write(trial)
            self._clear_checkpoint(sampled)
            raise
        except KeyboardInterrupt:
            # The checkpoint of the last whole epoch stays: the requeued trial continues from it.
            requeue(trial.study, trial._trial_id)
            TrialRecord.interruption().write(trial)
            raise
        self._clear_checkpoint(sampled)
        return values

    def _curve(self, trial: optuna.Trial, recorder: CurveRecorder) -> str | None:
        """The metrics.json of a trial that ends early: the curve of the epochs it trained (none:
        no file)."""
        if not recorder.curve:
            return None
        epochs = len(recorder.curve.get("loss", []))
        return TrialRecord.measured(trial, self.store, TrialMeasurements(curve=recorder.curve, epochs=epochs))

    def _clear_checkpoint(self, sampled: SampledTrial | None) -> None:
        """A trial that finished (complete, pruned or failed) needs its checkpoint no more."""
        from ressearch.training.checkpoint import clear_checkpoint

        if sampled is not None:
            clear_checkpoint(self.checkpoint(sampled))


def _threads() -> int | None:
    """TensorFlow's intra-op threads as this process was started with them (``run --workers``
    sets them on a machine without a GPU), or None where it was left to TensorFlow."""
    value = os.environ.get("TF_NUM_INTRAOP_THREADS", "")
    return int(value) if value.isdigit() else None
