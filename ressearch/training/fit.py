"""Build, compile and fit one trial's model; measure what the study optimises.

The network is an :class:`ArchitectureConfig` (built by :func:`build_model`) or a builder, a
callable that returns a Keras model, compiled or not (a KerasTuner hypermodel's ``build(hp)``
from the study layer): everything after the build is the same for both. Knows Keras and the
dataset, not Optuna or the storage: pruning arrives as an ordinary Keras callback from the
study layer. A trial that goes wrong (NaN loss, out of memory, a model over
the size limit) raises :class:`TrialFailed` with one line saying why; the study goes on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras

from ressearch.arch.builder import adapt_model, build_model
from ressearch.config.architecture import ArchitectureConfig
from ressearch.config.training import TrainConfig
from ressearch.data.dataset import Dataset
from ressearch.errors import TrialFailed
from ressearch.signals import held_interrupts
from ressearch.training.callbacks import CurveRecorder, StopBetweenBatches
from ressearch.training.checkpoint import EpochCheckpointer, read_checkpoint
from ressearch.training.compile import compile_model, targets
from ressearch.training.measure import evaluate, measure_latency
from ressearch.training.speed import Runtime
from ressearch.training.steps import counted_steps, keras_steps

__all__ = ["Builder", "Fitter", "TrialResult", "build_optimizer", "final_metrics", "train_trial"]

Builder = Callable[[], keras.Model]  # builds a trial's model (compiled or not) when called
Fitter = Callable[..., Any]  # fit(model, x, y, **fit_arguments), as `model.fit` takes them


@dataclass
class TrialResult:
    """What one trained trial measured; ``metrics`` holds every objective the task allows."""

    metrics: dict[str, float]
    curve: dict[str, list[float]]
    epochs: int
    train_seconds: float
    model_params: int
    seconds: dict[str, float]  # where the trial's time went: build, compile, fit, measure, save


def _fit(model: keras.Model, *args: Any, **kwargs: Any) -> Any:
    return model.fit(*args, **kwargs)


def train_trial(
    network: ArchitectureConfig | Builder,
    train: TrainConfig,
    dataset: Dataset,
    *,
    seed: int,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    recorder: CurveRecorder | None = None,
    max_params: int | None = None,
    save_to: Path | None = None,
    checkpoint: Path | None = None,
    latency: bool = False,
    runtime: Runtime | None = None,
    fit: Fitter | None = None,
    verbose: int = 0,
) -> TrialResult:
    """Build, compile and fit one trial; its validation metrics are those of the model it ends with.

    ``network`` is an architecture config, or a builder that returns a model: one it returns
    compiled keeps its compile (its loss decides the targets' form: one-hot rows for a
    categorical loss), one it returns uncompiled is compiled from ``train`` like an
    architecture's. ``fit`` replaces ``model.fit`` (called as ``fit(model, x, y, **arguments)``,
    callbacks among the arguments), for a KerasTuner hypermodel that defines its own.

    The recorded metrics are those of the model as saved to ``save_to`` (the best epoch's
    weights when early stopping restores them), so an exported model scores what was recorded.
    They are read from the validation pass ``fit`` ran at the end of that epoch, with those very
    weights: no second pass over the validation split. ``latency`` (only when a study optimises
    it) adds the inference milliseconds per sample. ``runtime`` (by default Keras' own settings:
    float32, no XLA, one step per execution, arrays, Grappler on; a study passes its resolved
    ``runtime:``) sets the precision, the graph optimizer, XLA, steps per execution and the
    input pipeline.
    A dataset with no validation rows (a refit on training and validation rows together) trains
    for ``train.epochs`` without validation or early stopping; its metrics are then the last
    epoch's training metrics (``loss``, ``accuracy``, ...), since nothing is left to validate on.
    With ``checkpoint`` (a folder), every epoch ends with a checkpoint there, and a checkpoint
    found there at the start is continued: weights, optimizer state and the learning curve are
    restored, training goes on from the next epoch, and the random generators are seeded from
    ``seed`` and that epoch. (Early stopping counts its patience from the resumed epoch.)

    Raises:
        TrialFailed: NaN loss, out of memory, or more than ``max_params`` parameters.
    """
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] = round(seconds.get(phase, 0.0) + now - clock, 4)
        clock = now

    # One collection a trial: clear_session() runs it after dropping Keras' global state
    # (benchmarks/collect.py: a second or third collection frees nothing and costs ~0.3 s).
    keras.backend.clear_session(free_memory=True)
    keras.utils.set_random_seed(seed)
    runtime = runtime or Runtime()
    runtime.apply_precision()
    runtime.apply_graph_optimizer()
    try:
        model = build_model(network) if isinstance(network, ArchitectureConfig) else network()
    finally:
        keras.mixed_precision.set_dtype_policy("float32")  # only this trial's model is mixed
    # Piecewise-linear bin edges: from the training rows only.
    adapt_model(model, dataset.x_train, dataset.y_train, classify=dataset.task != "regression")
    params = model.count_params()
    recorder = recorder or CurveRecorder()
    recorder.model_params = params
    if max_params is not None and params > max_params:
        raise TrialFailed(f"the model has {params:,} parameters, above study.max_params={max_params:,}")
    lap("build")
    if model.compiled:  # a builder's model, compiled as its author chose
        runtime.apply_to_compiled(model)
    else:
        compile_model(model, train, dataset, **runtime.compile_options())
    build_optimizer(model)
    all_callbacks: list[keras.callbacks.Callback] = [recorder]
    initial_epoch = 0
    if checkpoint is not None:
        found = read_checkpoint(checkpoint)
        if found is not None and found.restore(model):
            recorder.curve.update({name: list(values) for name, values in found.curve.items()})
            initial_epoch = found.epochs
            keras.utils.set_random_seed(seed + initial_epoch)
        all_callbacks.append(EpochCheckpointer(checkpoint, recorder.curve))
    all_callbacks.extend(callbacks)  # the pruner after the checkpoint: a pruned epoch is saved too
    if getattr(model.optimizer, "use_ema", False):
        # Validation sees the averaged weights; from the end of each epoch to the start of the
        # next the model holds them, so early stopping keeps (and restores) the best epoch's
        # average. After the checkpoint, which saves the weights being trained and the average
        # in the optimizer's slots, as a resumed fit needs them.
        all_callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    stopper = None
    validating = len(dataset.y_val) > 0
    if train.early_stopping_patience and validating:
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=train.early_stopping_patience, restore_best_weights=True
        )
        all_callbacks.append(stopper)
    counter = None
    if fit is None:  # Keras' fit, whose epochs have a known number of batches
        counter = counted_steps(
            model,
            train_steps=math.ceil(len(dataset.x_train) / train.batch_size),
            validation_steps=math.ceil(len(dataset.y_val) / train.batch_size) if validating else None,
        )
        if counter is not None:
            all_callbacks.insert(0, counter)
    all_callbacks.append(StopBetweenBatches())  # last: after the epoch's checkpoint and pruning
    lap("compile")
    start = time.perf_counter()
    # A builder's own fit gets the arrays, as Keras takes them, unless the study asked for a
    # pipeline itself or a GPU's is in use; ours a pipeline on a CPU too, cheaper per epoch.
    feed = replace(runtime, pipeline="arrays") if fit is not None and runtime.arrays_when_large else runtime
    x, y, feeding = feed.fit_inputs(
        dataset.x_train, targets(dataset, dataset.y_train, model), batch_size=train.batch_size, seed=seed
    )
    validation: Any = None
    if validating:
        y_val = targets(dataset, dataset.y_val, model)
        # A builder's own fit gets the arrays, as Keras takes them; ours a pipeline, cheaper per pass.
        validation = (
            (dataset.x_val, y_val)
            if fit is not None
            else runtime.validation_inputs(dataset.x_val, y_val, batch_size=train.batch_size)
        )
    try:
        with held_interrupts():  # a stop signal ends the fit between two batches, not inside one
            (fit or _fit)(
                model,
                x,
                y,
                validation_data=validation,
                validation_batch_size=train.batch_size
                if validating and isinstance(validation, tuple)
                else None,
                epochs=train.epochs,
                initial_epoch=initial_epoch,
                class_weight=dataset.class_weight,
                callbacks=all_callbacks,
                verbose=verbose,
                **feeding,
            )
    except Exception as error:
        if "ResourceExhausted" in type(error).__name__ or "out of memory" in str(error).lower():
            raise TrialFailed(f"out of memory while training ({type(error).__name__})") from None
        raise
    finally:
        if counter is not None:
            keras_steps(model)  # an evaluation on other rows after fit counts its own batches
    train_seconds = time.perf_counter() - start
    lap("fit")
    # The epoch whose weights the model ends with: the best one if early stopping restored it.
    restored = stopper.best_epoch if stopper is not None and stopper.best_weights is not None else None
    if not validating:
        metrics = {name: float(values[-1]) for name, values in recorder.curve.items() if values}
    else:
        metrics = final_metrics(recorder.curve, restored)
        if not metrics:  # no epoch ran and no checkpoint had any: measure the model as it is
            metrics = evaluate(model, dataset)
    if not all(math.isfinite(value) for value in metrics.values()):
        raise TrialFailed(f"the validation metrics are not finite: {metrics}")
    metrics["model_params"] = float(params)
    if latency and validating:
        metrics["latency"] = measure_latency(model, dataset.x_val)
    lap("measure")
    if save_to is not None:
        with held_interrupts():  # never a half-written model file
            model.save(save_to)
    lap("save")
    return TrialResult(
        metrics=metrics,
        curve=recorder.curve,
        epochs=len(recorder.curve.get("loss", [])),
        train_seconds=train_seconds,
        model_params=params,
        seconds=seconds,
    )


def build_optimizer(model: keras.Model) -> None:
    """Create the optimizer's slot variables now, outside ``fit``'s traced train step.

    Without a distribution strategy Keras 3 builds the optimizer on the first train step, inside
    the ``tf.function`` trace; a trace that creates variables is traced again, so every trial
    paid for two traces of its train step (a tabular trial's first epoch: 7.05 s with two,
    4.34 s with one; benchmarks/first_step.py). A model whose weights do not exist yet (a
    subclassed builder's) is left to Keras.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or optimizer.built or not model.built or not model.trainable_variables:
        return
    optimizer.build(model.trainable_variables)


def final_metrics(curve: dict[str, list[float]], epoch: int | None = None) -> dict[str, float]:
    """The validation metrics ``fit`` logged at the end of ``epoch`` (by default the last one).

    Example:
        >>> final_metrics({"loss": [0.9, 0.5], "val_loss": [0.8, 0.6], "val_accuracy": [0.5, 0.7]})
        {'val_loss': 0.6, 'val_accuracy': 0.7}
        >>> final_metrics({"val_loss": [0.8, 0.6]}, epoch=0)
        {'val_loss': 0.8}
    """
    return {
        name: float(values[-1 if epoch is None else epoch])
        for name, values in curve.items()
        if name.startswith("val_") and values
    }
