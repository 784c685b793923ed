"""A real tiny study with ``ensemble_k`` in its space and the median pruner on, over a real table
(breast_cancer as a CSV): trials train, prune and record as ensembles; the exported model, its
SavedModel and ``predict`` give the members' mean probabilities, and the config rebuilt with the
exported weights predicts the same."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from ressearch import ArchitectureConfig, build_model
from ressearch.arch import EnsembleModel
from ressearch.arch.saving import load_model
from ressearch.config import parse_study
from ressearch.data import apply_preprocessing
from ressearch.data.recipes import raw_inputs
from ressearch.results import export_study
from ressearch.results.predictions import predict
from ressearch.search import run_study
from ressearch.storage import load_study
from tests.helpers import stored_config, tiny_study


@pytest.mark.slow
def test_a_study_over_ensemble_k_prunes_exports_and_predicts(tmp_path, unique_name):
    import tensorflow as tf

    frame = load_breast_cancer(as_frame=True).frame.sample(300, random_state=0)
    frame = frame.rename(columns={"target": "label"})
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    definition = parse_study(
        tiny_study(
            unique_name,
            study={"n_trials": 5, "sampler": "random", "pruner": "median"},
            data={"source": f"csv:{tmp_path / 'cancer.csv'}", "target": "label", "max_rows": None},
            space={
                "block_type": ["basic", "plain"],
                "width": 8,
                "ensemble_k": [2, 4],
                "numeric_embedding": ["none", "periodic"],
                "embedding_frequencies": 4,
            },
            train={"epochs": 3, "batch_size": 32},
        ),
        path=tmp_path / "study.yaml",
    )
    summary = run_study(definition, storage=storage, artifacts=tmp_path / "artifacts")
    assert summary.failed == 0 and summary.complete + summary.pruned == 5, summary
    assert summary.complete >= 3  # the median pruner starts after three complete trials

    study = load_study(unique_name, storage)
    for trial in study.trials:
        config = ArchitectureConfig.from_dict(stored_config(study, trial).architecture)
        assert config.ensemble_k == trial.params["ensemble_k"] > 1
        assert len(trial.intermediate_values) >= 1  # pruning saw every epoch's val_accuracy

    out = tmp_path / "best"
    export_study(unique_name, out, storage=storage, formats="keras,savedmodel")
    config = ArchitectureConfig.from_dict(json.loads((out / "config.json").read_text())["architecture"])
    assert config.ensemble_k in (2, 4)
    # The export takes raw rows: the trained ensemble is inside it, behind the recipe's layers.
    exported = load_model(out / "model.keras").get_layer(config.name)
    assert type(exported) is EnsembleModel
    recipe = json.loads((out / "preprocessing.json").read_text())
    raw = pd.DataFrame(frame.drop(columns="label"))
    rows = apply_preprocessing(recipe, raw)
    probabilities = exported.predict(rows, verbose=0)
    assert probabilities.shape == (300, 1) and ((probabilities >= 0) & (probabilities <= 1)).all()
    rebuilt = build_model(config)
    rebuilt.set_weights(exported.get_weights())
    np.testing.assert_array_equal(rebuilt.predict(rows, verbose=0), probabilities)
    served = tf.saved_model.load(str(out / "savedmodel"))  # kept: its functions use its variables
    columns = {name: tf.constant(values) for name, values in raw_inputs(recipe, raw).items()}
    np.testing.assert_allclose(served.serve(columns).numpy(), probabilities, rtol=1e-5, atol=1e-6)

    scored = predict(out, raw, proba=True)
    assert len(scored) == 300
    proba = scored.filter(like="proba_").to_numpy()
    np.testing.assert_allclose(proba[:, -1], probabilities[:, 0], rtol=1e-5, atol=1e-6)
    accuracy = (scored["prediction"].astype(str).to_numpy() == frame["label"].astype(str).to_numpy()).mean()
    assert accuracy > 0.75, accuracy  # the members' mean learned the table
