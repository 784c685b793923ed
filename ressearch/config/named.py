"""Named search spaces: a word in a study file (``space: tabular``) that stands for a full section.

A named section expands, as the study file is read, to the keys below; the stored study keeps
the expanded keys, so a resumed study or an export never depends on this table staying the same.
``{extends: NAME, key: value, ...}`` starts from a named section and overrides some of its keys.
Plain data only: the space module validates the expansion like any hand-written section.

``tabular`` follows TabM (Gorishniy et al. 2025, the tuning space of tabm-mini with
piecewise-linear embeddings: AdamW at lr 1e-4..3e-3 log, weight decay 1e-4..1e-1 log, 2-5 blocks,
dropout 0-0.5, d_embedding 8-32, bins 2-128, k = 32, gradient clipping at 1, early stopping
with patience 16) and the tabular ResNet of Gorishniy et al. 2021 (pre-activation residual
blocks), scaled down for CPUs: widths 64-256 instead of 128-1024, k = 4 members instead of 32,
at most 60 epochs and patience 5 (8 until 2026-12-06: with 5, and the median pruner
judging from the first epoch, 15 studies of the tabular benchmark ran 24 % fewer epochs to the
same mean test scores; README, "Where a trial's time goes"). Bins 16-128 (TabM's upper end)
and embeddings of 16-64 units, twice TabM's 8-32 (8-64 bins and 8-32 units until 2026-12-06:
every trial of `hmda`'s studies a third of a point of test AUC higher on the median; README,
"Against tuned gradient boosting on real tables"). Class labels smoothed by 0.1, as
RealMLP's defaults for classification (Holzmueller et al. 2024; README, "Named spaces"). Each
preact block holds two weight layers, so 1-3 blocks are 2-6 hidden layers. No normalization
layers, as in TabM's MLP (linear, ReLU, dropout): with batch normalization (the 2021 ResNet's)
an `arrests` study took 322 s against 198 s without, to the same test AUC, and a `hmda` one
179 s against 94 s (README, "Named spaces").
"""

from __future__ import annotations

import difflib
from typing import Any

from ressearch.errors import ConfigError

__all__ = ["NAMED_SPACES", "NAMED_TRAIN", "named_section"]

NAMED_SPACES: dict[str, dict[str, Any]] = {
    "tabular": {
        "block_type": "preact",
        "normalization": "none",
        "stages": 1,
        "depth": {"low": 1, "high": 3},
        "width": {"low": 64, "high": 256, "log": True},
        "dropout": {"low": 0.0, "high": 0.5},
        "numeric_embedding": "piecewise_linear",
        "embedding_bins": {"low": 16, "high": 128, "log": True},
        "embedding_dim": {"low": 16, "high": 64, "step": 8},
        "ensemble_k": 4,
    },
}

NAMED_TRAIN: dict[str, dict[str, Any]] = {
    "tabular": {
        "epochs": 60,
        "batch_size": 256,
        "optimizer": "adamw",
        "learning_rate": {"low": 1.0e-4, "high": 3.0e-3, "log": True},
        "weight_decay": {"low": 1.0e-4, "high": 1.0e-1, "log": True},
        "clipnorm": 1.0,
        "early_stopping_patience": 5,
        # Class labels smoothed by 0.1, as RealMLP's defaults for classification; a regression
        # study drops the key (ressearch.search.runner.prepare, once the task is known).
        "label_smoothing": 0.1,
    },
}

EXTENDS = "extends"


def named_section(section: str, names: dict[str, dict[str, Any]], data: Any) -> Any:
    """``data`` with a named section expanded: a name becomes its keys, and a mapping with
    ``extends: NAME`` becomes that name's keys updated by the mapping's other keys. Anything
    else is returned as it is.

    Example:
        >>> named_section("train", NAMED_TRAIN, {"extends": "tabular", "epochs": 5})["epochs"]
        5

    Raises:
        ConfigError: an unknown name (with the known ones and a close match).
    """
    if isinstance(data, str):
        return dict(_lookup(section, names, data, where=section))
    if isinstance(data, dict) and EXTENDS in data:
        rest = {key: value for key, value in data.items() if key != EXTENDS}
        return {**_lookup(section, names, data[EXTENDS], where=f"{section}.{EXTENDS}"), **rest}
    return data


def _lookup(section: str, names: dict[str, dict[str, Any]], name: Any, *, where: str) -> dict[str, Any]:
    if not isinstance(name, str) or name not in names:
        close = difflib.get_close_matches(str(name), list(names), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{where}: unknown named {section} {name!r}{hint}; known are {', '.join(sorted(names))}, "
            "or give a mapping of keys"
        )
    return names[name]
