"""Results: studies and trials read back as tables, the best trials, exports, predictions.

Reads ressearch's records through the search layer's record module; must not import the CLI.
"""

from ressearch.results.export import ExportResult, export_study
from ressearch.results.predictions import Predictor, predict, read_input
from ressearch.results.query import best_trials, describe_trial, list_studies, metric_names, trials_frame

__all__ = [
    "ExportResult",
    "Predictor",
    "best_trials",
    "describe_trial",
    "export_study",
    "list_studies",
    "metric_names",
    "predict",
    "read_input",
    "trials_frame",
]
