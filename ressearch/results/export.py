"""Export the best trial (or Pareto set) of a study to a folder.

An export holds, per exported trial: ``config.json`` (architecture + training config;
``ressearch build DIR/config.json`` rebuilds the network), ``model.keras`` (the trained model),
``metrics.json`` and ``preprocessing.json`` (the versioned recipe itself, with the class names:
``apply_preprocessing(json.load(file), rows)``); and ``trials.csv`` for the whole study. A
multi-objective study exports its Pareto set, one sub-folder per trial. The folder is written
beside its destination and moved into place at the end, so a failed export leaves nothing
half-written. No storage URL is ever written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from ressearch.errors import ConfigError
from ressearch.results.query import best_trials, describe_trial, trials_frame
from ressearch.search.record import StudyMeta, TrialRecord
from ressearch.storage.artifacts import download_model
from ressearch.storage.studies import load_study

__all__ = ["CONFIG_SCHEMA_VERSION", "ExportResult", "export_study"]

CONFIG_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    out: Path
    trials: list[int]
    folders: list[Path]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _export_trial(
    study: optuna.Study, meta: StudyMeta, trial: FrozenTrial, folder: Path, artifacts: Path
) -> None:
    described = describe_trial(study, trial)
    record = TrialRecord.from_trial(trial)
    if not record.model_artifact or record.architecture is None:
        raise ConfigError(f"trial {trial.number} of {study.study_name!r} has no stored model to export")
    folder.mkdir(parents=True, exist_ok=True)
    download_model(artifacts, record.model_artifact, folder / "model.keras", trial_number=trial.number)
    _write_json(
        folder / "config.json",
        {
            "schema_version": CONFIG_SCHEMA_VERSION,
            "study": study.study_name,
            "trial": trial.number,
            "architecture": described["architecture"],
            "train": described["train"],
        },
    )
    definition = meta.definition
    _write_json(
        folder / "metrics.json",
        {
            **{
                key: described[key]
                for key in ("number", "metric", "value", "metrics", "values")
                if key in described
            },
            "directions": [direction.name.lower() for direction in study.directions],
            "measured": described["measured"],
            "model_params": described["model_params"],
            "epochs": described["epochs"],
            "train_seconds": described["train_seconds"],
            "seed": described["seed"],
            "curve": record.curve,
            "params": described["params"],
            "data": definition.get("data"),
            "data_summary": meta.data,
            "split_seed": definition.get("study", {}).get("seed"),
        },
    )
    _write_json(
        folder / "preprocessing.json",
        {**meta.preprocessing, "class_names": meta.class_names},
    )


def export_study(
    name: str,
    out: str | Path,
    *,
    storage: str | optuna.storages.BaseStorage | None = None,
    artifacts: str | Path | None = None,
    force: bool = False,
) -> ExportResult:
    """Export the best trial (or Pareto set) of study ``name`` to the folder ``out``.

    Raises:
        StudyNotFoundError: no such study.
        ConfigError: ``out`` is a non-empty folder (and not ``force``), or nothing to export.
    """
    study = load_study(name, storage)
    target = Path(out).resolve()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out: {target} is a file, not a folder; choose a new folder")
    if target.exists() and any(target.iterdir()) and not force:
        raise ConfigError(f"--out: {target} exists and is not empty; choose a new folder or pass --force")
    meta = StudyMeta.from_study(study)
    if meta is None:
        raise ConfigError(f"study {name!r} was not created by ressearch: it has no stored models to export")
    trials = best_trials(study)
    folder = Path(artifacts).resolve() if artifacts else Path(meta.artifacts)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        multi = len(study.directions) > 1
        folders = []
        for trial in trials:
            relative = Path(f"trial-{trial.number}") if multi else Path(".")
            _export_trial(study, meta, trial, staging / relative, folder)
            folders.append(relative)
        trials_frame(study).to_csv(staging / "trials.csv", index=False)
        if multi:
            _write_json(
                staging / "pareto.json",
                [describe_trial(study, trial) | {"folder": f"trial-{trial.number}"} for trial in trials],
            )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(
        out=target, trials=[trial.number for trial in trials], folders=[target / f for f in folders]
    )
