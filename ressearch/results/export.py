"""Export the best trial (or Pareto set) of a study to a folder.

An export holds, per exported trial: ``config.json`` (architecture + training config, or for a
KerasTuner hypermodel's trial the hypermodel, its arguments and hyperparameter values + training
config; ``ressearch build DIR/config.json`` rebuilds the network either way), ``model.keras``
(the trained model) and/or ``savedmodel/`` (a TensorFlow SavedModel that serves without
ressearch), ``metrics.json`` and ``preprocessing.json`` (the versioned recipe itself, with the
class names: ``apply_preprocessing(json.load(file), rows)``); and ``trials.csv`` for the whole
study. Where the recipe is of rows of columns (csv, tabular), both model files hold the recipe's
steps as Keras layers and take raw rows (``"model_input": "raw"`` in ``preprocessing.json``);
images are still preprocessed outside. A multi-objective study exports its Pareto set, one
sub-folder per trial. The folder is written beside its destination and moved into place at the
end, so a failed export leaves nothing half-written. No storage URL is ever written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from ressearch.errors import ConfigError
from ressearch.results.folders import check_out_folder, staged_folder
from ressearch.results.query import best_trials, describe_trial, trials_frame
from ressearch.search.record import CONFIG_SCHEMA_VERSION, StudyMeta, TrialRecord
from ressearch.storage.artifacts import download_model
from ressearch.storage.studies import load_study

__all__ = ["CONFIG_SCHEMA_VERSION", "EXPORT_FORMATS", "ExportResult", "export_study", "parse_formats"]

EXPORT_FORMATS: tuple[str, ...] = ("keras", "savedmodel")


def parse_formats(formats: str | Sequence[str]) -> tuple[str, ...]:
    """The model formats asked for, as ``"keras,savedmodel"`` or a list; unknown ones are an error.

    Example:
        >>> parse_formats("savedmodel, keras")
        ('keras', 'savedmodel')
    """
    given = formats.split(",") if isinstance(formats, str) else list(formats)
    chosen = {name.strip().lower() for name in given if name.strip()}
    unknown = sorted(chosen - set(EXPORT_FORMATS))
    if unknown or not chosen:
        raise ConfigError(
            f"--format: unknown model format(s) {', '.join(map(repr, unknown)) or 'none given'}; "
            f"use {', '.join(EXPORT_FORMATS)} or both, comma-separated"
        )
    return tuple(name for name in EXPORT_FORMATS if name in chosen)


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    out: Path
    trials: list[int]
    folders: list[Path]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _write_models(
    artifacts: Path,
    artifact_id: str,
    folder: Path,
    *,
    trial_number: int,
    formats: Sequence[str],
    recipe: dict[str, Any],
) -> bool:
    """Write the model files; True where they take raw rows (the recipe inside them)."""
    keras_file = folder / "model.keras"
    download_model(artifacts, artifact_id, keras_file, trial_number=trial_number)
    raw = recipe.get("kind") in ("csv", "tabular")  # ressearch.arch.preprocessing.RAW_INPUT_KINDS
    if raw or "savedmodel" in formats:
        from ressearch.arch.preprocessing import with_raw_inputs
        from ressearch.arch.saving import export_savedmodel, load_model

        model = load_model(keras_file)
        if raw:
            model = with_raw_inputs(model, recipe)
            model.save(keras_file)
        if "savedmodel" in formats:
            export_savedmodel(model, folder / "savedmodel")
    if "keras" not in formats:
        keras_file.unlink()
    return raw


def _export_trial(
    study: optuna.Study,
    meta: StudyMeta,
    trial: FrozenTrial,
    folder: Path,
    artifacts: Path,
    formats: Sequence[str],
) -> None:
    described = describe_trial(study, trial, artifacts=artifacts)
    record = TrialRecord.from_trial(trial)
    config = record.config(artifacts)
    if (
        not record.model_artifact
        or config is None
        or (config.architecture is None and config.hypermodel is None)
    ):
        raise ConfigError(f"trial {trial.number} of {study.study_name!r} has no stored model to export")
    folder.mkdir(parents=True, exist_ok=True)
    raw = _write_models(
        artifacts,
        record.model_artifact,
        folder,
        trial_number=trial.number,
        formats=formats,
        recipe=meta.preprocessing,
    )
    # The network (an architecture config, or the hypermodel that rebuilds it from its values)
    # and its training: the trial's own config.json.
    _write_json(folder / "config.json", config.to_json(study=study.study_name, trial=trial.number))
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
            "curve": record.measurements(artifacts).curve or None,
            "params": described["params"],
            "data": definition.get("data"),
            "data_summary": meta.data,
            "split_seed": definition.get("study", {}).get("seed"),
        },
    )
    _write_json(
        folder / "preprocessing.json",
        {**meta.preprocessing, "class_names": meta.class_names} | ({"model_input": "raw"} if raw else {}),
    )


def export_study(
    name: str,
    out: str | Path,
    *,
    storage: str | optuna.storages.BaseStorage | None = None,
    artifacts: str | Path | None = None,
    force: bool = False,
    formats: str | Sequence[str] = ("keras",),
) -> ExportResult:
    """Export the best trial (or Pareto set) of study ``name`` to the folder ``out``.

    ``formats`` are the model files to write: ``keras`` (``model.keras``, which ``ressearch
    predict`` reads) and/or ``savedmodel`` (``savedmodel/``, for TensorFlow serving).

    Raises:
        StudyNotFoundError: no such study.
        ConfigError: ``out`` is a non-empty folder (and not ``force``), nothing to export, or an
            unknown format.
    """
    chosen = parse_formats(formats)
    study = load_study(name, storage)
    target = check_out_folder(out, force=force)
    meta = StudyMeta.from_study(study, artifacts=Path(artifacts).resolve() if artifacts else None)
    if meta is None:
        raise ConfigError(f"study {name!r} was not created by ressearch: it has no stored models to export")
    trials = best_trials(study)
    folder = Path(artifacts).resolve() if artifacts else Path(meta.artifacts)
    multi = len(study.directions) > 1
    folders = []
    with staged_folder(target) as staging:
        for trial in trials:
            relative = Path(f"trial-{trial.number}") if multi else Path(".")
            _export_trial(study, meta, trial, staging / relative, folder, chosen)
            folders.append(relative)
        trials_frame(study).to_csv(staging / "trials.csv", index=False)
        if multi:
            _write_json(
                staging / "pareto.json",
                [
                    describe_trial(study, trial, artifacts=folder) | {"folder": f"trial-{trial.number}"}
                    for trial in trials
                ],
            )
    return ExportResult(
        out=target, trials=[trial.number for trial in trials], folders=[target / f for f in folders]
    )
