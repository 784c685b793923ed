"""Warm-start entries: what a study is seeded with before it samples (the ``warm_start:`` key).

An entry names a preset (``resnet20``), a config file (an exported ``config.json``, an export
folder, an architecture JSON) or the top K complete trials of another study in the same storage
(``study:NAME[:K]``, K 1 by default). This module checks the form only: a known preset name, a
path that exists, a well-formed ``study:`` reference. Reading the files, the other study and the
search space is the search layer's work (:mod:`ressearch.search.warmstart`), once the data is
known.

Example:
    >>> [entry.kind for entry in parse_warm_starts(["resnet20", "study:pilot:3"])]
    ['preset', 'study']
    >>> parse_warm_starts(["study:pilot:3"])[0].top
    3
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ressearch.config.presets import get_preset
from ressearch.errors import ConfigError

__all__ = ["STUDY_PREFIX", "WarmStart", "parse_warm_start", "parse_warm_starts"]

STUDY_PREFIX = "study:"
_STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # as study.name allows
_FORMS = "a preset name, a config.json path or export folder, or study:NAME[:K]"


@dataclass(frozen=True)
class WarmStart:
    """One warm-start entry, checked for form.

    Attributes:
        spec: the entry as written (how trials and messages name it).
        where: where it was written, for messages: ``warm_start[0]`` or ``--enqueue[1]``.
        kind: ``preset``, ``file`` or ``study``.
        path: a file entry's path, absolute.
        study: a study entry's study name.
        top: a study entry's K: how many of its best complete trials.
    """

    spec: str
    where: str
    kind: Literal["preset", "file", "study"]
    path: Path | None = None
    study: str | None = None
    top: int = 1

    @property
    def label(self) -> str:
        """``where`` and ``spec``, the start of every message about this entry."""
        return f"{self.where} {self.spec}"


def parse_warm_start(value: Any, *, where: str, base_dir: Path | None = None) -> WarmStart:
    """Check one entry's form; relative paths resolve against ``base_dir`` (default: the cwd).

    Raises:
        ConfigError: one line naming ``where``: not a string, an unknown preset, a missing
            file, or a ``study:`` reference without a valid name or with K < 1.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected {_FORMS}, got {value!r}")
    spec = value.strip()
    if spec.startswith(STUDY_PREFIX):
        name, _, top = spec.removeprefix(STUDY_PREFIX).partition(":")
        if not _STUDY_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: {spec!r} needs a study name after study: (study:NAME or study:NAME:K)"
            )
        if top and not (top.isdigit() and int(top) >= 1):
            raise ConfigError(f"{where}: {spec!r}: K, the number of top trials, must be an integer >= 1")
        return WarmStart(spec, where, "study", study=name, top=int(top) if top else 1)
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if path.exists():
        return WarmStart(spec, where, "file", path=path.resolve())
    if spec.endswith(".json") or "/" in spec:
        anchor = "the study file's folder" if base_dir is not None else "the current folder"
        raise ConfigError(f"{where}: no such file {spec} (relative paths resolve against {anchor})")
    try:
        get_preset(spec)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}; or give a config.json path or study:NAME[:K]") from None
    return WarmStart(spec, where, "preset")


def parse_warm_starts(
    raw: Any, *, where: str = "warm_start", base_dir: Path | None = None
) -> tuple[WarmStart, ...]:
    """Check a list of entries; entry ``i`` is named ``{where}[i]`` in messages.

    Raises:
        ConfigError: ``raw`` is not a list, or an entry is malformed (see :func:`parse_warm_start`).
    """
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise ConfigError(f"{where}: expected a list of entries ({_FORMS}), got {type(raw).__name__}")
    return tuple(
        parse_warm_start(value, where=f"{where}[{index}]", base_dir=base_dir)
        for index, value in enumerate(raw)
    )
