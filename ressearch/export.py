"""Read results back: study lists, trial tables, the best trial, and exports to a folder.

An export holds, per exported trial: ``config.json`` (architecture + training config;
``ressearch build DIR/config.json`` rebuilds the network), ``model.keras`` (the trained model),
``metrics.json`` and ``preprocessing.json``; and ``trials.csv`` for the whole study. A
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
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from ressearch.errors import ConfigError, StorageError
from ressearch.storage import open_artifact_store
from ressearch.study import load_study, study_metadata

__all__ = [
    "ExportResult",
    "best_trials",
    "describe_trial",
    "export_study",
    "list_studies",
    "trials_frame",
]


def list_studies(storage: str | optuna.storages.BaseStorage) -> list[dict[str, Any]]:
    """One row per study: name, directions, trial counts by state, best value(s)."""
    rows = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=True):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        counts = {state.name.lower(): 0 for state in TrialState}
        for trial in trials:
            counts[trial.state.name.lower()] += 1
        best = summary.best_trial
        rows.append(
            {
                "name": summary.study_name,
                "directions": [direction.name.lower() for direction in summary.directions],
                "metrics": study.metric_names,
                "trials": len(trials),
                "complete": counts["complete"],
                "pruned": counts["pruned"],
                "failed": counts["fail"],
                "running": counts["running"],
                "best_value": best.value if best is not None and len(summary.directions) == 1 else None,
                "started": summary.datetime_start.isoformat(timespec="seconds")
                if summary.datetime_start
                else None,
                "ressearch": bool(study_metadata(study)),
            }
        )
    return rows


def _metric_names(study: optuna.Study) -> list[str]:
    names = study.metric_names
    if names:
        return list(names)
    return ["value"] if len(study.directions) == 1 else [f"value_{i}" for i in range(len(study.directions))]


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, objective values by metric, size, time, sampled params."""
    metrics = _metric_names(study)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"number": trial.number, "state": trial.state.name}
        for name, value in zip(metrics, trial.values or [None] * len(metrics), strict=False):
            row[name] = value
        row["model_params"] = trial.user_attrs.get("model_params")
        row["epochs"] = trial.user_attrs.get("epochs")
        row["train_seconds"] = trial.user_attrs.get("train_seconds")
        row["duration_s"] = trial.duration.total_seconds() if trial.duration else None
        row["fail_reason"] = trial.user_attrs.get("fail_reason")
        for name, value in trial.params.items():
            row[f"param_{name}"] = value
        rows.append(row)
    return pd.DataFrame(rows)


def best_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The best complete trial, or the Pareto set of a multi-objective study."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ConfigError(f"study {study.study_name!r} has no complete trial yet: run it first")
    if len(study.directions) > 1:
        return sorted(study.best_trials, key=lambda trial: trial.number)
    return [study.best_trial]


def describe_trial(study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
    """A JSON-safe description: number, value(s), sampled params, architecture, training, metrics."""
    metrics = _metric_names(study)
    described: dict[str, Any] = {"study": study.study_name, "number": trial.number}
    if len(study.directions) == 1:
        described["metric"] = metrics[0]
        described["value"] = trial.value
    else:
        described["metrics"] = metrics
        described["values"] = trial.values
    described.update(
        {
            "params": trial.params,
            "architecture": trial.user_attrs.get("architecture"),
            "train": trial.user_attrs.get("train"),
            "model_params": trial.user_attrs.get("model_params"),
            "measured": trial.user_attrs.get("metrics"),
            "epochs": trial.user_attrs.get("epochs"),
            "train_seconds": trial.user_attrs.get("train_seconds"),
            "seed": trial.user_attrs.get("seed"),
        }
    )
    return described


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    out: Path
    trials: list[int]
    folders: list[Path]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _export_trial(study: optuna.Study, trial: FrozenTrial, folder: Path, artifacts: Path) -> None:
    described = describe_trial(study, trial)
    meta = study_metadata(study)
    artifact_id = trial.user_attrs.get("model_artifact")
    if not artifact_id or described["architecture"] is None:
        raise ConfigError(f"trial {trial.number} of {study.study_name!r} has no stored model to export")
    folder.mkdir(parents=True, exist_ok=True)
    store = open_artifact_store(artifacts)
    try:
        optuna.artifacts.download_artifact(
            artifact_store=store, file_path=str(folder / "model.keras"), artifact_id=artifact_id
        )
    except Exception as error:  # the store raises its own not-found errors
        raise StorageError(
            f"artifacts: the model of trial {trial.number} ({artifact_id}) is not in {artifacts}: "
            f"{type(error).__name__}; pass --artifacts DIR where the study's models are"
        ) from None
    _write_json(
        folder / "config.json",
        {
            "schema_version": 1,
            "study": study.study_name,
            "trial": trial.number,
            "architecture": described["architecture"],
            "train": described["train"],
        },
    )
    definition = meta.get("definition", {})
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
            "curve": trial.user_attrs.get("curve"),
            "params": described["params"],
            "data": definition.get("data"),
            "data_summary": meta.get("data"),
            "split_seed": definition.get("study", {}).get("seed"),
        },
    )
    _write_json(
        folder / "preprocessing.json",
        {"recipe": meta.get("preprocessing"), "class_names": meta.get("class_names", [])},
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
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not force:
        raise ConfigError(f"--out: {target} exists and is not empty; choose a new folder or pass --force")
    trials = best_trials(study)
    meta = study_metadata(study)
    if not meta.get("artifacts"):
        raise ConfigError(f"study {name!r} was not created by ressearch: it has no stored models to export")
    folder = Path(artifacts).resolve() if artifacts else Path(meta["artifacts"])
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        multi = len(study.directions) > 1
        folders = []
        for trial in trials:
            relative = Path(f"trial-{trial.number}") if multi else Path(".")
            _export_trial(study, trial, staging / relative, folder)
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
