"""``benchmarks/every_config.py``: every config of a search scored on the test rows, and where the
picked one stands. Real searches on a small real table (a 2-trial study: seconds)."""

from __future__ import annotations

import sys

import pytest

from tests.benchmarks import benchmark


@pytest.fixture(scope="module")
def every():
    with benchmark("every_config") as module:
        yield module


@pytest.fixture
def cancer(every, monkeypatch):
    """300 rows and 5 columns of breast_cancer in place of the benchmark's tables."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:300, :5].assign(target=data.target.iloc[:300].to_numpy())
    tabular = sys.modules["tabular"]
    table = tabular.Table("sklearn", "breast_cancer", "target", "binary")
    monkeypatch.setattr(every, "load_table", lambda name: (frame, table))
    return tabular.split_dev_test(frame, "binary", 0)


def test_lightgbm_scores_each_config_and_its_pick_is_the_search_s_own(every, cancer):
    dev, test = cancer
    rows = every.lightgbm_configs("cancer", 0, 3)
    assert [row["config"] for row in rows] == [0, 1, 2]
    # A config can learn nothing on so few rows (AUC 0.5: min_child_samples above what a leaf gets).
    assert all(0.5 <= row["test"] <= 1.0 and 0.5 <= row["validation"] <= 1.0 for row in rows)
    assert max(row["test"] for row in rows) > 0.9
    search = sys.modules["tabular"].lightgbm_search(dev, test, "binary", 0, 3)
    assert every.picked("binary", rows)["test"] == search.test


@pytest.mark.slow
def test_every_trial_of_an_unpruned_study_is_exported_and_scored(every, cancer, tmp_path):
    import optuna

    _, test = cancer
    keys = {"train": {"epochs": 4}, "study": {"pruner": "median"}}  # the pruner stays none
    rows = every.study_trials("cancer", 0, 2, 1, tmp_path, keys)
    folder = tmp_path / "tabular-cancer-0"
    study = optuna.load_study(study_name="tabular-cancer-0", storage=f"sqlite:///{folder / 'study.db'}")
    assert [trial.state.name for trial in study.trials] == ["COMPLETE", "COMPLETE"]  # nothing pruned
    assert [(row["config"], row["validation"]) for row in rows] == [(t.number, t.value) for t in study.trials]
    assert all(len(trial.intermediate_values) <= 4 for trial in study.trials)  # the keys given
    assert all(0.8 < row["test"] <= 1.0 for row in rows)
    # The best trial exported by number scores what the study's own export of its best scores.
    best = every.score_export(folder / "export", test, "binary")
    assert every.picked("binary", rows)["test"] == best
    assert (folder / f"trial-{study.best_trial.number}" / "model.keras").is_file()


def test_the_summary_takes_the_pick_by_validation_and_spans_every_config(every):
    rows = [
        {"table": "wage", "system": "lightgbm", "seed": 0, "config": 0, "validation": 30.0, "test": 33.0},
        {"table": "wage", "system": "lightgbm", "seed": 0, "config": 1, "validation": 29.0, "test": 35.0},
        {"table": "wage", "system": "lightgbm", "seed": 0, "config": 2, "validation": 29.0, "test": 31.0},
        {"table": "wage", "system": "lightgbm", "seed": 1, "config": 0, "validation": 40.0, "test": 37.0},
    ]
    # RMSE: the lowest validation wins, the first tried on a tie (config 1, not 2).
    assert every.summarize(rows) == [
        ["wage", "rmse", "lightgbm", 0, "35.0000", "31.0000", "33.0000", "35.0000", 3],
        ["wage", "rmse", "lightgbm", 1, "37.0000", "37.0000", "37.0000", "37.0000", 1],
        ["wage", "rmse", "lightgbm", "mean", "36.0000", "34.0000", "35.0000", "36.0000", ""],
    ]


def test_study_keys_the_study_refuses_are_one_line_and_the_pruner_stays_off(every, monkeypatch, tmp_path):
    """An unknown key: one line before anything runs. Label smoothing on a regression table,
    which only the data shows: one line naming the study as it starts, nothing trained."""
    import numpy as np
    import pandas as pd

    assert every.unpruned({"study": {"pruner": "median", "n_trials": 3}})["study"] == {
        "pruner": "none",
        "n_trials": 3,
        "pruner_startup_trials": None,
        "pruner_warmup_epochs": None,
    }
    with pytest.raises(SystemExit) as stopped:
        every.main(["--study-keys", '{"train": {"epochz": 3}}', "--systems", "ressearch"])
    assert str(stopped.value).startswith("--study-keys: train.epochz: unknown key (did you mean 'epochs'?)")

    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"x": rng.normal(size=60), "target": rng.normal(size=60)})
    table = sys.modules["tabular"].Table("none", "rows", "target", "regression")
    monkeypatch.setattr(every, "load_table", lambda name: (rows, table))
    with pytest.raises(SystemExit) as refused:
        every.study_trials("rows", 0, 1, 1, tmp_path, {"train": {"label_smoothing": 0.1}})
    assert str(refused.value) == (
        "tabular-rows-0: train.label_smoothing: smooths class labels, and this task is regression"
    )
    assert not (tmp_path / "tabular-rows-0" / "export").exists()
