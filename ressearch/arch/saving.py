"""Model files: load a saved ``.keras`` model with ressearch's layers, write a serving SavedModel.

Keras only (no Optuna, no data): callers pass paths and models. The SavedModel is a TensorFlow
graph of the whole network, ``Destandardize`` included, so ``tf.saved_model.load`` serves it
without ressearch installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ressearch.errors import ConfigError

if TYPE_CHECKING:
    import keras

__all__ = ["SERVING_ENDPOINT", "export_savedmodel", "load_model"]

SERVING_ENDPOINT = "serve"  # also the "serving_default" signature


def load_model(path: str | Path) -> keras.Model:
    """The model saved at ``path`` (a ``.keras`` file), uncompiled, with ressearch's layers known.

    Raises:
        ConfigError: the file is missing or damaged.
    """
    import keras

    import ressearch.arch.ensemble
    import ressearch.arch.layers  # noqa: F401

    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: no such model file")
    try:
        return keras.models.load_model(file, compile=False)
    except Exception as error:  # Keras raises many kinds for a damaged file
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigError(f"{file}: cannot load the model ({reason})") from None


def export_savedmodel(model: keras.Model, path: str | Path) -> Path:
    """Write ``model`` as a TensorFlow SavedModel at ``path`` (a new folder) and return it.

    Its ``serve`` endpoint and ``serving_default`` signature take what the model takes (any
    batch size) and return what ``model.predict`` returns: class probabilities, or values in the
    target's units. A model of a dict of raw columns (:func:`ressearch.arch.preprocessing.
    with_raw_inputs`) is served by ``serve`` with that dict; ``serving_default`` names its
    arguments :func:`~ressearch.arch.preprocessing.input_names` of the columns.
    """
    folder = Path(path)
    signature = None
    structure = model.input  # a functional model: the dict, list or tensor it was built on
    if isinstance(structure, dict):
        import tensorflow as tf

        from ressearch.arch.preprocessing import input_names

        names = input_names(list(structure))
        signature = [
            {
                key: tf.TensorSpec(tensor.shape, tensor.dtype, name=names[key])
                for key, tensor in structure.items()
            }
        ]
    model.export(str(folder), format="tf_saved_model", verbose=False, input_signature=signature)
    return folder
