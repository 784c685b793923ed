"""ressearch's KerasTuner bridge: run a KerasTuner hypermodel as a ressearch study.

``ressearch.keras_tuner.run(hypermodel, data=..., study=...)`` runs it from Python (see
:mod:`ressearch.integrations.keras_tuner`); a study file with ``space: {hypermodel:
"module:callable"}`` runs it through ``ressearch run`` and ``ressearch worker``.
``rebuild_model(config)`` rebuilds an exported network through its hypermodel;
``TrialHyperParameters`` is an Optuna trial as KerasTuner's ``hp``, and ``HpSuggester``
KerasTuner's ``hp`` as ressearch's sampling sees a trial. Names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ressearch.runtime import lazy_exports

if TYPE_CHECKING:
    from ressearch.arch.hypermodel import load_hypermodel, rebuild_model
    from ressearch.integrations.keras_tuner import reference, run, study_definition
    from ressearch.search.hypermodel import HpSuggester, TrialHyperParameters

_EXPORTS = {
    "load_hypermodel": "ressearch.arch.hypermodel",
    "rebuild_model": "ressearch.arch.hypermodel",
    "reference": "ressearch.integrations.keras_tuner",
    "run": "ressearch.integrations.keras_tuner",
    "study_definition": "ressearch.integrations.keras_tuner",
    "HpSuggester": "ressearch.search.hypermodel",
    "TrialHyperParameters": "ressearch.search.hypermodel",
}

__all__ = [
    "HpSuggester",
    "TrialHyperParameters",
    "load_hypermodel",
    "rebuild_model",
    "reference",
    "run",
    "study_definition",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
