"""The files a person writes: study files (YAML) and architecture configs (JSON).

Every problem is one line naming the file, then the key and what is allowed. Reading only:
nothing here creates a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ressearch.config.architecture import ArchitectureConfig
from ressearch.config.presets import get_preset
from ressearch.config.study import StudyDefinition, parse_study
from ressearch.config.training import TrainConfig
from ressearch.errors import ConfigError, StudyFileError

__all__ = ["load_architecture", "load_config_file", "load_study_file"]


def load_study_file(path: str | Path) -> StudyDefinition:
    """Read and validate the YAML study file at ``path``.

    Raises:
        StudyFileError: one line, ``FILE: KEY: what is wrong and what is allowed``.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudyFileError(f"{file}: no such study file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise StudyFileError(f"{file}: cannot read the study file ({error})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "not valid YAML"
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise StudyFileError(f"{file}: not valid YAML{where}: {problem}") from None
    try:
        return parse_study(raw, path=file)
    except ConfigError as error:
        raise StudyFileError(f"{file}: {error}") from None


def load_architecture(
    spec: str,
    *,
    input_shape: tuple[int, ...] | None = None,
    outputs: int | None = None,
) -> ArchitectureConfig:
    """A config from a preset name or a JSON file, adapted to ``input_shape``/``outputs``.

    The file may hold an architecture config, the object ``ressearch build --json`` prints (its
    ``config``), or an exported ``config.json`` (its ``architecture``); a folder stands for its
    ``config.json`` (an export).
    """
    path = Path(spec)
    if not (spec.endswith(".json") or path.exists()):
        return get_preset(spec, input_shape=input_shape, outputs=outputs)
    config, _ = load_config_file(spec)
    changes: dict[str, Any] = {}
    if input_shape is not None:
        changes["input_shape"] = tuple(input_shape)
    if outputs is not None:
        changes["outputs"] = outputs
    return config.replace(**changes) if changes else config


def load_config_file(spec: str | Path) -> tuple[ArchitectureConfig, TrainConfig | None]:
    """The architecture of a config JSON, and its training settings where it has them.

    ``spec`` is an exported ``config.json`` (``architecture`` and ``train``), an export folder
    (its ``config.json``), the object ``ressearch build --json`` prints (its ``config``) or an
    architecture config.
    """
    path = Path(spec)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"{spec}: no config.json in this folder (an export of several objectives has one "
                "in each trial-N folder: name that one)"
            )
        path = path / "config.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{spec}: no such file (give a preset name or a config JSON)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{spec}: cannot read a config JSON ({error})") from None
    train_data = None
    if isinstance(data, dict):
        for key in ("architecture", "config"):
            if isinstance(data.get(key), dict):
                train_data = data.get("train") if key == "architecture" else None
                data = data[key]
                break
    try:
        config = ArchitectureConfig.from_dict(data)
        train = TrainConfig.from_dict(train_data) if isinstance(train_data, dict) else None
    except ConfigError as error:
        raise ConfigError(f"{spec}: {error}") from None
    return config, train
