"""Results: studies and trials read back as tables, the best trials, exports, predictions, reports.

Reads ressearch's records through the search layer's record module; must not import the CLI.
The names below are loaded on first use, so that `ressearch best` or `studies` (the query
module) do not load the data layer that predictions need (scikit-learn, the data sources).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ressearch.runtime import lazy_exports

if TYPE_CHECKING:
    from ressearch.results.export import ExportResult, export_study
    from ressearch.results.predictions import Predictor, predict, read_input
    from ressearch.results.query import best_trials, describe_trial, list_studies, metric_names, trials_frame
    from ressearch.results.report import ReportResult, write_report

_EXPORTS = {
    "ExportResult": "ressearch.results.export",
    "export_study": "ressearch.results.export",
    "Predictor": "ressearch.results.predictions",
    "predict": "ressearch.results.predictions",
    "read_input": "ressearch.results.predictions",
    "best_trials": "ressearch.results.query",
    "describe_trial": "ressearch.results.query",
    "list_studies": "ressearch.results.query",
    "metric_names": "ressearch.results.query",
    "trials_frame": "ressearch.results.query",
    "ReportResult": "ressearch.results.report",
    "write_report": "ressearch.results.report",
}

__all__ = [
    "ExportResult",
    "Predictor",
    "ReportResult",
    "best_trials",
    "describe_trial",
    "export_study",
    "list_studies",
    "metric_names",
    "predict",
    "read_input",
    "trials_frame",
    "write_report",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
