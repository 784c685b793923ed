"""The Keras datasets (CIFAR, MNIST): read from the local Keras cache, downloaded when reachable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from ressearch.config.data import DataConfig
from ressearch.data.messages import first_line
from ressearch.data.recipes import fit_image
from ressearch.data.sources.base import Raw
from ressearch.errors import DataError

__all__ = ["load"]

_NETWORK_TIMEOUT_S = 5.0
_DOWNLOAD_TIMEOUT_S = 1800.0  # the whole download, in a child process


@dataclass(frozen=True)
class _KerasData:
    host: str  # where keras downloads it from
    files: tuple[str, ...]  # what a finished download leaves under <keras home>/datasets
    class_names: tuple[str, ...] | None = None


_KERAS_DATA = {
    "cifar10": _KerasData(
        "www.cs.toronto.edu",
        ("cifar-10-batches-py-target_archive",),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    ),
    "cifar100": _KerasData("www.cs.toronto.edu", ("cifar-100-python-target_archive",)),
    "mnist": _KerasData("storage.googleapis.com", ("mnist.npz",)),
    "fashion_mnist": _KerasData(
        "storage.googleapis.com",
        tuple(
            f"fashion-mnist/{name}-ubyte.gz"
            for name in ("train-labels-idx1", "train-images-idx3", "t10k-labels-idx1", "t10k-images-idx3")
        ),
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    ),
}


def _keras_cache_dirs() -> list[Path]:
    # Where keras.utils.get_file looks: $KERAS_HOME or ~/.keras, and /tmp/.keras when that is read-only.
    home = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    return [home / "datasets", Path("/tmp/.keras/datasets")]


def _reachable(host: str) -> bool:
    """Whether ``host`` answers on port 443 within a few seconds; a hanging DNS lookup counts as no."""
    answers: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, 443), timeout=_NETWORK_TIMEOUT_S):
                answers.append(True)
        except OSError:
            answers.append(False)

    thread = threading.Thread(target=probe, name=f"ressearch-probe-{host}", daemon=True)
    thread.start()
    thread.join(_NETWORK_TIMEOUT_S + 1.0)
    return bool(answers) and answers[0]


def _download(name: str, seconds: float) -> str | None:
    """Download ``keras:NAME`` into the Keras cache in a child process; None, or why it failed.

    A child process keeps the socket timeout and Keras' progress bar out of this process, whose
    other threads (heartbeats, a progress display) must not be touched by either.
    """
    code = f"import keras; keras.datasets.{name}.load_data()"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=seconds,
            env={**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")},
        )
    except subprocess.TimeoutExpired:
        return f"no answer within {seconds:.0f} s"
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else f"exit code {done.returncode}"
    return None


def load(config: DataConfig, base_dir: Path | None) -> Raw:
    name = config.location
    spec = _KERAS_DATA[name]
    cached = any(all((folder / file).is_file() for file in spec.files) for folder in _keras_cache_dirs())
    cache_hint = "$KERAS_HOME/datasets" if "KERAS_HOME" in os.environ else "~/.keras/datasets"
    # RESSEARCH_OFFLINE=1 says so up front: no probe leaves the machine (CI, air-gapped hosts).
    offline = os.environ.get("RESSEARCH_OFFLINE", "").lower() in ("1", "true", "yes")
    if not cached and (offline or not _reachable(spec.host)):
        raise DataError(
            f"data.source: keras:{name} must be downloaded and this machine cannot reach the internet; "
            f"place it in {cache_hint} or use npz:PATH"
        )
    if not cached:
        failed = _download(name, _DOWNLOAD_TIMEOUT_S)
        if failed is not None:
            raise DataError(
                f"data.source: keras:{name} must be downloaded and the download failed ({failed}); "
                f"place it in {cache_hint} or use npz:PATH"
            )
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as error:  # any failure of the cache is the same fix
        raise DataError(
            f"data.source: keras:{name} could not be read from the Keras cache ({first_line(error)}); "
            f"place it in {cache_hint} or use npz:PATH"
        ) from None
    x = np.concatenate([x_train, x_test])
    if x.ndim == 3:  # mnist, fashion_mnist: (n, 28, 28) -> (n, 28, 28, 1)
        x = x[..., np.newaxis]
    return Raw(
        x=x,
        y=np.concatenate([np.ravel(y_train), np.ravel(y_test)]).astype(np.int64),
        fit=partial(fit_image, max_value=255.0, flatten=config.flatten),
        task="classification",
        class_names=spec.class_names,
    )
