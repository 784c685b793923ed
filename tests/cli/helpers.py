"""Helpers of the CLI tests that start long-running commands: the dashboard."""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import free_port, wait_for
from tests.search.helpers import RESSEARCH


def get(url: str) -> bytes | None:
    """The body at ``url``, or None while nothing answers there."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bytes(response.read())
    except OSError:
        return None


@contextmanager
def serving_dashboard(storage: str, log: Path) -> Iterator[str]:
    """`ressearch dashboard` on ``storage`` at a free port, once it answers; its base URL.

    Its output goes to ``log`` (a pipe nobody reads would fill with one line per request and
    stall the server). Stopped when the block ends, however it ends.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*RESSEARCH, "dashboard", "--storage", storage, "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            answered = wait_for(
                lambda: get(base + "/api/studies") or process.poll() is not None, 90, "the dashboard"
            )
            if answered is True:  # it exited
                tail = log.read_text()[-3000:]
                pytest.fail(f"`ressearch dashboard` exited with {process.returncode}:\n{tail}")
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
