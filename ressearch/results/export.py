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
sub-folder per trial. ``trial=N`` exports that complete trial instead of the best (a smaller
network that scored nearly as well, a trial of a Pareto set alone), with ``refit`` too.

Two options use more of what the search paid for. ``refit`` retrains each exported trial on the
training and validation rows together, for the epochs it needed (:mod:`ressearch.results.refit`):
its model.keras is that model, its preprocessing.json the recipe fitted on those rows, and its
metrics.json says what was done under ``refit``. ``ensemble=K`` averages the K best trials'
models into one model.keras (:mod:`ressearch.results.ensemble`), with the members' config.json
files under ``members/trial-N/`` and the members and the averaged model's validation metrics in
metrics.json under ``ensemble``. Both are served by ``predict`` as any export. The folder is written
beside its destination and moved into place at the end, so a failed export leaves nothing
half-written. No storage URL is ever written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial

from ressearch.errors import ConfigError
from ressearch.results.folders import check_out_folder, staged_folder
from ressearch.results.query import best_trials, complete_trial, describe_trial, metric_names, trials_frame
from ressearch.runtime import import_tensorflow_quietly
from ressearch.search.record import CONFIG_SCHEMA_VERSION, StudyMeta, TrialRecord
from ressearch.storage.artifacts import download_model
from ressearch.storage.studies import load_study

if TYPE_CHECKING:
    from ressearch.results.refit import RefitResult

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
    refits: list[dict[str, Any]] = field(default_factory=list)  # what each --refit did
    ensemble: dict[str, Any] | None = None  # the members and the averaged model's validation


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
    return _keep_formats(keras_file, folder, formats, recipe)


def _keep_formats(keras_file: Path, folder: Path, formats: Sequence[str], recipe: dict[str, Any]) -> bool:
    """From the network in ``keras_file``: where the recipe is of rows of columns, the model that
    takes raw rows (the recipe's steps as layers) in its place; the SavedModel if asked, the
    ``.keras`` file if asked. True where the model files take raw rows."""
    raw = recipe.get("kind") in ("csv", "tabular")  # ressearch.arch.preprocessing.RAW_INPUT_KINDS
    if raw or "savedmodel" in formats:
        import_tensorflow_quietly()  # the model is loaded: no C++ start-up lines on the user's terminal
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
    *,
    refit: bool = False,
) -> dict[str, Any] | None:
    """Write one trial's files into ``folder``; with ``refit``, its model retrained on every row
    (what the refit did is returned, and kept in metrics.json)."""
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
    refitted, raw = _refit_models(study, meta, trial, folder, artifacts, formats) if refit else (None, False)
    if refitted is None:
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
            **({"refit": refitted.to_json()} if refitted is not None else {}),
        },
    )
    _write_json(
        folder / "preprocessing.json",
        (
            refitted.preprocessing
            if refitted is not None
            else {**meta.preprocessing, "class_names": meta.class_names}
        )
        | ({"model_input": "raw"} if raw else {}),
    )
    return refitted.to_json() if refitted is not None else None


def _refit_models(
    study: optuna.Study,
    meta: StudyMeta,
    trial: FrozenTrial,
    folder: Path,
    artifacts: Path,
    formats: Sequence[str],
) -> tuple[RefitResult, bool]:
    """Retrain ``trial`` on the training and validation rows; its model files into ``folder``
    (True where they take raw rows)."""
    from ressearch.results.refit import refit_trial

    keras_file = folder / "model.keras"
    refitted = refit_trial(
        study.study_name,
        meta,
        trial,
        artifacts=artifacts,
        metric=metric_names(study)[0],
        direction=study.directions[0].name.lower(),
        save_to=keras_file,
    )
    return refitted, _keep_formats(keras_file, folder, formats, refitted.preprocessing)


def _export_ensemble(
    study: optuna.Study,
    meta: StudyMeta,
    members: list[FrozenTrial],
    folder: Path,
    artifacts: Path,
    formats: Sequence[str],
) -> dict[str, Any]:
    """Average the ``members``' models into ``folder``: model files, the members' configs under
    ``members/trial-N/config.json``, metrics.json, preprocessing.json (the study's recipe, which
    every member was trained and validated with)."""
    from ressearch.results.ensemble import build_ensemble

    ensemble = build_ensemble(study, meta, members, artifacts=artifacts)
    keras_file = folder / "model.keras"
    ensemble.model.save(keras_file)
    raw = _keep_formats(keras_file, folder, formats, meta.preprocessing)
    for trial in members:
        config = TrialRecord.from_trial(trial).config(artifacts)
        if config is not None:
            (folder / "members" / f"trial-{trial.number}").mkdir(parents=True)
            _write_json(
                folder / "members" / f"trial-{trial.number}" / "config.json",
                config.to_json(study=study.study_name, trial=trial.number),
            )
    definition = meta.definition
    _write_json(
        folder / "metrics.json",
        {
            "ensemble": ensemble.to_json(),
            "metric": metric_names(study)[0],
            "directions": [direction.name.lower() for direction in study.directions],
            "model_params": int(ensemble.model.count_params()),
            "data": definition.get("data"),
            "data_summary": meta.data,
            "split_seed": definition.get("study", {}).get("seed"),
        },
    )
    _write_json(
        folder / "preprocessing.json",
        {**meta.preprocessing, "class_names": meta.class_names} | ({"model_input": "raw"} if raw else {}),
    )
    return ensemble.to_json()


def export_study(
    name: str,
    out: str | Path,
    *,
    storage: str | optuna.storages.BaseStorage | None = None,
    artifacts: str | Path | None = None,
    force: bool = False,
    formats: str | Sequence[str] = ("keras",),
    refit: bool = False,
    ensemble: int | None = None,
    trial: int | None = None,
) -> ExportResult:
    """Export the best trial (or Pareto set) of study ``name``, or its complete trial number
    ``trial``, to the folder ``out``.

    ``formats`` are the model files to write: ``keras`` (``model.keras``, which ``ressearch
    predict`` reads) and/or ``savedmodel`` (``savedmodel/``, for TensorFlow serving).
    ``refit`` retrains each exported trial on the training and validation rows together, for
    the epochs it needed, instead of exporting its stored model. ``ensemble`` (K, at least 2)
    exports one model averaging the K best trials' models instead of the best trial's; a study
    of one objective only.

    Raises:
        StudyNotFoundError: no such study.
        ConfigError: ``out`` is a non-empty folder (and not ``force``), nothing to export, an
            unknown format, ``refit`` or ``trial`` with ``ensemble``, a K the study cannot give,
            or a ``trial`` that is not one of its complete trials.
        DataError: (``refit``, ``ensemble``) the study's data cannot be loaded any more.

    Example (retrains the best network on every row; seconds for the quickstart)::

        export_study("quickstart", "best-refit", refit=True)
        predict("best-refit", rows)
    """
    chosen = parse_formats(formats)
    if refit and ensemble is not None:
        raise ConfigError(
            "--refit and --ensemble: choose one (a refit retrains one trial, an ensemble averages "
            "the stored models of several)"
        )
    if trial is not None and ensemble is not None:
        raise ConfigError(
            "--trial and --ensemble: choose one (--trial exports one trial, an ensemble averages the K best)"
        )
    study = load_study(name, storage)
    target = check_out_folder(out, force=force)
    meta = StudyMeta.from_study(study, artifacts=Path(artifacts).resolve() if artifacts else None)
    if meta is None:
        raise ConfigError(f"study {name!r} was not created by ressearch: it has no stored models to export")
    folder = Path(artifacts).resolve() if artifacts else Path(meta.artifacts)
    if ensemble is not None:
        from ressearch.results.ensemble import ensemble_members

        members = ensemble_members(study, ensemble)
        with staged_folder(target) as staging:
            combined = _export_ensemble(study, meta, members, staging, folder, chosen)
            trials_frame(study).to_csv(staging / "trials.csv", index=False)
        return ExportResult(
            out=target, trials=[trial.number for trial in members], folders=[target], ensemble=combined
        )
    trials = best_trials(study) if trial is None else [complete_trial(study, trial)]
    multi = len(study.directions) > 1 and trial is None
    folders = []
    refits = []
    with staged_folder(target) as staging:
        for exported in trials:
            relative = Path(f"trial-{exported.number}") if multi else Path(".")
            refitted = _export_trial(study, meta, exported, staging / relative, folder, chosen, refit=refit)
            if refitted is not None:
                refits.append(refitted)
            folders.append(relative)
        trials_frame(study).to_csv(staging / "trials.csv", index=False)
        if multi:
            _write_json(
                staging / "pareto.json",
                [
                    describe_trial(study, pareto, artifacts=folder) | {"folder": f"trial-{pareto.number}"}
                    for pareto in trials
                ],
            )
    return ExportResult(
        out=target,
        trials=[exported.number for exported in trials],
        folders=[target / f for f in folders],
        refits=refits,
    )
