"""Keras datasets: offline fails fast in one line; importing the data layer stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.data.helpers import data_error

# --- keras datasets ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_keras_dataset_missing_offline_fails_fast_in_one_line(monkeypatch, tmp_path):
    # An empty Keras cache and RESSEARCH_OFFLINE: the error path, with no traffic off this machine.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("RESSEARCH_OFFLINE", "1")
    monkeypatch.setattr(
        "ressearch.data.sources.keras._keras_cache_dirs", lambda: [tmp_path / "keras-home" / "datasets"]
    )
    message = data_error(source="keras:cifar10")
    assert message == (
        "data.source: keras:cifar10 must be downloaded and this machine cannot reach the internet; "
        "place it in $KERAS_HOME/datasets or use npz:PATH"
    )


def test_importing_the_module_does_not_import_tensorflow():
    code = "import sys, ressearch.data; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
