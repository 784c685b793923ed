"""The inverse of sampling: the Optuna params that make a space sample a given config.

:func:`params_for` answers "with which params do :func:`~ressearch.search.space.sample` and
:func:`~ressearch.search.space.sample_train` give exactly this config, on this data?". It runs
the sampler itself with a trial that answers each ``suggest_*`` with the value the config needs
(a choice must hold it, a range contain it, step and all), so the structural keys are inverted
by the same code that applies them; then it samples again with
``optuna.trial.FixedTrial(params)`` and compares. Where the space cannot express the config (a
fixed key, a key the space lacks, a key not used for this network) one :class:`ConfigError`
line names the field and the key that stops it. Data-dependent fields (input shape, outputs,
head, output scale) come from the data, not from the config. Nothing here touches a study.

Example:
    >>> from ressearch.config import ArchitectureConfig, ArchitectureSpace
    >>> space = ArchitectureSpace.from_dict(
    ...     {"stages": {"low": 1, "high": 3}, "depth": [1, 2], "width": {"low": 8, "high": 64}})
    >>> config = ArchitectureConfig(input_shape=(8,), outputs=3, depths=(2, 2), widths=(16, 32))
    >>> params_for(config, space, input_shape=(8,), outputs=3)
    {'stages': 2, 'depth': 2, 'width': 16}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import optuna

from ressearch.config.architecture import ArchitectureConfig
from ressearch.config.base import FrozenConfig, search_marker
from ressearch.config.presets import get_preset
from ressearch.config.space import ArchitectureSpace, Choice, Fixed, Range, Space, TrainSpace
from ressearch.config.training import TrainConfig
from ressearch.errors import ConfigError
from ressearch.search.space import applies, sample, sample_train, stage_widths

__all__ = ["adapt_to_data", "architecture_params", "params_for", "train_params"]

# The config field each structural key shapes, and the keys that shape each derived field.
_SHAPES = {
    "preset": "name",
    "stages": "depths",
    "depth": "depths",
    "width": "widths",
    "width_growth": "widths",
    "head_layers": "head_units",
    "head_width": "head_units",
}
_SHAPED_BY = {
    "depths": ("stages", "depth"),
    "widths": ("stages", "width", "width_growth"),
    "head_units": ("head_layers", "head_width"),
}
_UNIFORM = {
    "depths": "stages and depth give every stage the same depth",
    "head_units": "head_layers and head_width give every head layer the same width",
}
_TOLERANCE = 1e-8  # as Optuna's FloatDistribution checks a stepped value


def show(value: Any) -> str:
    """A value as a message shows it: tuples as ``(3, 3)``, floats short, YAML's true and null.

    Example:
        >>> show((3, 3, 3)), show(0.15000000000000002), show(True), show("basic")
        ('(3, 3, 3)', '0.15', 'true', 'basic')
    """
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return str(tuple(value))
    return str(value)


def _allows(dimension: Fixed | Choice | Range | Sequence[Any]) -> str:
    """What a key allows, for a message: ``1 to 4``, ``basic or plain``, ``only 2``."""
    if isinstance(dimension, Fixed):
        return f"only {show(dimension.value)}"
    if isinstance(dimension, Range):
        steps = f" in steps of {show(dimension.step)}" if dimension.step is not None else ""
        return f"{show(dimension.low)} to {show(dimension.high)}{steps}"
    options = [show(option) for option in (dimension.options if isinstance(dimension, Choice) else dimension)]
    return ", ".join(options[:-1]) + f" or {options[-1]}" if len(options) > 1 else options[0]


def _same(option: Any, value: Any) -> bool:
    """Whether a categorical option is the value (``True`` is not ``1``)."""
    return isinstance(option, bool) == isinstance(value, bool) and option == value


def _in_range(value: Any, low: float, high: float, step: float | None, *, integer: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if integer and not float(value).is_integer():
        return False
    if not low <= value <= high:
        return False
    if step is None:
        return True
    k = (value - low) / step
    return abs(k - round(k)) < _TOLERANCE


class _Chooser:
    """A trial that answers each ``suggest_*`` with the value the target config needs.

    ``wanted`` maps keys to values; ``flexible`` maps a key whose value the target does not fix
    (``width_growth``) to candidate values and a test of a value. A key with no wanted or fitting
    value gets the first value it allows; so does a key that does not allow the wanted value,
    which ``failures`` records with what the key allows. The comparison that follows says what
    differs and why.
    """

    def __init__(
        self,
        wanted: Mapping[str, Any],
        flexible: Mapping[str, tuple[Sequence[float], Callable[[Any], bool]]] | None = None,
    ) -> None:
        self.wanted = wanted
        self.flexible = flexible or {}
        self.params: dict[str, Any] = {}
        self.failures: dict[str, str] = {}

    def _keep(self, name: str, value: Any) -> Any:
        self.params[name] = value
        return value

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        if name in self.flexible:
            _, fits = self.flexible[name]
            return self._keep(name, next((option for option in choices if fits(option)), choices[0]))
        if name in self.wanted:
            value = self.wanted[name]
            for option in choices:
                if _same(option, value):
                    return self._keep(name, option)
            self.failures[name] = _allows(choices)
        return self._keep(name, choices[0])

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return int(self._number(name, low, high, step, integer=True))

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        return float(self._number(name, low, high, step, integer=False))

    def _number(self, name: str, low: float, high: float, step: float | None, *, integer: bool) -> float:
        if name in self.flexible:
            candidates, fits = self.flexible[name]
            if step is not None:  # the grid points nearest each candidate
                candidates = [*candidates, *(low + round((c - low) / step) * step for c in candidates)]
            for candidate in candidates:
                if _in_range(candidate, low, high, step, integer=integer) and fits(candidate):
                    return self._keep(name, candidate)
        elif name in self.wanted:
            value = self.wanted[name]
            if _in_range(value, low, high, step, integer=integer):
                return self._keep(name, value)
            steps = f" in steps of {show(step)}" if step not in (None, 1) else ""
            self.failures[name] = f"{show(low)} to {show(high)}{steps}"
        return self._keep(name, low)


def adapt_to_data(
    config: ArchitectureConfig,
    *,
    input_shape: tuple[int, ...],
    outputs: int,
    head: Literal["classification", "regression"] = "classification",
    output_scale: tuple[float, float] | None = None,
    continuous_features: tuple[int, ...] | None = None,
    categorical_columns: tuple[tuple[int, int], ...] = (),
) -> ArchitectureConfig:
    """``config`` for this data: its input shape, outputs, head, output scale and continuous
    columns (None: every column, or no tabular rows); conv-only fields go back to their defaults
    on dense inputs, where they mean nothing.

    Raises:
        ConfigError: the network cannot take this data (a block type without this input rank).
    """
    rank = len(input_shape)
    mean, std = output_scale if output_scale is not None else (0.0, 1.0)
    changes: dict[str, Any] = {
        "input_shape": tuple(input_shape),
        "outputs": outputs,
        "head": head,
        "output_mean": mean,
        "output_std": std,
        # The columns this data's embeddings take, not those of the data the config came from.
        "continuous_features": continuous_features,
        "categorical_columns": tuple(categorical_columns),
    }
    for name, info in ArchitectureConfig.model_fields.items():
        ranks = search_marker(ArchitectureConfig, name).ranks
        if ranks is not None and rank not in ranks:
            changes[name] = info.default
    try:
        return config.replace(**changes)
    except ConfigError as error:
        raise ConfigError(f"cannot be used on this data (input {list(input_shape)}): {error}") from None


def _comparable(config: FrozenConfig) -> dict[str, Any]:
    """The fields that make the network (or the training): not the name, a label, and not a
    field the config does not use (``expansion`` of a basic block, a conv-only field on dense
    inputs, ``momentum`` with adam), whatever its value."""
    fields = config.to_dict()
    kept = {}
    for name, value in fields.items():
        marker = search_marker(type(config), name)
        if isinstance(config, ArchitectureConfig):
            used = applies(marker, fields, rank=config.rank, family=config.family, key=name)
        else:
            used = marker.when is None or fields.get(marker.when[0]) in marker.when[1]
        if used and name != "name":
            kept[name] = value
    return kept


def _implied(key: str, config: ArchitectureConfig | TrainConfig) -> Any:
    """The value of space key ``key`` that ``config`` shows (None where it cannot tell)."""
    if not isinstance(config, ArchitectureConfig):
        return getattr(config, key)
    if key == "stages":
        return config.stages
    if key == "depth":
        return config.depths[0]
    if key == "width":
        return config.widths[0]
    if key == "width_growth":
        return None
    if key == "head_layers":
        return len(config.head_units)
    if key == "head_width":
        return config.head_units[0] if config.head_units else None
    return getattr(config, key)


def _explain(
    field: str,
    target: ArchitectureConfig | TrainConfig,
    made: ArchitectureConfig | TrainConfig,
    space: Space,
    failures: Mapping[str, str],
    base: FrozenConfig,
    origin: str,
) -> str:
    """Why ``space`` makes ``made.field`` where ``target`` has another value."""
    given = getattr(target, field)
    if field in _UNIFORM and len(set(given)) > 1:
        return _UNIFORM[field]
    value = show(getattr(made, field))
    from_base = f" ({origin})" if getattr(made, field) == getattr(base, field) else ""
    for key in _SHAPED_BY.get(field, (field,)):
        if key in failures:
            return f"{space.section}.{key} allows {failures[key]}"
        if _implied(key, target) is not None and _implied(key, target) == _implied(key, made):
            continue
        dimension = space.dimensions.get(key)
        if dimension is None:
            return f"{space.section} has no {key}, so {field} is {value}{from_base}"
        # A fixed key, or width_growth with no value that makes these widths.
        return f"{space.section}.{key} allows {_allows(dimension)}"
    return f"this space makes {field} {value}"


def _first_difference(target: FrozenConfig, made: FrozenConfig) -> str | None:
    wanted, got = _comparable(target), _comparable(made)
    return next((name for name in wanted if wanted[name] != got.get(name)), None)


def _check(
    section: str,
    target: ArchitectureConfig | TrainConfig,
    chooser: _Chooser,
    make: Callable[[Any], ArchitectureConfig | TrainConfig],
    space: Space,
    base: FrozenConfig,
    origin: str,
) -> dict[str, Any]:
    """Sample with ``chooser``, then with ``FixedTrial`` of its params; the params if that makes
    ``target``, else one line on the first field (in config order) that differs and why."""

    def cannot(field: str, why: str) -> ConfigError:
        return ConfigError(
            f"{_field_text(section, field, getattr(target, field))} cannot be made by this space: {why}"
        )

    try:
        make(chooser)
        made = make(optuna.trial.FixedTrial(chooser.params))
    except ConfigError as error:  # a value the key allows that makes an impossible combination
        if chooser.failures:
            key, allowed = next(iter(chooser.failures.items()))
            raise cannot(_SHAPES.get(key, key), f"{space.section}.{key} allows {allowed}") from None
        what = "this training" if section == "train" else "this network"
        raise ConfigError(f"{what} cannot be made by this space: {error}") from None
    field = _first_difference(target, made)
    if field is not None:
        raise cannot(field, _explain(field, target, made, space, chooser.failures, base, origin))
    return chooser.params


def _field_text(section: str, field: str, value: Any) -> str:
    prefix = "train." if section == "train" else ""
    return f"{prefix}{field} {show(value)}"


def _growths(widths: Sequence[int]) -> list[float]:
    """Growth factors to try for ``widths``: the plain ratios, then points of the interval of
    factors that round to every stage's width (``round(w0 * g**i) == w_i``), whose middle fits
    where the ratios miss and whose ends fit a range that cuts the interval."""
    if len(widths) < 2:
        return []  # one stage: any growth makes it
    first = widths[0]
    low, high = 0.0, float("inf")
    for stage, width in enumerate(widths[1:], start=1):
        if width > 1:  # a width of 1 is any product below 1.5 (widths are at least 1)
            low = max(low, ((width - 0.5) / first) ** (1 / stage))
        high = min(high, ((width + 0.5) / first) ** (1 / stage))
    ratios = [widths[1] / first, (widths[-1] / first) ** (1 / (len(widths) - 1))]
    if low >= high:
        return ratios
    inside = [low + (high - low) * share for share in (0.5, 0.01, 0.99)]
    return [*ratios, *inside]


def architecture_params(
    config: ArchitectureConfig,
    space: ArchitectureSpace,
    *,
    input_shape: tuple[int, ...],
    outputs: int,
    head: Literal["classification", "regression"] = "classification",
    output_scale: tuple[float, float] | None = None,
    continuous_features: tuple[int, ...] | None = None,
    categorical_columns: tuple[tuple[int, int], ...] = (),
) -> dict[str, Any]:
    """The params with which :func:`~ressearch.search.space.sample` makes ``config`` (adapted
    to this data, see :func:`adapt_to_data`).

    Where the space offers several presets, the config's own preset is tried first.

    Raises:
        ConfigError: one line, ``FIELD VALUE cannot be made by this space: WHY``.
    """
    target = adapt_to_data(
        config,
        input_shape=input_shape,
        outputs=outputs,
        head=head,
        output_scale=output_scale,
        continuous_features=continuous_features,
        categorical_columns=categorical_columns,
    )
    presets: Sequence[str | None] = space.possible("preset") or (None,)
    first_error: ConfigError | None = None
    for preset in sorted(presets, key=lambda name: name != target.name):
        try:
            return _architecture_params(target, space, preset, head=head, output_scale=output_scale)
        except ConfigError as error:
            first_error = first_error or error
    assert first_error is not None
    raise first_error


def _architecture_params(
    target: ArchitectureConfig,
    space: ArchitectureSpace,
    preset: str | None,
    *,
    head: Literal["classification", "regression"],
    output_scale: tuple[float, float] | None,
) -> dict[str, Any]:
    shape, outputs = target.input_shape, target.outputs
    if preset is not None:
        base = get_preset(preset, input_shape=shape, outputs=outputs, head=head)
        origin = f"preset {preset}'s"
    else:
        base = ArchitectureConfig(input_shape=shape, outputs=outputs, head=head)
        origin = "the default"
    wanted: dict[str, Any] = {name: getattr(target, name) for name in ArchitectureConfig.model_fields}
    wanted.update(
        preset=preset,
        stages=target.stages,
        depth=target.depths[0],
        width=target.widths[0],
        head_layers=len(target.head_units),
    )
    if target.head_units:
        wanted["head_width"] = target.head_units[0]
    widths = list(target.widths)

    def growth_fits(growth: Any) -> bool:
        return stage_widths(widths[0], growth, len(widths)) == widths

    chooser = _Chooser(wanted, {"width_growth": (_growths(widths), growth_fits)})

    def make(trial: Any) -> ArchitectureConfig:
        return sample(
            trial,
            space,
            input_shape=target.input_shape,
            outputs=target.outputs,
            head=head,
            output_scale=output_scale,
            continuous_features=target.continuous_features,
            categorical_columns=target.categorical_columns,
        )

    return _check("space", target, chooser, make, space, base, origin)


def train_params(config: TrainConfig, space: TrainSpace) -> dict[str, Any]:
    """The params with which :func:`~ressearch.search.space.sample_train` makes ``config``.

    Raises:
        ConfigError: one line, ``train.FIELD VALUE cannot be made by this space: WHY``.
    """
    return _check(
        "train",
        config,
        _Chooser(config.to_dict()),
        lambda trial: sample_train(trial, space),
        space,
        TrainConfig(),
        "the default",
    )


def params_for(
    architecture: ArchitectureConfig,
    space: ArchitectureSpace,
    *,
    input_shape: tuple[int, ...],
    outputs: int,
    head: Literal["classification", "regression"] = "classification",
    output_scale: tuple[float, float] | None = None,
    continuous_features: tuple[int, ...] | None = None,
    categorical_columns: tuple[tuple[int, int], ...] = (),
    train: TrainConfig | None = None,
    train_space: TrainSpace | None = None,
) -> dict[str, Any]:
    """The Optuna params that make the study's spaces sample ``architecture`` (and ``train``,
    where given) on data of ``input_shape`` with ``outputs`` outputs.

    Without ``train`` the training keys are left out: Optuna samples them (an enqueued trial's
    params may be partial).

    Raises:
        ConfigError: the spaces cannot express a field; one line naming it and the key.
    """
    params = architecture_params(
        architecture,
        space,
        input_shape=input_shape,
        outputs=outputs,
        head=head,
        output_scale=output_scale,
        continuous_features=continuous_features,
        categorical_columns=categorical_columns,
    )
    if train is not None:
        params.update(train_params(train, train_space or TrainSpace({})))
    return params
