"""Optuna samplers and pruners by the names a study file uses."""

from __future__ import annotations

from typing import Any

import optuna

from ressearch.errors import ConfigError
from ressearch.search.pruners import MedianPruner

__all__ = ["make_pruner", "make_sampler"]


def make_sampler(
    name: str, *, seed: int | None, multi_objective: bool, grid: dict[str, list[Any]] | None = None
) -> optuna.samplers.BaseSampler:
    """The Optuna sampler called ``name`` (tpe, random, cmaes, qmc, nsga2, grid)."""
    if name == "grid":
        if not grid:
            raise ConfigError("study.sampler: grid needs the study's lists of choices")
        return optuna.samplers.GridSampler(grid, seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        if multi_objective:
            raise ConfigError("study.sampler: cmaes optimises one objective; use tpe or nsga2 for metrics")
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    return optuna.samplers.NSGAIISampler(seed=seed)


MEDIAN_STARTUP_TRIALS = 3  # finished trials the median pruner waits for, unless the study says
MEDIAN_WARMUP_EPOCHS = 1  # a trial's first epochs the median pruner never judges, unless the study says


def make_pruner(
    name: str, *, enabled: bool, startup_trials: int | None = None, warmup_epochs: int | None = None
) -> optuna.pruners.BasePruner:
    """The Optuna pruner called ``name``; NopPruner where pruning is off (several objectives).

    ``startup_trials``: how many trials must have finished before the median pruner prunes
    (default 3); ``warmup_epochs``: how many of a trial's first epochs it never judges (default
    1: it compares each epoch with theirs from the second epoch on; 0 from the first).
    """
    if not enabled or name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        startup = MEDIAN_STARTUP_TRIALS if startup_trials is None else startup_trials
        warmup = MEDIAN_WARMUP_EPOCHS if warmup_epochs is None else warmup_epochs
        return MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.HyperbandPruner(min_resource=1)
