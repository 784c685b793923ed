"""A real tiny study with numeric embeddings in its space: on a CSV with numeric, categorical and
constant columns, every embedding trains (the piecewise-linear bins from a tree on the labels),
the trial's config names the columns it embedded, and the exported model predicts what the
config rebuilt with its weights predicts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ressearch import ArchitectureConfig, build_model
from ressearch.arch.saving import load_model
from ressearch.config import parse_study
from ressearch.data import apply_preprocessing
from ressearch.results import export_study
from ressearch.search import run_study
from ressearch.storage import load_study
from tests.data.helpers import write_csv
from tests.helpers import stored_config, tiny_study

KINDS = ["periodic", "plr", "piecewise_linear"]


@pytest.mark.slow
def test_a_study_over_numeric_embeddings_runs_and_exports(tmp_path, unique_name):
    frame = write_csv(tmp_path / "people.csv", rows=200)
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    definition = parse_study(
        tiny_study(
            unique_name,
            study={"n_trials": 3, "sampler": "grid", "pruner": "none"},
            data={"source": f"csv:{tmp_path / 'people.csv'}", "target": "label", "max_rows": None},
            space={
                "block_type": "basic",
                "width": 8,
                "numeric_embedding": KINDS,
                "embedding_dim": 4,
                "embedding_frequencies": 8,
                "embedding_bins": 8,
                # Bins from the training labels: the trial hands its labels to the bins.
                "embedding_bins_from": "tree",
            },
            train={"epochs": 2, "batch_size": 32},
        ),
        path=tmp_path / "study.yaml",
    )
    summary = run_study(definition, storage=storage, artifacts=tmp_path / "artifacts")
    assert (summary.complete, summary.failed) == (3, 0), summary

    study = load_study(unique_name, storage)
    stored = [stored_config(study, trial).architecture for trial in study.trials]
    configs = [ArchitectureConfig.from_dict(architecture) for architecture in stored]
    assert sorted(config.numeric_embedding for config in configs) == sorted(KINDS)
    assert {config.embedding_bins_from for config in configs} == {"quantiles", "tree"}
    # age, income and (last) constant are numeric; colour and member between them are one-hot
    # columns, which the embeddings leave as they are.
    columns = configs[0].input_shape[0]
    assert columns > 5
    assert {config.continuous_features for config in configs} == {(0, 1, columns - 1)}

    out = tmp_path / "best"
    export_study(unique_name, out, storage=storage)
    config = ArchitectureConfig.from_dict(json.loads((out / "config.json").read_text())["architecture"])
    # The export takes raw rows: the trained network is inside it, behind the recipe's layers.
    exported = load_model(out / "model.keras").get_layer(config.name)
    rebuilt = build_model(config)
    rebuilt.set_weights(exported.get_weights())
    recipe = json.loads((out / "preprocessing.json").read_text())
    rows = apply_preprocessing(recipe, pd.DataFrame(frame.drop(columns="label")))
    predictions = exported.predict(rows, verbose=0)
    assert np.isfinite(predictions).all()
    np.testing.assert_array_equal(rebuilt.predict(rows, verbose=0), predictions)
