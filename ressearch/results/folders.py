"""Output folders written whole or not at all: what ``export`` and ``report`` write into.

A folder is checked first (new, or empty, or ``force``), built under a temporary name beside its
destination and moved into place only when everything in it is written; a failure removes the
temporary folder, so nothing half-written is ever left under the asked name. Writes nothing else.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ressearch.errors import ConfigError

__all__ = ["check_out_folder", "staged_folder"]


def check_out_folder(out: str | Path, *, force: bool = False) -> Path:
    """The absolute path of ``out`` once it is known to be writable as a whole folder.

    Creates nothing: call it before any other work, so a bad ``--out`` fails at once.

    Raises:
        ConfigError: ``out`` is a file, or a folder that is not empty (and not ``force``).
    """
    target = Path(out).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out: {target} is a file, not a folder; choose a new folder")
    if target.exists() and any(target.iterdir()) and not force:
        raise ConfigError(f"--out: {target} exists and is not empty; choose a new folder or pass --force")
    return target


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A temporary folder beside ``target`` to write into; it replaces ``target`` at the end.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "report"
        >>> with staged_folder(out) as staging:
        ...     _ = (staging / "index.html").write_text("<p>hello</p>")
        >>> sorted(path.name for path in out.iterdir())
        ['index.html']
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkdtemp: its folder is private (0700), and it becomes the one asked for.
    staging = target.with_name(f".{target.name}-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
