"""Per-epoch checkpoints: a fit stopped after some epochs continues where it stopped."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ressearch import ArchitectureConfig, TrainConfig
from ressearch.data import DataConfig, load_dataset
from ressearch.training import train_trial
from ressearch.training.checkpoint import clear_checkpoint, read_checkpoint

pytestmark = pytest.mark.slow


def epochs_run(epochs: list[int]):
    """A Keras callback that notes in ``epochs`` the (absolute) epochs a fit runs."""
    import keras

    return keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: epochs.append(epoch))


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(DataConfig(source="builtin:breast_cancer", max_rows=200), seed=0)


def _config(dataset) -> ArchitectureConfig:
    return ArchitectureConfig(
        input_shape=dataset.input_shape, outputs=dataset.outputs, depths=(1,), widths=(8,)
    )


def test_a_fit_continues_from_its_checkpoint(dataset, tmp_path):
    folder = tmp_path / "ckpt"
    config = _config(dataset)
    first = train_trial(config, TrainConfig(epochs=2, batch_size=32), dataset, seed=0, checkpoint=folder)
    saved = read_checkpoint(folder)
    assert saved is not None and saved.epochs == 2 and saved.curve == first.curve
    assert sorted(path.name for path in folder.iterdir()) == ["epoch-2.npz", "state.json"]  # the last only

    # The same trial asked for 4 epochs: epochs 3 and 4 only, the curve carried on.
    ran: list[int] = []
    resumed = train_trial(
        config,
        TrainConfig(epochs=4, batch_size=32),
        dataset,
        seed=0,
        checkpoint=folder,
        callbacks=[epochs_run(ran)],
    )
    assert ran == [2, 3]
    assert resumed.epochs == 4
    assert resumed.curve["loss"][:2] == first.curve["loss"]
    assert read_checkpoint(folder).epochs == 4
    # It went on from the trained weights and optimizer state: better than a fresh 2-epoch start.
    assert resumed.curve["loss"][2] < first.curve["loss"][0]
    clear_checkpoint(folder)
    assert not folder.exists() and read_checkpoint(folder) is None


def test_a_restored_checkpoint_holds_the_weights_and_optimizer_state_of_its_epoch(dataset, tmp_path):
    import keras

    from ressearch.arch import build_model
    from ressearch.training import compile_model

    folder, trained = tmp_path / "ckpt", tmp_path / "trained.keras"
    config, train = _config(dataset), TrainConfig(epochs=2, batch_size=32, optimizer="adam")
    train_trial(config, train, dataset, seed=0, checkpoint=folder, save_to=trained)
    expected = keras.saving.load_model(trained)

    model = build_model(config)
    compile_model(model, train, dataset)
    assert read_checkpoint(folder).restore(model)
    for restored, saved in zip(model.weights, expected.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(restored.numpy()), np.asarray(saved.numpy()))
    steps = -(-len(dataset.x_train) // 32)
    assert int(model.optimizer.iterations.numpy()) == 2 * steps
    for restored, saved in zip(model.optimizer.variables, expected.optimizer.variables, strict=True):
        np.testing.assert_allclose(np.asarray(restored.numpy()), np.asarray(saved.numpy()))

    # A checkpoint that does not fit the model (another config) is refused, the model untouched.
    other = build_model(config.model_copy(update={"widths": (16,)}))
    compile_model(other, train, dataset)
    before = [np.asarray(weight.numpy()) for weight in other.weights]
    assert not read_checkpoint(folder).restore(other)
    for weight, value in zip(other.weights, before, strict=True):
        np.testing.assert_array_equal(np.asarray(weight.numpy()), value)


def test_with_averaged_weights_a_checkpoint_holds_the_trained_weights_and_their_average(dataset, tmp_path):
    """The model ends with the average of its weights (``ema_momentum``); its checkpoint keeps the
    weights being trained as the model's and the average in the optimizer's slots, so a resumed
    fit goes on training the weights it trained, not their average."""
    import keras

    from ressearch.arch import build_model
    from ressearch.training import compile_model

    folder, trained = tmp_path / "ckpt", tmp_path / "trained.keras"
    config = _config(dataset)
    train = TrainConfig(epochs=2, batch_size=32, learning_rate=0.05, ema_momentum=0.9)
    train_trial(config, train, dataset, seed=0, checkpoint=folder, save_to=trained)
    averaged = [np.asarray(weight.numpy()) for weight in keras.saving.load_model(trained).trainable_weights]

    model = build_model(config)
    compile_model(model, train, dataset)
    assert read_checkpoint(folder).restore(model)
    slots = model.optimizer._model_variables_moving_average
    for weight, average, saved in zip(model.trainable_weights, slots, averaged, strict=True):
        np.testing.assert_allclose(np.asarray(average.numpy()), saved, rtol=1e-5, atol=1e-6)
        assert not np.allclose(np.asarray(weight.numpy()), saved)


def test_a_half_written_checkpoint_is_never_loaded(dataset, tmp_path):
    folder = tmp_path / "ckpt"
    train_trial(_config(dataset), TrainConfig(epochs=1, batch_size=32), dataset, seed=0, checkpoint=folder)
    # A crash while writing epoch 2 leaves only a partial file: the whole epoch-1 checkpoint stays.
    (folder / ".partial-epoch-2.npz").write_bytes(b"half a zip")
    assert read_checkpoint(folder).epochs == 1
    # A state that names a model file that is not there (or cannot be read) is no checkpoint.
    state = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps({**state, "model_file": "epoch-9.npz"}))
    assert read_checkpoint(folder) is None
    (folder / "state.json").write_text("{not json")
    assert read_checkpoint(folder) is None
    assert np.isfinite(
        train_trial(_config(dataset), TrainConfig(epochs=1), dataset, seed=0).metrics["val_loss"]
    )
