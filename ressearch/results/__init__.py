"""Results: studies and trials read back as tables, the best trials, exports, predictions,
reports and ablations (the found network against its plain twin and the other block types).

Reads ressearch's records through the search layer's record module; must not import the CLI.
The names below are loaded on first use, so that `ressearch best` or `studies` (the query
module) do not load the data layer that predictions need (scikit-learn, the data sources).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ressearch.runtime import lazy_exports

if TYPE_CHECKING:
    from ressearch.results.ablation import (
        AblationResult,
        ablate_study,
        load_ablation,
        plot_ablation,
        store_ablation,
    )
    from ressearch.results.export import ExportResult, export_study
    from ressearch.results.predictions import Predictor, predict, read_input
    from ressearch.results.query import (
        best_trials,
        complete_trial,
        describe_trial,
        list_studies,
        metric_names,
        trials_frame,
    )
    from ressearch.results.report import ReportResult, write_report

_EXPORTS = {
    "AblationResult": "ressearch.results.ablation",
    "ablate_study": "ressearch.results.ablation",
    "load_ablation": "ressearch.results.ablation",
    "plot_ablation": "ressearch.results.ablation",
    "store_ablation": "ressearch.results.ablation",
    "ExportResult": "ressearch.results.export",
    "export_study": "ressearch.results.export",
    "Predictor": "ressearch.results.predictions",
    "predict": "ressearch.results.predictions",
    "read_input": "ressearch.results.predictions",
    "best_trials": "ressearch.results.query",
    "complete_trial": "ressearch.results.query",
    "describe_trial": "ressearch.results.query",
    "list_studies": "ressearch.results.query",
    "metric_names": "ressearch.results.query",
    "trials_frame": "ressearch.results.query",
    "ReportResult": "ressearch.results.report",
    "write_report": "ressearch.results.report",
}

__all__ = [
    "AblationResult",
    "ExportResult",
    "Predictor",
    "ReportResult",
    "ablate_study",
    "best_trials",
    "complete_trial",
    "describe_trial",
    "export_study",
    "list_studies",
    "load_ablation",
    "metric_names",
    "plot_ablation",
    "predict",
    "read_input",
    "store_ablation",
    "trials_frame",
    "write_report",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
