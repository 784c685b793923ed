"""``benchmarks/boosting_draws.py``: the boosting searches with other draws of their configs, and
the spread it prints. The draws run here on a small real table (seconds)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.benchmarks import benchmark


@pytest.fixture(scope="module")
def draws():
    with benchmark("boosting_draws") as module:
        yield module


def test_draw_zero_is_the_benchmarks_own_configs_and_other_draws_differ(draws):
    tabular = sys.modules["tabular"]
    assert tabular._hgb_configs(2, 4) == tabular._hgb_configs(2, 4, draw=0)
    assert tabular._hgb_configs(2, 4, draw=1) == tabular._hgb_configs(2, 4, draw=1)
    assert tabular._hgb_configs(2, 4, draw=1) != tabular._hgb_configs(2, 4)
    assert tabular._lightgbm_configs(2, 4, draw=3) != tabular._lightgbm_configs(2, 4)


def _row(table, task, seed, system, draw, test):
    metric = {"binary": "auc", "regression": "rmse"}[task]
    return {
        "table": table,
        "task": task,
        "metric": metric,
        "seed": seed,
        "system": system,
        "draw": draw,
        "test": test,
    }


def test_the_spread_is_over_the_draws_means_and_ressearch_is_placed_among_them(draws):
    rows = [
        _row("hmda", "binary", seed, "lightgbm", draw, score)
        for draw, (first, second) in enumerate([(0.90, 0.80), (0.84, 0.80), (0.86, 0.82)])
        for seed, score in ((0, first), (1, second))
    ]
    against = [
        {"table": "hmda", "system": "ressearch", "seed": 0, "test": 0.85},
        {"table": "hmda", "system": "ressearch", "seed": 1, "test": 0.81},  # mean 0.83
        {"table": "hmda", "system": "ressearch-refit", "seed": 0, "test": 0.85},  # seed 1 missing
        {"table": "hmda", "system": "hist-gbdt-cv", "seed": 0, "test": 0.99},  # not ressearch
    ]
    lightgbm, ressearch = draws.spread(rows, against)
    assert lightgbm["benchmark's draw"] == "0.8500" and lightgbm["draws"] == 3
    assert (lightgbm["min"], lightgbm["median"], lightgbm["max"]) == ("0.8200", "0.8400", "0.8500")
    assert ressearch["system"] == "ressearch" and ressearch["benchmark's draw"] == "0.8300"
    assert ressearch["at or above"] == "33% of 3"  # above the 0.82 draw, below 0.84 and 0.85
    regression = [
        _row("wage", "regression", 0, "hist-gbdt", draw, rmse) for draw, rmse in enumerate([30.0, 40.0])
    ]
    (_, wage) = draws.spread(regression, [{"table": "wage", "system": "ressearch", "seed": 0, "test": 35.0}])
    assert wage["at or above"] == "50% of 2"  # lower RMSE is better: only the 40.0 draw is worse


def test_a_real_table_gets_one_score_per_draw(draws, monkeypatch):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:300, :5].assign(target=data.target.iloc[:300].to_numpy())
    table = sys.modules["tabular"].Table("sklearn", "breast_cancer", "target", "binary")
    monkeypatch.setattr(draws, "load_table", lambda name: (frame, table))
    rows = draws.run(["cancer"], [0], draws=2, configs=2, systems=["hist-gbdt"])
    assert [row["draw"] for row in rows] == [0, 1]
    assert all(0.8 < row["test"] <= 1.0 for row in rows)
    assert np.isfinite([row["seconds"] for row in rows]).all()


def test_an_against_file_that_is_not_a_runs_csv_is_one_line_naming_the_option(draws, tmp_path):
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SystemExit) as other:
        draws.main(["--tables", "hmda", "--draws", "1", "--against", str(tmp_path / "other.csv")])
    assert str(other.value).startswith(f"--against: {tmp_path / 'other.csv'} lacks the column(s)")
