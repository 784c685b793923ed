"""One trial's training on real data: metrics, failures that fail one trial alone."""

from __future__ import annotations

import pytest

from ressearch import ArchitectureConfig, ConfigError, TrainConfig, TrialFailed
from ressearch.data import DataConfig, load_dataset
from ressearch.training import check_task, train_trial

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(source="builtin:digits", max_rows=300, flatten=True), seed=0)


def tiny(dataset) -> ArchitectureConfig:
    return ArchitectureConfig(
        input_shape=dataset.input_shape, outputs=dataset.outputs, depths=(1,), widths=(16,)
    )


def test_loss_falls_and_metrics_are_recorded(digits, tmp_path):
    train = TrainConfig(epochs=3, batch_size=32, learning_rate=0.01, schedule="cosine", warmup_epochs=1)
    result = train_trial(tiny(digits), train, digits, seed=0, save_to=tmp_path / "m.keras")
    assert result.curve["loss"][-1] < result.curve["loss"][0]
    assert set(result.metrics) == {"val_accuracy", "val_loss", "model_params"}  # latency: on request
    assert result.metrics["val_accuracy"] > 0.5
    assert (tmp_path / "m.keras").stat().st_size > 0
    assert set(result.seconds) == {"build", "compile", "fit", "measure", "save"}
    assert result.seconds["fit"] > 0


@pytest.mark.parametrize("patience", [None, 1])
def test_the_recorded_metrics_are_those_of_the_saved_model(digits, tmp_path, patience):
    """Read from fit's own validation pass, they match a fresh evaluation of the saved model, also
    when early stopping restored an earlier epoch's weights (a high learning rate makes one)."""
    import keras

    from ressearch.training import evaluate

    train = TrainConfig(epochs=4, batch_size=32, learning_rate=0.3, early_stopping_patience=patience)
    result = train_trial(tiny(digits), train, digits, seed=0, save_to=tmp_path / "m.keras", latency=True)
    measured = evaluate(keras.saving.load_model(tmp_path / "m.keras"), digits)
    for name, value in measured.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-5), name
    assert result.metrics["latency"] > 0
    losses = result.curve["val_loss"]
    if patience:  # the restored epoch is the best one, and not the last
        assert result.metrics["val_loss"] == min(losses) != losses[-1]


@pytest.mark.parametrize(("patience", "learning_rate", "momentum"), [(None, 0.3, 0.8), (1, 0.6, 0.5)])
def test_with_averaged_weights_validation_early_stopping_and_the_saved_model_use_the_average(
    digits, tmp_path, patience, learning_rate, momentum
):
    """``ema_momentum``: every epoch is validated with the moving average of the weights (not the
    weights being trained, which a plain run at the same seed validates), and the saved model is
    the average of the epoch the metrics come from: the last, or the best when early stopping
    restores one."""
    import keras

    from ressearch.training import evaluate

    train = TrainConfig(
        epochs=5, batch_size=32, learning_rate=learning_rate, early_stopping_patience=patience
    )
    plain = train_trial(tiny(digits), train, digits, seed=0)
    averaged = train.model_copy(update={"ema_momentum": momentum})
    result = train_trial(tiny(digits), averaged, digits, seed=0, save_to=tmp_path / "m.keras")
    # The same weights trained (the training loss), other weights validated.
    epochs = len(result.curve["loss"])
    assert result.curve["loss"] == pytest.approx(plain.curve["loss"][:epochs], rel=1e-3)
    assert result.curve["val_loss"] != pytest.approx(plain.curve["val_loss"][:epochs], rel=1e-2)
    model = keras.saving.load_model(tmp_path / "m.keras")
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == momentum
    for name, value in evaluate(model, digits).items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-5), name
    losses = result.curve["val_loss"]
    if patience:  # stopped early; the restored epoch is the best one, not the last nor the first
        assert epochs < 5 and result.metrics["val_loss"] == min(losses) not in (losses[0], losses[-1])


def test_label_smoothing_on_several_classes_trains_and_measures_what_it_saves(digits, tmp_path):
    """Ten classes smoothed (a one-hot categorical loss instead of the sparse one): it learns,
    and the saved model, evaluated afresh, scores what the trial recorded."""
    import keras

    from ressearch.training import evaluate

    train = TrainConfig(epochs=3, batch_size=32, learning_rate=0.01, label_smoothing=0.1)
    result = train_trial(tiny(digits), train, digits, seed=0, save_to=tmp_path / "m.keras")
    model = keras.saving.load_model(tmp_path / "m.keras")
    assert type(model.loss).__name__ == "CategoricalCrossentropy" and model.loss.label_smoothing == 0.1
    assert result.metrics["val_accuracy"] > 0.5
    for name, value in evaluate(model, digits).items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-5), name


def test_nan_loss_fails_the_trial():
    diabetes = load_dataset(DataConfig(source="builtin:diabetes"), seed=0)
    config = ArchitectureConfig(
        input_shape=diabetes.input_shape,
        outputs=1,
        head="regression",
        depths=(1,),
        widths=(16,),
        normalization="none",
    )
    # The loss is on the standardised scale, so it takes a wild learning rate to explode.
    exploding = TrainConfig(epochs=3, optimizer="sgd", learning_rate=10.0, momentum=0.9)
    with pytest.raises(TrialFailed, match="the training loss became nan at epoch 1"):
        train_trial(config, exploding, diabetes, seed=0)


def test_model_over_the_size_limit_fails_before_training(digits):
    with pytest.raises(TrialFailed, match="above study.max_params=100"):
        train_trial(tiny(digits), TrainConfig(epochs=1), digits, seed=0, max_params=100)


def test_metrics_must_fit_the_task(digits):
    with pytest.raises(ConfigError, match="val_auc cannot be measured on a multiclass task"):
        check_task(["val_auc"], digits)
    check_task(["val_accuracy", "model_params", "latency"], digits)


def test_a_builder_model_keeps_its_compile_and_its_own_fit_trains_it(digits, tmp_path):
    """A network given as a builder that compiles (as a KerasTuner hypermodel does): its
    categorical loss gets one-hot targets, and a given ``fit`` is what trains it."""
    import keras

    def builder() -> keras.Model:
        model = keras.Sequential(
            [keras.Input(digits.input_shape), keras.layers.Dense(10, activation="softmax")]
        )
        model.compile(keras.optimizers.Adam(0.02), "categorical_crossentropy", metrics=["accuracy"])
        return model

    calls = []

    def fit(model, x, y, **kwargs):
        calls.append((y.shape, sorted(kwargs)))
        return model.fit(x, y, **kwargs)

    train = TrainConfig(epochs=2, batch_size=32, optimizer="rmsprop")  # the builder's compile stays
    result = train_trial(builder, train, digits, seed=0, fit=fit, save_to=tmp_path / "m.keras")
    assert calls[0][0] == (len(digits.x_train), 10) and "callbacks" in calls[0][1]
    assert len(result.curve["val_accuracy"]) == 2 and result.metrics["val_accuracy"] > 0.5
    assert type(keras.models.load_model(tmp_path / "m.keras").optimizer).__name__ == "Adam"


def test_with_no_validation_rows_it_trains_every_epoch_and_claims_no_validation_metric(tmp_path):
    """A refit's training: every row trains, early stopping has nothing to watch, and the
    metrics are the last epoch's training metrics."""
    merged = load_dataset(
        DataConfig(source="builtin:digits", max_rows=300, flatten=True), seed=0, merge_validation=True
    )
    train = TrainConfig(epochs=3, batch_size=32, learning_rate=0.01, early_stopping_patience=1)
    result = train_trial(tiny(merged), train, merged, seed=0, save_to=tmp_path / "m.keras", latency=True)
    assert result.epochs == 3 and (tmp_path / "m.keras").is_file()
    assert set(result.metrics) == {"loss", "accuracy", "model_params"}
    assert result.metrics["loss"] == result.curve["loss"][-1]


def test_the_train_step_is_traced_once(digits):
    """The optimizer's slots exist before ``fit``: Keras would create them while tracing the
    first train step, and a trace that creates variables is traced again (each trial paid for
    two traces of its train step before this)."""
    from ressearch import build_model

    traces: list[int] = []

    def builder():
        model = build_model(tiny(digits))
        step = model.train_step

        def counted(data):
            traces.append(1)  # Python runs here only while TensorFlow traces the step
            return step(data)

        model.train_step = counted
        return model

    train = TrainConfig(epochs=2, batch_size=32, optimizer="adamw", weight_decay=1e-4, clipnorm=1.0)
    result = train_trial(builder, train, digits, seed=0)
    assert result.epochs == 2
    assert len(traces) == 1


def test_a_stop_signal_ends_the_fit_between_two_batches_after_the_checkpoint(digits, tmp_path):
    """SIGTERM lands in the middle of a batch of epoch 2 (sent from inside that batch's step): the
    step and its callbacks finish, the next batch never starts, and the checkpoint holds epoch 1."""
    import os
    import signal

    import keras

    from ressearch.signals import raise_interrupt, stop_signals
    from ressearch.training.checkpoint import read_checkpoint

    trained: list[tuple[int, int]] = []  # (epoch, batch) of each train step that ran

    class SignalInBatch(keras.callbacks.Callback):
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            trained.append((self.epoch, batch))
            if (self.epoch, batch) == (1, 2):
                os.kill(os.getpid(), signal.SIGTERM)
                trained.append((-1, -1))  # the handler held it: this line runs

    train = TrainConfig(epochs=3, batch_size=32)
    with stop_signals(raise_interrupt), pytest.raises(KeyboardInterrupt):
        train_trial(tiny(digits), train, digits, seed=0, checkpoint=tmp_path, callbacks=[SignalInBatch()])
    assert trained[-2:] == [(1, 2), (-1, -1)]  # the step of batch 3 of epoch 2 never ran
    assert read_checkpoint(tmp_path).epochs == 1
