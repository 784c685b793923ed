"""What ressearch stores in Optuna, in one place: :class:`TrialRecord` and :class:`StudyMeta`.

A trial's record is a set of Optuna user attributes (the names optuna-dashboard shows: its
architecture, or the KerasTuner hypermodel and hyperparameter values that built its network, and
its training config, seed, worker, model artifact, parameter count, measured
metrics, learning curve, ...); a study's metadata is one user attribute, ``ressearch``, holding
the validated study file, the artifact folder and the data summary. This module is the only
code that reads or writes them. Both are versioned: a record or metadata written by a newer
ressearch is refused with one line instead of being misread.

Names mean one thing: ``params`` is Optuna's, the sampled hyperparameters (``trial.params``);
the parameter count of a network is ``model_params``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ressearch._version import __version__
from ressearch.config.study import StudyDefinition
from ressearch.errors import ConfigError

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = [
    "ABLATION_ATTR",
    "HYPERMODEL_RECORD_VERSION",
    "INTERRUPTED_REASON",
    "RETRIED_REASON",
    "RECORD_VERSION",
    "STUDY_ATTR",
    "STUDY_META_VERSION",
    "StudyMeta",
    "TrialRecord",
    "ablation_pointer",
    "write_ablation_pointer",
]

RECORD_VERSION = 1  # the record of a trial of ressearch's architectures
# A trial of a KerasTuner hypermodel records `hypermodel` instead of `architecture`: a ressearch
# from before the bridge would misread it, so it carries a version that ressearch refuses.
HYPERMODEL_RECORD_VERSION = 2
STUDY_META_VERSION = 1
STUDY_ATTR = "ressearch"
ABLATION_ATTR = "ressearch_ablation"
INTERRUPTED_REASON = (
    "interrupted (Ctrl-C or SIGTERM); not counted: requeued with the same parameters and seed, "
    "the next run continues it from its last checkpoint (from the start if it had none)"
)
RETRIED_REASON = "its worker vanished (no heartbeat, or its process is gone); not counted: retried"
_VERSION_KEY = "record_version"


@dataclass(frozen=True)
class TrialRecord:
    """ressearch's user attributes of one trial; every field is optional (written as it happens).

    ``to_attrs()`` gives the attributes to write (None fields left out), ``from_trial()`` reads
    them back from any Optuna trial (a trial not made by ressearch gives an empty record).

    Example:
        >>> record = TrialRecord(seed=3, epochs=2)
        >>> record.to_attrs()
        {'seed': 3, 'epochs': 2}
        >>> TrialRecord.from_attrs(record.to_attrs()) == record
        True
    """

    version: int | None = None  # written once, when the trial starts
    architecture: dict[str, Any] | None = None
    # A hypermodel's network instead of an architecture: HypermodelConfig's dict, its
    # hyperparameter values added once the hypermodel has built the model.
    hypermodel: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    seed: int | None = None
    worker: str | None = None  # host:pid, for studies run by several workers
    worker_started: float | None = None  # the worker process's start time, so a reused pid is not it
    devices: str | None = None  # CUDA_VISIBLE_DEVICES as the worker saw it (its GPUs)
    model_artifact: str | None = None
    model_params: int | None = None
    metrics: dict[str, float] | None = None
    curve: dict[str, list[float]] | None = None
    epochs: int | None = None
    train_seconds: float | None = None
    seconds: dict[str, float] | None = None  # where the trial's time went, phase by phase
    worker_rss_mb: float | None = None  # the worker's resident memory after the trial
    fail_reason: str | None = None
    interrupted: bool | None = None
    surplus: bool | None = None  # started when every slot of n_trials was taken: not counted
    resumed_from: int | None = None  # epochs restored from the checkpoint of the trial it retries
    # The warm-start entry the trial was enqueued for: a preset, a config file, `study:NAME#N`.
    warm_start: str | None = None

    def to_attrs(self) -> dict[str, Any]:
        """The user attributes to write, JSON-safe, under the names the dashboard shows."""
        attrs = {_key(name): value for name, value in asdict(self).items() if value is not None}
        return attrs

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> TrialRecord:
        """Read a record from user attributes; keys of other tools are ignored."""
        version = attrs.get(_VERSION_KEY)
        if isinstance(version, int) and version > HYPERMODEL_RECORD_VERSION:
            raise ConfigError(
                f"trial record version {version} is newer than this ressearch reads "
                f"({HYPERMODEL_RECORD_VERSION}); upgrade ressearch"
            )
        return cls(**{item.name: attrs.get(_key(item.name)) for item in fields(cls)})

    @classmethod
    def keys(cls, *names: str) -> tuple[str, ...]:
        """The user attribute names the fields ``names`` are stored under (for reading only those).

        Example:
            >>> TrialRecord.keys("version", "epochs")
            ('record_version', 'epochs')
        """
        known = {item.name for item in fields(cls)}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(f"TrialRecord has no field {unknown[0]!r}")
        return tuple(_key(name) for name in names)

    @classmethod
    def from_trial(cls, trial: FrozenTrial | optuna.Trial) -> TrialRecord:
        return cls.from_attrs(trial.user_attrs)

    def write(self, trial: optuna.Trial) -> None:
        """Write this record's fields to a running trial."""
        for key, value in self.to_attrs().items():
            trial.set_user_attr(key, value)

    def write_to_storage(self, storage: optuna.storages.BaseStorage, trial_id: int) -> None:
        """Write this record's fields to a trial through its storage (one no process is running)."""
        for key, value in self.to_attrs().items():
            storage.set_trial_user_attr(trial_id, key, value)

    @classmethod
    def started(
        cls,
        *,
        architecture: dict[str, Any] | None = None,
        hypermodel: dict[str, Any] | None = None,
        train: dict[str, Any],
        seed: int,
        worker: str,
        worker_started: float | None = None,
        devices: str | None = None,
    ) -> TrialRecord:
        """What a trial records before it trains, so a running trial shows its network (or the
        hypermodel that will build it)."""
        return cls(
            version=RECORD_VERSION if hypermodel is None else HYPERMODEL_RECORD_VERSION,
            architecture=architecture,
            hypermodel=hypermodel,
            train=train,
            seed=seed,
            worker=worker,
            worker_started=worker_started,
            devices=devices,
        )

    @classmethod
    def interruption(cls) -> TrialRecord:
        """Marks a trial stopped by Ctrl-C or SIGTERM: failed, not counted, run again."""
        return cls(interrupted=True, fail_reason=INTERRUPTED_REASON)

    @classmethod
    def vanished(cls) -> TrialRecord:
        """Why a trial failed whose worker vanished (a retry continues it, so it is not counted)."""
        return cls(fail_reason=RETRIED_REASON)

    @property
    def is_interrupted(self) -> bool:
        return bool(self.interrupted)

    def describe_network(self) -> str | None:
        """The recorded network in one line (:meth:`ArchitectureConfig.describe`, or a hypermodel's
        :meth:`HypermodelConfig.describe`); None if the trial recorded none (it failed before
        sampling) or one this version cannot read."""
        from ressearch.config.architecture import ArchitectureConfig
        from ressearch.config.hypermodel import HypermodelConfig

        try:
            if self.architecture is not None:
                return ArchitectureConfig.from_dict(self.architecture).describe()
            if self.hypermodel is not None:
                return HypermodelConfig.from_dict(self.hypermodel).describe()
        except ConfigError:
            return None
        return None


def ablation_pointer(study: optuna.Study) -> dict[str, Any] | None:
    """The study's ``ressearch_ablation`` attribute: where ``ressearch ablate`` stored its result
    (artifact ids) and a short summary; None where the study has none."""
    pointer = study.user_attrs.get(ABLATION_ATTR)
    return pointer if isinstance(pointer, dict) and isinstance(pointer.get("result"), str) else None


def write_ablation_pointer(study: optuna.Study, pointer: dict[str, Any]) -> None:
    """Point the study at a newly stored ablation (a few hundred characters: the rest is artifacts)."""
    study.set_user_attr(ABLATION_ATTR, pointer)


def _key(name: str) -> str:
    return _VERSION_KEY if name == "version" else name


@dataclass(frozen=True)
class StudyMeta:
    """The ``ressearch`` user attribute of a study: what resuming and exporting need.

    ``definition`` is the validated study file (data paths absolute), ``artifacts`` the folder of
    trained models, ``data`` the data summary, ``preprocessing`` the recipe for new rows.
    """

    definition: dict[str, Any]
    artifacts: str
    data: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    version: str = __version__  # the ressearch that wrote it
    schema: int = STUDY_META_VERSION

    def to_attrs(self) -> dict[str, Any]:
        return {STUDY_ATTR: asdict(self)}

    @classmethod
    def from_study(cls, study: optuna.Study) -> StudyMeta | None:
        """The metadata of ``study``; None for a study ressearch did not create."""
        return cls.from_attrs(study.user_attrs, study.study_name)

    @classmethod
    def from_attrs(cls, user_attrs: dict[str, Any], study_name: str) -> StudyMeta | None:
        """The metadata in a study's user attributes; None for a study ressearch did not create."""
        meta = user_attrs.get(STUDY_ATTR)
        if not isinstance(meta, dict) or "definition" not in meta:
            return None
        schema = meta.get("schema", 1)
        if isinstance(schema, int) and schema > STUDY_META_VERSION:
            raise ConfigError(
                f"study {study_name!r} was written by a newer ressearch (metadata schema {schema}); "
                "upgrade ressearch"
            )
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in meta.items() if key in known})

    def write(self, study: optuna.Study) -> None:
        for key, value in self.to_attrs().items():
            study.set_user_attr(key, value)

    def study_definition(self) -> StudyDefinition:
        """The study file as it was validated when the study was created or last resumed."""
        return StudyDefinition.from_dict(self.definition)
