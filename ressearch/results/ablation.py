"""Did the shortcuts matter? Retrain a study's found network beside its plain twin and the other
block types, for the same seeds, and compare them on the study's metric.

``ablate_study`` reads what the study stored (its definition, split seed and runtime; the trial's
architecture and training config), loads the same data with the same split and trains every
variant with :func:`ressearch.training.fit.train_trial`, the loop the study's trials ran. The
variants: ``found`` (the stored config), ``plain`` (its plain twin: block type ``plain``, no RoR
and no stochastic depth, everything else equal) and each other registered block family at the
same depths and widths; a variant the config rules reject is skipped with the reason. Every
variant trains with the same seeds, so each is compared with ``found`` seed by seed (a paired
t-test).

The result is kept with the study: a JSON file and a PNG of the learning curves as study
artifacts, and a short pointer in the study user attribute ``ressearch_ablation`` (the only code
that reads or writes it is this module). Nothing is stored before every run is done, so an
interrupted ablation leaves the study as it was; a new ablation replaces the stored one.
Prints nothing; must not import the CLI.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from ressearch.config.architecture import ArchitectureConfig
from ressearch.config.blocks import BLOCKS
from ressearch.config.training import TrainConfig
from ressearch.errors import ConfigError, DataError, TrialFailed
from ressearch.results.query import best_trials, complete_trial
from ressearch.search.record import (
    ABLATION_ATTR,
    StudyMeta,
    TrialRecord,
    ablation_pointer,
    write_ablation_pointer,
)
from ressearch.signals import raise_interrupt, stop_signals
from ressearch.storage.artifacts import (
    download_artifact,
    open_artifact_store,
    remove_study_artifact,
    upload_study_file,
)
from ressearch.storage.studies import load_study

if TYPE_CHECKING:
    from ressearch.config.study import StudyDefinition
    from ressearch.data.dataset import Dataset
    from ressearch.training.speed import Runtime

__all__ = [
    "ABLATION_ATTR",
    "AblationResult",
    "AblationRun",
    "AblationStart",
    "download_ablation_plot",
    "Paired",
    "Spread",
    "Variant",
    "VariantResult",
    "ablate_study",
    "ablation_variants",
    "load_ablation",
    "paired_comparison",
    "plain_twin",
    "plot_ablation",
    "spread",
    "store_ablation",
    "write_ablation",
]

ABLATION_SCHEMA = 1
FOUND = "found"
PLAIN = "plain"
RESULT_FILE = "ablation.json"
TABLE_FILE = "ablation.csv"
PLOT_FILE = "ablation-curves.png"


# --- Statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Mean and standard deviation (``ddof=1``; None for fewer than two values) of ``n`` values."""

    n: int
    mean: float | None
    std: float | None


def spread(values: Sequence[float | None]) -> Spread:
    """The mean and sample standard deviation of the values that are there (None: a failed run).

    Example:
        >>> spread([0.90, 0.92, 0.94])
        Spread(n=3, mean=0.92, std=0.02)
        >>> spread([0.9, None])
        Spread(n=1, mean=0.9, std=None)
    """
    present = [float(value) for value in values if value is not None]
    if not present:
        return Spread(0, None, None)
    std = statistics.stdev(present) if len(present) > 1 else None
    return Spread(len(present), round(statistics.fmean(present), 12), None if std is None else round(std, 12))


@dataclass(frozen=True)
class Paired:
    """A variant against ``found`` seed by seed: ``variant - found`` over the ``n`` seeds both
    finished, its mean and standard deviation, a paired t-test's two-sided p-value (None where
    it says nothing: fewer than two pairs, or every difference the same) and whether the variant is
    ``better``, ``worse`` or the ``same`` by the study's direction."""

    n: int
    mean: float | None
    std: float | None
    p_value: float | None
    verdict: str | None


def paired_comparison(
    values: Sequence[float | None], baseline: Sequence[float | None], *, direction: str
) -> Paired:
    """Compare ``values`` with ``baseline`` seed by seed (same positions, same seeds).

    ``direction`` is the metric's: ``maximize`` (a positive difference is better) or
    ``minimize`` (a negative one is).

    Example:
        >>> paired = paired_comparison([0.85, 0.88, 0.90], [0.90, 0.92, 0.94], direction="maximize")
        >>> round(paired.mean, 4), round(paired.p_value, 4), paired.verdict
        (-0.0433, 0.0059, 'worse')
    """
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    if len(values) != len(baseline):
        raise ValueError(f"paired values need one per seed each, got {len(values)=}, {len(baseline)=}")
    pairs = [(a, b) for a, b in zip(values, baseline, strict=True) if a is not None and b is not None]
    differences = spread([a - b for a, b in pairs])
    if differences.mean is None:
        return Paired(0, None, None, None, None)
    p_value = None
    if len(pairs) > 1 and differences.std:  # equal differences: t is infinite, p says nothing
        from scipy.stats import ttest_rel  # scipy comes with scikit-learn; only this needs it

        with warnings.catch_warnings():  # nearly equal pairs: scipy warns, and says nan where undefined
            warnings.simplefilter("ignore", RuntimeWarning)
            test = ttest_rel([a for a, _ in pairs], [b for _, b in pairs])
        p_value = None if math.isnan(float(test.pvalue)) else float(test.pvalue)
    sign = 1 if direction == "maximize" else -1
    score = sign * differences.mean
    verdict = "better" if score > 0 else "worse" if score < 0 else "same"
    return Paired(len(pairs), differences.mean, differences.std, p_value, verdict)


# --- Variants -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One network to retrain: its name, block type and config, or why it was skipped."""

    name: str
    block_type: str
    config: ArchitectureConfig | None
    skipped: str | None = None


def _with_block(found: ArchitectureConfig, block_type: str, **changes: Any) -> ArchitectureConfig:
    """``found`` with another block type; the activation order kept where that family lets the
    config choose it (a family that fixes it, basic or preact, decides). A bottleneck made from a
    family without one gets expansion 1: its inner layers as wide as the block, the same width
    as the found network's (the default 4 would make them a quarter as wide)."""
    family = BLOCKS[block_type]
    if "expansion" in family.uses and "expansion" not in found.family.uses:
        changes = {"expansion": 1.0, **changes}
    if family.preactivation is not None:
        preactivation = None
    elif found.preactivation is not None:
        preactivation = found.preactivation
    else:
        preactivation = True if found.uses_preactivation else None
    return found.replace(block_type=block_type, preactivation=preactivation, **changes)


def plain_twin(found: ArchitectureConfig) -> ArchitectureConfig:
    """``found`` with every shortcut gone: block type ``plain``, no RoR, no stochastic depth.

    Example:
        >>> found = ArchitectureConfig(input_shape=(8, 8, 1), outputs=10, depths=(2,), widths=(8,),
        ...                            ror_levels=2, stochastic_depth=0.1)
        >>> plain_twin(found).describe()
        'plain conv2d, 1x2 blocks, widths 8, skip 2'
    """
    if PLAIN not in BLOCKS:
        raise ConfigError(f"block type {PLAIN!r} is not registered: there is no plain twin to build")
    return _with_block(found, PLAIN, ror_levels=0, stochastic_depth=0.0)


def ablation_variants(found: ArchitectureConfig) -> list[Variant]:
    """``found``, its plain twin, then every other registered block family at the same depths
    and widths; one the config rules reject (e.g. a family that does not build for this input
    rank) is kept with the reason it is skipped."""
    variants = [Variant(FOUND, found.block_type, found)]
    try:
        twin = plain_twin(found)
    except ConfigError as error:
        variants.append(Variant(PLAIN, PLAIN, None, str(error)))
    else:
        if twin == found:
            reason = "the found network is already plain: it has no shortcut to remove"
            variants.append(Variant(PLAIN, PLAIN, None, reason))
        else:
            variants.append(Variant(PLAIN, PLAIN, twin))
    for name in BLOCKS:
        if name in (found.block_type, PLAIN):
            continue
        try:
            variants.append(Variant(name, name, _with_block(found, name)))
        except ConfigError as error:
            variants.append(Variant(name, name, None, str(error)))
    return variants


# --- Results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AblationRun:
    """One training run of one variant: its metric value (None if the run failed, ``error``
    says why), its seconds and the metric per epoch."""

    variant: str
    seed: int
    value: float | None
    seconds: float
    curve: list[float]
    model_params: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class VariantResult:
    """A variant's runs, one per seed in the ablation's seed order, and their statistics."""

    name: str
    block_type: str
    description: str | None
    architecture: dict[str, Any] | None
    model_params: int | None
    runs: list[AblationRun]
    skipped: str | None
    spread: Spread
    paired: Paired | None  # None for found itself and for skipped variants

    @property
    def values(self) -> list[float | None]:
        return [run.value for run in self.runs]

    @classmethod
    def from_runs(
        cls, variant: Variant, runs: list[AblationRun], *, found: list[float | None], direction: str
    ) -> VariantResult:
        """The result of ``variant`` from its runs, compared with ``found``'s values (same seeds)."""
        values = [run.value for run in runs]
        compared = variant.name != FOUND and variant.config is not None
        return cls(
            name=variant.name,
            block_type=variant.block_type,
            description=variant.config.describe() if variant.config is not None else None,
            architecture=variant.config.to_dict() if variant.config is not None else None,
            model_params=next((run.model_params for run in runs if run.model_params is not None), None),
            runs=runs,
            skipped=variant.skipped,
            spread=spread(values),
            paired=paired_comparison(values, found, direction=direction) if compared else None,
        )


@dataclass(frozen=True)
class AblationStart:
    """What an ablation is about to train."""

    study: str
    trial: int
    metric: str
    direction: str
    seeds: list[int]
    epochs: int
    variants: list[Variant]

    @property
    def total_runs(self) -> int:
        return sum(variant.config is not None for variant in self.variants) * len(self.seeds)


@dataclass(frozen=True)
class AblationResult:
    """A whole ablation: what was trained, for which trial, seeds and epochs, and what it scored."""

    study: str
    trial: int
    metric: str
    direction: str
    seeds: list[int]
    epochs: int
    variants: list[VariantResult]
    created: str  # ISO 8601, UTC
    seconds: float
    schema: int = ABLATION_SCHEMA

    def variant(self, name: str) -> VariantResult:
        for item in self.variants:
            if item.name == name:
                return item
        raise KeyError(name)

    def rows(self) -> list[dict[str, Any]]:
        """One row per variant: what the table shows and the CSV holds."""
        rows = []
        for item in self.variants:
            paired = item.paired
            rows.append(
                {
                    "variant": item.name,
                    "block": item.description,
                    "model_params": item.model_params,
                    "n": item.spread.n,
                    "mean": item.spread.mean,
                    "std": item.spread.std,
                    "delta_mean": paired.mean if paired else None,
                    "delta_std": paired.std if paired else None,
                    "p_value": paired.p_value if paired else None,
                    "verdict": paired.verdict if paired else None,
                    "values": item.values,
                    "skipped": item.skipped,
                }
            )
        return rows

    def summary(self) -> str:
        """A line or so for the study's attribute: the found net and the plain twin's difference."""
        found = self.variant(FOUND).spread
        text = f"{self.metric} found {_number(found.mean)} ± {_number(found.std)}"
        plain = next((item for item in self.variants if item.name == PLAIN), None)
        if plain is not None and plain.paired is not None and plain.paired.mean is not None:
            text += (
                f"; plain {_number(plain.spread.mean)} (Δ {plain.paired.mean:+.4g}, "
                f"p {_number(plain.paired.p_value)}, {plain.paired.verdict})"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AblationResult:
        schema = data.get("schema", 1)
        if not isinstance(schema, int) or schema > ABLATION_SCHEMA:
            raise ConfigError(
                f"ablation result schema {schema} is newer than this ressearch reads ({ABLATION_SCHEMA}); "
                "upgrade ressearch"
            )
        variants = [
            VariantResult(
                **{
                    **item,
                    "runs": [AblationRun(**run) for run in item["runs"]],
                    "spread": Spread(**item["spread"]),
                    "paired": Paired(**item["paired"]) if item.get("paired") else None,
                }
            )
            for item in data["variants"]
        ]
        return cls(**{**data, "variants": variants})


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


# --- Running ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Everything checked and loaded before the first run: nothing trains on a bad input."""

    study: optuna.Study
    definition: StudyDefinition
    dataset: Dataset
    start: AblationStart
    train: TrainConfig
    artifacts: Path


def _chosen_trial(study: optuna.Study, number: int | None) -> optuna.trial.FrozenTrial:
    name = study.study_name
    if number is None:
        best = best_trials(study)  # the best trial, or the Pareto set; none complete is an error
        if len(study.directions) > 1:
            raise ConfigError(
                f"study {name!r} has several objectives: pass --trial N, one of its Pareto trials "
                f"{', '.join(str(trial.number) for trial in best)}"
            )
        return best[0]
    return complete_trial(study, number)


def _metric(definition: StudyDefinition) -> tuple[str, str]:
    """The validation metric to compare: the first of the study's objectives measured on the
    validation data (``val_loss`` for a study that optimises only size or latency)."""
    settings = definition.settings
    for metric, direction in zip(settings.objective_metrics, settings.objective_directions, strict=True):
        if metric.startswith("val_"):
            return metric, direction
    return "val_loss", "minimize"


def _plan(
    name: str,
    *,
    storage: str | optuna.storages.BaseStorage | None,
    artifacts: str | Path | None,
    seeds: int,
    epochs: int | None,
    trial: int | None,
) -> _Plan:
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {epochs}")
    study = load_study(name, storage)
    folder = Path(artifacts).resolve() if artifacts else None
    meta = StudyMeta.from_study(study, artifacts=folder)
    if meta is None:
        raise ConfigError(f"study {name!r} was not created by ressearch: it has no stored networks to ablate")
    definition = meta.study_definition()
    chosen = _chosen_trial(study, trial)
    record = TrialRecord.from_trial(chosen)
    stored = record.config(folder or meta.artifacts)
    if stored is not None and stored.hypermodel is not None:
        raise ConfigError(
            f"trial {chosen.number} of {name!r} is a KerasTuner hypermodel's network: ablate retrains "
            "ressearch architectures with their block types swapped, which a hypermodel does not have"
        )
    if stored is None or stored.architecture is None or stored.train is None:
        raise ConfigError(f"trial {chosen.number} of {name!r} has no stored architecture to retrain")
    found = ArchitectureConfig.from_dict(stored.architecture)
    train = TrainConfig.from_dict(stored.train)
    if epochs is not None:
        try:
            train = train.replace(epochs=epochs)
        except ConfigError as error:
            raise ConfigError(f"--epochs {epochs}: {error}") from None
    from ressearch.data.dataset import load_dataset

    dataset = load_dataset(definition.data, seed=definition.settings.seed)
    if tuple(dataset.input_shape) != found.input_shape or dataset.outputs != found.outputs:
        raise DataError(
            f"data: {definition.data.source} now gives inputs {tuple(dataset.input_shape)} and "
            f"{dataset.outputs} outputs; trial {chosen.number} was trained on {found.input_shape} and "
            f"{found.outputs}: the data changed since the study ran"
        )
    metric, direction = _metric(definition)
    base_seed = record.seed if record.seed is not None else definition.settings.seed
    start = AblationStart(
        study=name,
        trial=chosen.number,
        metric=metric,
        direction=direction,
        seeds=[base_seed + index for index in range(seeds)],
        epochs=train.epochs,
        variants=ablation_variants(found),
    )
    return _Plan(study, definition, dataset, start, train, _artifact_folder(study, artifacts))


def _train(plan: _Plan, config: ArchitectureConfig, variant: str, seed: int, runtime: Runtime) -> AblationRun:
    """One run, as a study's trial trains: the same loop, the study's runtime, no checkpoint."""
    from ressearch.training.fit import train_trial

    metric = plan.start.metric
    started = time.perf_counter()
    try:
        result = train_trial(config, plan.train, plan.dataset, seed=seed, runtime=runtime)
    except (TrialFailed, ConfigError) as error:  # one run fails (NaN loss, out of memory); the rest go on
        seconds = round(time.perf_counter() - started, 3)
        return AblationRun(variant, seed, None, seconds, [], error=str(error))
    return AblationRun(
        variant=variant,
        seed=seed,
        value=result.metrics.get(metric),
        seconds=round(time.perf_counter() - started, 3),
        curve=[float(value) for value in result.curve.get(metric, [])],
        model_params=result.model_params,
    )


def ablate_study(
    name: str,
    *,
    storage: str | optuna.storages.BaseStorage | None = None,
    artifacts: str | Path | None = None,
    seeds: int = 3,
    epochs: int | None = None,
    trial: int | None = None,
    out: str | Path | None = None,
    on_start: Callable[[AblationStart], None] | None = None,
    on_run: Callable[[AblationRun], None] | None = None,
) -> AblationResult:
    """Retrain the found network of study ``name``, its plain twin and the other block types for
    ``seeds`` seeds each, compare them with the found one, and store the result with the study.

    Args:
        name: the study.
        storage: its storage URL (default ``$RESSEARCH_STORAGE``, else ``sqlite:///ressearch.db``).
        artifacts: the study's artifact folder, where the result is stored (default: the one
            the study recorded).
        seeds: training seeds per variant; the same for every variant, starting at the trial's own.
        epochs: epochs per run (default: the trial's own training config).
        trial: the trial to ablate (default: the best; a multi-objective study needs it).
        out: a folder to write ``ablation.json``, ``ablation.csv`` and ``ablation-curves.png`` to.
        on_start: hears what will be trained, once everything is checked and loaded.
        on_run: hears of each training run as it ends.

    Ctrl-C (or SIGTERM) stops it with nothing stored.

    Raises:
        StudyNotFoundError: no such study.
        ConfigError: a study ressearch did not create, no complete trial, a bad ``--trial``,
            ``--seeds``, ``--epochs`` or ``--out``.
        DataError: the study's data cannot be loaded any more.

    Example (trains twelve small networks, about a minute)::

        result = ablate_study("quickstart", seeds=3)
        print(result.variant("plain").paired)
    """
    target = Path(out).resolve() if out is not None else None
    if target is not None and target.exists() and not target.is_dir():
        raise ConfigError(f"--out: {target} is a file, not a folder; choose a folder")
    plan = _plan(name, storage=storage, artifacts=artifacts, seeds=seeds, epochs=epochs, trial=trial)
    start = plan.start
    if on_start is not None:
        on_start(start)
    from ressearch.training.speed import resolve_runtime

    runtime = resolve_runtime(plan.definition.runtime)  # the study's, as its trials trained
    started = time.monotonic()
    runs: dict[str, list[AblationRun]] = {}
    with stop_signals(raise_interrupt):
        for variant in start.variants:
            if variant.config is None:
                continue
            for seed in start.seeds:
                run = _train(plan, variant.config, variant.name, seed, runtime)
                runs.setdefault(variant.name, []).append(run)
                if on_run is not None:
                    on_run(run)
        found_values = [run.value for run in runs[FOUND]]
        result = AblationResult(
            study=name,
            trial=start.trial,
            metric=start.metric,
            direction=start.direction,
            seeds=list(start.seeds),
            epochs=start.epochs,
            variants=[
                VariantResult.from_runs(
                    variant, runs.get(variant.name, []), found=found_values, direction=start.direction
                )
                for variant in start.variants
            ],
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            seconds=round(time.monotonic() - started, 1),
        )
        store_ablation(plan.study, result, artifacts=plan.artifacts)
    if target is not None:
        write_ablation(result, target)
    return result


# --- Storing and loading ------------------------------------------------------------------------


def store_ablation(
    study: optuna.Study, result: AblationResult, *, artifacts: str | Path | None = None
) -> None:
    """Keep ``result`` with ``study``, replacing any stored before: the JSON result and the plot
    as study artifacts in ``artifacts`` (default: the study's artifact folder), and a short
    pointer in the study attribute ``ressearch_ablation``.

    The pointer is written last: until then the study shows the previous ablation, and files
    uploaded by a store stopped half-way are removed again.
    """
    store = open_artifact_store(_artifact_folder(study, artifacts))
    previous = ablation_pointer(study)
    uploaded: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ressearch-ablation-") as folder:
        json_path = Path(folder) / RESULT_FILE
        json_path.write_text(json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8")
        plot_path = plot_ablation(result, Path(folder) / PLOT_FILE)
        try:
            uploaded.append(upload_study_file(store, json_path, study))
            uploaded.append(upload_study_file(store, plot_path, study))
            write_ablation_pointer(
                study,
                {
                    "result": uploaded[0],
                    "plot": uploaded[1],
                    "trial": result.trial,
                    "seeds": len(result.seeds),
                    "epochs": result.epochs,
                    "created": result.created,
                    "summary": result.summary(),
                },
            )
        except BaseException:
            for artifact_id in uploaded:
                remove_study_artifact(store, study, artifact_id)
            raise
    if isinstance(previous, dict):
        for key in ("result", "plot"):
            if isinstance(previous.get(key), str):
                remove_study_artifact(store, study, previous[key])


def _artifact_folder(study: optuna.Study, artifacts: str | Path | None) -> Path:
    if artifacts:
        return Path(artifacts).resolve()
    folder = StudyMeta.folder_of(study)
    if folder is None:
        raise ConfigError(f"study {study.study_name!r} was not created by ressearch")
    return folder


def load_ablation(study: optuna.Study, *, artifacts: str | Path | None = None) -> AblationResult | None:
    """The ablation stored with ``study``, or None if it has none. Reads only.

    Raises:
        StorageError: the stored result is not in the artifact folder (pass ``artifacts``).
    """
    pointer = ablation_pointer(study)
    if pointer is None:
        return None
    folder = _artifact_folder(study, artifacts)
    with tempfile.TemporaryDirectory(prefix="ressearch-ablation-") as tmp:
        path = Path(tmp) / RESULT_FILE
        download_artifact(folder, pointer["result"], path, what="the ablation result")
        return AblationResult.from_dict(json.loads(path.read_text(encoding="utf-8")))


def download_ablation_plot(
    study: optuna.Study, destination: str | Path, *, artifacts: str | Path | None = None
) -> Path | None:
    """Copy the stored learning-curve plot of ``study``'s ablation to ``destination``; None if
    the study has no ablation."""
    pointer = ablation_pointer(study)
    if pointer is None or not isinstance(pointer.get("plot"), str):
        return None
    target = Path(destination)
    download_artifact(_artifact_folder(study, artifacts), pointer["plot"], target, what="the ablation plot")
    return target


# --- Files --------------------------------------------------------------------------------------


def plot_ablation(result: AblationResult, path: str | Path) -> Path:
    """The learning curves side by side: one panel per trained variant, a thin line per seed and
    the mean in bold, with the found network's mean dashed in every other panel for reference."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # no pyplot: no global backend
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    trained = [item for item in result.variants if any(run.curve for run in item.runs)]
    columns = min(3, max(1, len(trained)))
    rows = max(1, math.ceil(len(trained) / columns))
    figure = Figure(figsize=(4.2 * columns, 3.2 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    found_mean = _mean_curve(result.variant(FOUND)) if trained else []
    longest = max((len(run.curve) for item in trained for run in item.runs), default=1)
    for ax, item in zip(axes, trained, strict=False):
        for run in item.runs:
            epochs = range(1, len(run.curve) + 1)
            ax.plot(epochs, run.curve, "o-", color="tab:blue", alpha=0.3, linewidth=1, markersize=3)
        mean = _mean_curve(item)
        ax.plot(range(1, len(mean) + 1), mean, "o-", color="tab:blue", linewidth=2, label="mean over seeds")
        if item.name != FOUND and found_mean:
            epochs = range(1, len(found_mean) + 1)
            ax.plot(epochs, found_mean, "s--", color="tab:gray", linewidth=1.5, markersize=4, label="found")
        spread_text = " ± ".join(
            f"{value:.4f}" for value in (item.spread.mean, item.spread.std) if value is not None
        )
        ax.set_title(f"{item.name}: {spread_text}", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(result.metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlim(0.5, longest + 0.5)
        ax.grid(alpha=0.3)
    for ax in axes[len(trained) :]:
        ax.set_visible(False)
    if trained:
        axes[min(1, len(trained) - 1)].legend(fontsize=8)
    figure.suptitle(
        f"{result.study}, trial {result.trial}: {result.metric} per epoch, {len(result.seeds)} seeds",
        fontsize=11,
    )
    target = Path(path)
    figure.savefig(target, dpi=100)
    return target


def _mean_curve(item: VariantResult) -> list[float]:
    """The mean per epoch over the seeds that reached it (early stopping ends some sooner)."""
    longest = max((len(run.curve) for run in item.runs), default=0)
    return [
        statistics.fmean(run.curve[epoch] for run in item.runs if len(run.curve) > epoch)
        for epoch in range(longest)
    ]


def write_ablation(result: AblationResult, out: str | Path) -> list[Path]:
    """Write ``ablation.json``, ``ablation.csv`` (the table) and ``ablation-curves.png`` into
    the folder ``out`` (created if missing); each file is written beside and moved into place."""
    import csv

    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"--out: cannot create {folder}: {error.strerror}") from None
    written = []
    for filename in (RESULT_FILE, TABLE_FILE, PLOT_FILE):
        target = folder / filename
        partial = folder / f".{filename}.partial"
        if filename == RESULT_FILE:
            partial.write_text(json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8")
        elif filename == TABLE_FILE:
            rows = result.rows()
            with partial.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows({**row, "values": json.dumps(row["values"])} for row in rows)
        else:
            # savefig picks the format from the suffix: the partial name keeps .png last
            partial = folder / f".partial-{filename}"
            plot_ablation(result, partial)
        os.replace(partial, target)
        written.append(target)
    return written
