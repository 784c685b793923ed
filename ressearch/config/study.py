"""A study definition: the ``study:`` settings and the validated sections of a study file.

Every problem is one :class:`ConfigError` line that names the key and what is allowed (with a
did-you-mean hint for unknown keys). Relative data paths resolve against the study file's
folder and are stored absolute, so a resumed study or an export finds the same data from
anywhere. Reading the YAML file is :mod:`ressearch.config.files`.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BeforeValidator, Field, model_validator

from ressearch.config.base import FrozenConfig
from ressearch.config.data import PATH_KINDS, DataConfig
from ressearch.config.hypermodel import HypermodelSpace
from ressearch.config.runtime import RuntimeConfig
from ressearch.config.space import ArchitectureSpace, Choice, Range, TrainSpace
from ressearch.config.warmstart import WarmStart, parse_warm_starts
from ressearch.errors import ConfigError

__all__ = [
    "METRICS",
    "METRIC_ALIASES",
    "METRIC_DIRECTIONS",
    "StudyDefinition",
    "StudySettings",
    "parse_study",
]

METRICS: tuple[str, ...] = ("val_accuracy", "val_loss", "val_auc", "val_rmse", "model_params", "latency")
# Earlier spellings, read as the metric they name. `params` is Optuna's word for the sampled
# hyperparameters, so the parameter count is `model_params` everywhere.
METRIC_ALIASES: dict[str, str] = {"params": "model_params"}
Direction = Literal["maximize", "minimize"]
METRIC_DIRECTIONS: dict[str, Direction] = {
    "val_accuracy": "maximize",
    "val_auc": "maximize",
    "val_loss": "minimize",
    "val_rmse": "minimize",
    "model_params": "minimize",
    "latency": "minimize",
}


def _canonical_metric(value: Any) -> Any:
    return METRIC_ALIASES.get(value, value) if isinstance(value, str) else value


Metric = Annotated[
    Literal["val_accuracy", "val_loss", "val_auc", "val_rmse", "model_params", "latency"],
    BeforeValidator(_canonical_metric),
]


class StudySettings(FrozenConfig):
    """The ``study:`` section."""

    _label: ClassVar[str] = "study"

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=120)]
    direction: Direction | None = None
    directions: Annotated[tuple[Direction, ...], Field(min_length=1)] | None = None
    metric: Metric | None = None
    metrics: Annotated[tuple[Metric, ...], Field(min_length=1)] | None = None
    sampler: Literal["tpe", "random", "cmaes", "qmc", "nsga2", "grid"] = "tpe"
    pruner: Literal["none", "median", "successive_halving", "hyperband"] = "median"
    # The median pruner prunes only once this many trials have finished (None: 3).
    pruner_startup_trials: Annotated[int, Field(ge=0)] | None = None
    # The median pruner never judges a trial's first this many epochs (None: 1).
    pruner_warmup_epochs: Annotated[int, Field(ge=0)] | None = None
    n_trials: Annotated[int, Field(gt=0)] = 20
    timeout: Annotated[float, Field(gt=0)] | None = None
    seed: int = 0
    max_params: Annotated[int, Field(gt=0)] | None = None
    # A running trial whose worker sent no heartbeat for this long is failed and retried.
    grace_period: Annotated[float, Field(ge=10)] = 120.0
    max_retries: Annotated[int, Field(ge=0)] = 3  # retries of one trial whose worker vanished
    # How long a run waits for a storage that stopped answering before it gives up (exit code 4).
    # At most half the grace period, so that no other worker takes the waiting trial for dead
    # once the storage is back. None: half the grace period (60 s by default).
    storage_timeout: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.storage_timeout is not None and self.storage_timeout > self.grace_period / 2:
            raise ValueError(
                f"storage_timeout must be at most half of grace_period ({self.grace_period / 2:g} s), "
                f"got {self.storage_timeout:g}: other workers would take a trial that waits longer for dead"
            )
        for key in ("pruner_startup_trials", "pruner_warmup_epochs"):
            if getattr(self, key) is not None and self.pruner != "median":
                raise ValueError(
                    f"{key} applies to pruner: median, not {self.pruner}; leave it out or set pruner: median"
                )
        if (self.metric is None) == (self.metrics is None):
            raise ValueError("give exactly one of metric (one objective) or metrics (several)")
        if self.direction is not None and self.directions is not None:
            raise ValueError("give direction (one objective) or directions (several), not both")
        if self.metric is not None and self.directions is not None:
            raise ValueError("metric goes with direction; metrics goes with directions")
        if self.metrics is not None:
            if self.direction is not None:
                raise ValueError("metrics goes with directions; metric goes with direction")
            if len(set(self.metrics)) != len(self.metrics):
                raise ValueError(f"metrics repeats a metric, got {list(self.metrics)}")
            if self.directions is not None and len(self.directions) != len(self.metrics):
                raise ValueError(
                    f"directions needs one entry per metric, got {len(self.directions)} for "
                    f"{len(self.metrics)} metrics"
                )
        return self

    @property
    def outage_s(self) -> float:
        """Seconds a run waits for a storage that stopped answering (``storage_timeout``)."""
        return self.storage_timeout if self.storage_timeout is not None else self.grace_period / 2

    @property
    def objective_metrics(self) -> tuple[str, ...]:
        return (self.metric,) if self.metric is not None else tuple(self.metrics or ())

    @property
    def objective_directions(self) -> tuple[Direction, ...]:
        if self.directions is not None:
            return tuple(self.directions)
        if self.direction is not None:
            return (self.direction,)
        return tuple(METRIC_DIRECTIONS[metric] for metric in self.objective_metrics)

    @property
    def multi_objective(self) -> bool:
        return len(self.objective_metrics) > 1

    @property
    def uses_pruning(self) -> bool:
        """Pruning needs one objective reported per epoch; Optuna has none for several."""
        return self.pruner != "none" and not self.multi_objective


@dataclass(frozen=True)
class StudyDefinition:
    """A validated study file: its settings, data, spaces and where it came from.

    ``space`` is ressearch's architecture space, or a KerasTuner hypermodel that declares its
    own hyperparameters as it builds (:class:`HypermodelSpace`).
    ``warm_start`` holds the entries that seed the study before it samples; they are an
    instruction to the run that prepares it, not part of what the study is, so :meth:`to_dict`
    (what is stored with the study) leaves them out: each seeded trial records its entry.
    """

    settings: StudySettings
    data: DataConfig
    space: ArchitectureSpace | HypermodelSpace
    train: TrainSpace
    path: Path | None = None
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    warm_start: tuple[WarmStart, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The study file as stored with the study (data paths absolute; no warm starts)."""
        return {
            "study": self.settings.to_dict(),
            "data": self.data.to_dict(),
            "space": self.space.to_dict(),
            "train": self.train.to_dict(),
            "runtime": self.runtime.to_dict(),
        }

    def grid(self) -> dict[str, list[Any]]:
        """Every choice of both spaces, for ``sampler: grid``; ranges cannot be gridded."""
        grid: dict[str, list[Any]] = {}
        if isinstance(self.space, HypermodelSpace):
            raise ConfigError(
                "study.sampler: grid needs every choice before the study starts, and a hypermodel "
                "declares its hyperparameters as it builds; use tpe, random, cmaes or qmc"
            )
        for space in (self.space, self.train):
            for key, dimension in space.dimensions.items():
                if isinstance(dimension, Range):
                    raise ConfigError(
                        f"{space.section}.{key}: sampler grid needs lists of choices, not ranges"
                    )
                if isinstance(dimension, Choice):
                    grid[key] = list(dimension.options)
        if not grid:
            raise ConfigError("study.sampler: grid needs at least one list of choices in space or train")
        return grid

    @property
    def hypermodel(self) -> HypermodelSpace | None:
        """The hypermodel this study runs; None for a study of ressearch's architectures."""
        return self.space if isinstance(self.space, HypermodelSpace) else None

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: Path | None = None) -> Self:
        return parse_study(data, path=path)  # type: ignore[return-value]

    def with_overrides(self, **settings: Any) -> StudyDefinition:
        """A copy whose ``study:`` settings have ``settings`` applied (None values ignored)."""
        changes = {key: value for key, value in settings.items() if value is not None}
        if not changes:
            return self
        return dataclasses.replace(self, settings=self.settings.replace(**changes))

    def with_warm_starts(self, entries: tuple[WarmStart, ...]) -> StudyDefinition:
        """A copy that also enqueues ``entries`` (``ressearch run --enqueue``), after its own."""
        if not entries:
            return self
        return dataclasses.replace(self, warm_start=(*self.warm_start, *entries))


_SECTIONS = {
    "study": StudySettings,
    "data": DataConfig,
    "space": None,
    "train": None,
    "runtime": RuntimeConfig,
    "warm_start": None,
}


def _check_keys(where: str, given: dict[str, Any], known: list[str]) -> None:
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}{key}: unknown key{hint}; known are {', '.join(known)}")


def _resolve_source(data: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    source = data.get("source")
    if not isinstance(source, str) or ":" not in source:
        return data
    kind, _, rest = source.partition(":")
    if kind in PATH_KINDS and rest:
        path = Path(rest).expanduser()
        if not path.is_absolute():
            path = (base_dir / path).resolve()
        return {**data, "source": f"{kind}:{path}"}
    return data


def parse_study(raw: Any, *, path: Path | None = None) -> StudyDefinition:
    """Validate a study mapping; ``path`` (the file) anchors relative data paths.

    Raises:
        ConfigError: the first problem, naming the key and what is allowed.
    """
    if not isinstance(raw, dict):
        raise ConfigError(
            f"expected a mapping with sections {', '.join(_SECTIONS)}, got {type(raw).__name__}"
        )
    _check_keys("", raw, list(_SECTIONS))
    for section in ("study", "data"):
        if section not in raw:
            raise ConfigError(f"{section}: required section is missing")
        if not isinstance(raw[section], dict):
            raise ConfigError(f"{section}: expected a mapping, got {type(raw[section]).__name__}")
    _check_keys("study.", raw["study"], list(StudySettings.model_fields))
    _check_keys("data.", raw["data"], list(DataConfig.model_fields))
    settings = StudySettings.from_dict(raw["study"])
    base_dir = path.resolve().parent if path is not None else Path.cwd()
    data = DataConfig.from_dict(_resolve_source(raw["data"], base_dir))
    raw_space = raw.get("space")
    space: ArchitectureSpace | HypermodelSpace
    if isinstance(raw_space, dict) and "hypermodel" in raw_space:
        space = HypermodelSpace.from_study(raw_space, base_dir=base_dir)
    else:
        space = ArchitectureSpace.from_dict(raw_space)
    train = TrainSpace.from_dict(raw.get("train"))
    runtime = raw.get("runtime") or {}
    if isinstance(runtime, dict):
        _check_keys("runtime.", runtime, list(RuntimeConfig.model_fields))
    warm_start = parse_warm_starts(raw.get("warm_start"), base_dir=base_dir if path is not None else None)
    definition = StudyDefinition(
        settings, data, space, train, path, RuntimeConfig.from_dict(runtime), warm_start
    )
    if settings.sampler == "grid":
        points = 1
        for options in definition.grid().values():
            points *= len(options)
        if settings.n_trials > points:
            raise ConfigError(
                f"study.n_trials: the grid has {points} points, got n_trials={settings.n_trials}"
            )
    return definition
