"""Average the K best trials of a study into one model: ``ressearch export --ensemble K``.

:func:`ensemble_members` ranks a single-objective study's complete trials that stored a model
by their value; :func:`build_ensemble` loads those models and averages their outputs into one
Keras model (:func:`ressearch.arch.average.average_models`): the mean class probabilities for
classification, the mean value in the target's units for regression. All members come from
one study, so they share its data split and its preprocessing recipe; their input and output
shapes are checked too. The averaged model is measured on the study's validation rows, the
rows that also chose the members (so slightly optimistic, as each trial's own value is).
Prints nothing; must not import the CLI.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from ressearch.errors import ConfigError
from ressearch.results.query import metric_names
from ressearch.search.record import StudyMeta, TrialRecord
from ressearch.storage.artifacts import download_model

if TYPE_CHECKING:
    import keras

__all__ = ["Ensemble", "build_ensemble", "ensemble_members"]


def ensemble_members(study: optuna.Study, k: int) -> list[FrozenTrial]:
    """The ``k`` best complete trials of ``study`` that stored a model, best first (ties: the
    earlier trial first).

    Raises:
        ConfigError: ``k`` below 2, a study of several objectives, or fewer such trials than ``k``.
    """
    if k < 2:
        raise ConfigError(
            f"--ensemble: K must be at least 2, got {k} "
            "(one model is the best trial: export without --ensemble)"
        )
    if len(study.directions) > 1:
        raise ConfigError(
            f"--ensemble: study {study.study_name!r} has {len(study.directions)} objectives, so its trials "
            "have no single ranking; export its Pareto set without --ensemble"
        )
    complete = [
        trial
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if trial.value is not None
        and math.isfinite(trial.value)
        and TrialRecord.from_trial(trial).model_artifact is not None
    ]
    if k > len(complete):
        raise ConfigError(
            f"--ensemble {k}: study {study.study_name!r} has only {len(complete)} complete trial(s) with a "
            f"stored model; choose K between 2 and {len(complete)}"
            if len(complete) >= 2
            else f"--ensemble {k}: study {study.study_name!r} has only {len(complete)} complete trial(s) "
            "with a stored model; run more trials first"
        )
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return sorted(complete, key=lambda trial: (sign * float(trial.value or 0.0), trial.number))[:k]


@dataclass
class Ensemble:
    """The averaged model and what it is made of, measured on the study's validation rows."""

    model: keras.Model
    members: list[dict[str, Any]]
    validation: dict[str, float]
    combines: str

    def to_json(self) -> dict[str, Any]:
        """The record an export keeps in its metrics.json."""
        return {
            "k": len(self.members),
            "combines": self.combines,
            "members": self.members,
            "validation": self.validation,
            "note": (
                "validation: the averaged model on the study's validation rows, the rows that also "
                "chose the members (slightly optimistic, as each member's value is)"
            ),
        }


def build_ensemble(
    study: optuna.Study, meta: StudyMeta, members: list[FrozenTrial], *, artifacts: Path
) -> Ensemble:
    """Load the members' models and average them into one; measure it on the validation rows.

    Raises:
        ConfigError: a member's model is missing or does not take the study's inputs.
        DataError: the study's data cannot be loaded any more.
    """
    from ressearch.arch.average import average_models
    from ressearch.arch.saving import load_model
    from ressearch.config.training import TrainConfig
    from ressearch.data.dataset import load_dataset
    from ressearch.training.compile import compile_model
    from ressearch.training.measure import evaluate

    definition = meta.study_definition()
    dataset = load_dataset(definition.data, seed=definition.settings.seed)
    models = []
    with tempfile.TemporaryDirectory(prefix="ressearch-ensemble-") as folder:
        for trial in members:
            record = TrialRecord.from_trial(trial)
            assert record.model_artifact is not None  # ensemble_members keeps only such trials
            path = Path(folder) / f"trial-{trial.number}.keras"
            download_model(artifacts, record.model_artifact, path, trial_number=trial.number)
            model = load_model(path)
            taken = tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else None
            if taken != tuple(dataset.input_shape):
                raise ConfigError(
                    f"--ensemble: trial {trial.number}'s model takes inputs {taken}, the study's data "
                    f"gives {tuple(dataset.input_shape)}: it cannot share the study's preprocessing"
                )
            models.append(model)
    averaged = average_models(models, names=[f"trial_{trial.number}" for trial in members])
    metric = metric_names(study)[0]
    compile_model(averaged, TrainConfig(), dataset)
    validation = evaluate(averaged, dataset)
    combines = (
        "the mean of the members' values, in the target's units"
        if dataset.task == "regression"
        else "the mean of the members' class probabilities"
    )
    described = [
        {
            "trial": trial.number,
            "value": trial.value,
            "metric": metric,
            "network": TrialRecord.from_trial(trial).describe_network(),
            "model_params": TrialRecord.from_trial(trial).model_params,
        }
        for trial in members
    ]
    return Ensemble(averaged, described, validation, combines)
