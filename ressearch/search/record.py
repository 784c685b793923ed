"""What ressearch stores in Optuna, in one place: :class:`TrialRecord` and :class:`StudyMeta`.

A trial's record is a set of short Optuna user attributes (the names optuna-dashboard shows: its
network in one line, seed, worker, model artifact, parameter count, the objective metrics,
epochs, durations, ...) and two trial artifacts beside its model: ``config.json``
(:class:`TrialConfig`: the architecture, or the KerasTuner hypermodel and hyperparameter values,
and the training config; uploaded as the trial starts) and ``metrics.json``
(:class:`TrialMeasurements`: every metric, the learning curve, where the time went; uploaded as
it ends). A study's metadata is one short user attribute, ``ressearch`` (the artifact folder, a
summary line, the id of ``study.json``), and the study artifact ``study.json``: the validated study
file, the data summary, the preprocessing recipe and the class names. So ``optuna studies`` and
``optuna trials`` print lines of a few hundred characters, and a dashboard page fits its window.

This module is the only code that reads or writes them. Both are versioned: a record or metadata
written by a newer ressearch is refused with one line instead of being misread; those of older
versions (the configs, curves and study file held inline in the attributes) are still read.

Names mean one thing: ``params`` is Optuna's, the sampled hyperparameters (``trial.params``);
the parameter count of a network is ``model_params``.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ressearch._version import __version__
from ressearch.config.study import StudyDefinition
from ressearch.errors import ConfigError, StorageError
from ressearch.storage.artifacts import (
    open_artifact_store,
    read_json_artifact,
    remove_study_artifact,
    upload_json,
)

if TYPE_CHECKING:
    import optuna
    from optuna.artifacts import FileSystemArtifactStore
    from optuna.trial import FrozenTrial

__all__ = [
    "ABLATION_ATTR",
    "CONFIG_FILE",
    "CONFIG_SCHEMA_VERSION",
    "HYPERMODEL_RECORD_VERSION",
    "INTERRUPTED_REASON",
    "METRICS_FILE",
    "RETRIED_REASON",
    "RECORD_VERSION",
    "STUDY_ATTR",
    "STUDY_FILE",
    "STUDY_META_VERSION",
    "StudyMeta",
    "TrialConfig",
    "TrialMeasurements",
    "TrialRecord",
    "ablation_pointer",
    "write_ablation_pointer",
]

# Version 1: a trial of ressearch's architectures, its configs and curve inline. Version 2: a trial
# of a KerasTuner hypermodel (`hypermodel` instead of `architecture`), refused by a ressearch from
# before the bridge. Version 3: either kind, configs and measurements in config.json and
# metrics.json trial artifacts (refused by a ressearch that would find no config in the record).
RECORD_VERSION = 3
HYPERMODEL_RECORD_VERSION = 2
STUDY_META_VERSION = 2  # 1: the study file inline in the attribute; 2: in the study.json artifact
CONFIG_SCHEMA_VERSION = 1  # of config.json, a trial artifact and in an export alike
STUDY_ATTR = "ressearch"
ABLATION_ATTR = "ressearch_ablation"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
STUDY_FILE = "study.json"
INTERRUPTED_REASON = (
    "interrupted (Ctrl-C or SIGTERM); not counted: requeued with the same parameters and seed, "
    "the next run continues it from its last checkpoint (from the start if it had none)"
)
RETRIED_REASON = "its worker vanished (no heartbeat, or its process is gone); not counted: retried"
_VERSION_KEY = "record_version"


@dataclass(frozen=True)
class TrialConfig:
    """What rebuilds and retrains a trial's network: ``config.json``, a trial artifact.

    The network is an architecture (``ArchitectureConfig``'s dict) or a hypermodel
    (``HypermodelConfig``'s dict, its hyperparameter values added once it has built the model);
    ``train`` is the training config. The file is the one an export writes and ``ressearch build``
    reads.

    Example:
        >>> config = TrialConfig(architecture={"name": "resnet"}, train={"epochs": 2})
        >>> TrialConfig.from_json(config.to_json(study="s", trial=0)) == config
        True
    """

    architecture: dict[str, Any] | None = None
    hypermodel: dict[str, Any] | None = None
    train: dict[str, Any] | None = None

    def to_json(self, *, study: str, trial: int) -> dict[str, Any]:
        network = (
            {"hypermodel": self.hypermodel}
            if self.hypermodel is not None
            else {"architecture": self.architecture}
        )
        return {
            "schema_version": CONFIG_SCHEMA_VERSION,
            "study": study,
            "trial": trial,
            **network,
            "train": self.train,
        }

    @classmethod
    def from_json(cls, data: Any) -> TrialConfig:
        if not isinstance(data, dict) or not isinstance(data.get("schema_version", 1), int):
            raise StorageError("artifacts: a trial's config.json holds no config object")
        if data.get("schema_version", 1) > CONFIG_SCHEMA_VERSION:
            raise ConfigError(
                f"config.json schema {data['schema_version']} is newer than this ressearch reads "
                f"({CONFIG_SCHEMA_VERSION}); upgrade ressearch"
            )
        return cls(
            architecture=data.get("architecture"), hypermodel=data.get("hypermodel"), train=data.get("train")
        )

    def describe(self) -> str | None:
        """The network in one line (:meth:`ArchitectureConfig.describe`, or a hypermodel's
        :meth:`HypermodelConfig.describe`); None for none, or one this version cannot read."""
        from ressearch.config.architecture import ArchitectureConfig
        from ressearch.config.hypermodel import HypermodelConfig

        try:
            if self.hypermodel is not None:
                return HypermodelConfig.from_dict(self.hypermodel).describe()
            if self.architecture is not None:
                return ArchitectureConfig.from_dict(self.architecture).describe()
        except ConfigError:
            return None
        return None


@dataclass(frozen=True)
class TrialMeasurements:
    """What a trial measured: ``metrics.json``, a trial artifact written as the trial ends.

    ``metrics`` holds every metric measured (the record's ``metrics`` attribute only the
    objectives), ``curve`` every logged metric after each epoch, ``seconds`` where the time went.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    curve: dict[str, list[float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None
    train_seconds: float | None = None
    model_params: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> TrialMeasurements:
        if not isinstance(data, dict):
            raise StorageError("artifacts: a trial's metrics.json holds no object")
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known and value is not None})


@dataclass(frozen=True)
class TrialRecord:
    """ressearch's user attributes of one trial; every field is optional (written as it happens).

    ``to_attrs()`` gives the attributes to write (None fields left out), ``from_trial()`` reads
    them back from any Optuna trial (a trial not made by ressearch gives an empty record).
    :meth:`config` and :meth:`measurements` read the trial's ``config.json`` and ``metrics.json``
    (or, in a record of version 1 or 2, the same things held inline).

    Example:
        >>> record = TrialRecord(seed=3, epochs=2)
        >>> record.to_attrs()
        {'seed': 3, 'epochs': 2}
        >>> TrialRecord.from_attrs(record.to_attrs()) == record
        True
    """

    version: int | None = None  # written once, when the trial starts
    network: str | None = None  # the network in one line (TrialConfig.describe)
    max_epochs: int | None = None  # the epochs it trains at most (its train config's)
    config_artifact: str | None = None  # config.json
    metrics_artifact: str | None = None  # metrics.json
    seed: int | None = None
    worker: str | None = None  # host:pid, for studies run by several workers
    worker_started: float | None = None  # the worker process's start time, so a reused pid is not it
    devices: str | None = None  # CUDA_VISIBLE_DEVICES as the worker saw it (its GPUs)
    threads: int | None = None  # TF_NUM_INTRAOP_THREADS as the worker saw it (its share of the cores)
    model_artifact: str | None = None
    model_params: int | None = None
    metrics: dict[str, float] | None = None  # the objective metrics (metrics.json has them all)
    epochs: int | None = None
    train_seconds: float | None = None
    worker_rss_mb: float | None = None  # the worker's resident memory after the trial
    fail_reason: str | None = None
    interrupted: bool | None = None
    surplus: bool | None = None  # started when every slot of n_trials was taken: not counted
    resumed_from: int | None = None  # epochs restored from the checkpoint of the trial it retries
    # The warm-start entry the trial was enqueued for: a preset, a config file, `study:NAME#N`.
    warm_start: str | None = None
    # Held inline by records of version 1 and 2 only (now config.json and metrics.json): read, never written.
    architecture: dict[str, Any] | None = None
    hypermodel: dict[str, Any] | None = None
    train: dict[str, Any] | None = None
    curve: dict[str, list[float]] | None = None
    seconds: dict[str, float] | None = None

    def to_attrs(self) -> dict[str, Any]:
        """The user attributes to write, JSON-safe, under the names the dashboard shows."""
        attrs = {_key(name): value for name, value in asdict(self).items() if value is not None}
        return attrs

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> TrialRecord:
        """Read a record from user attributes; keys of other tools are ignored."""
        version = attrs.get(_VERSION_KEY)
        if isinstance(version, int) and version > RECORD_VERSION:
            raise ConfigError(
                f"trial record version {version} is newer than this ressearch reads "
                f"({RECORD_VERSION}); upgrade ressearch"
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
        trial: optuna.Trial,
        store: FileSystemArtifactStore | None,
        config: TrialConfig,
        *,
        seed: int,
        worker: str,
        worker_started: float | None = None,
        devices: str | None = None,
        threads: int | None = None,
    ) -> TrialRecord:
        """Record a trial before it trains, so a running trial shows its network (or the
        hypermodel that will build it) and ``config`` is its ``config.json`` in ``store``. With no
        store, only the network is recorded: a hypermodel's trial stores its config.json once its
        hyperparameter values are known (:meth:`with_config`). The record written is returned."""
        record = cls(
            version=RECORD_VERSION,
            network=config.describe(),
            max_epochs=(config.train or {}).get("epochs"),
            seed=seed,
            worker=worker,
            worker_started=worker_started,
            devices=devices,
            threads=threads,
        )
        if store is not None:
            record = replace(record, config_artifact=cls.with_config(trial, store, config).config_artifact)
        record.write(trial)
        return record

    @staticmethod
    def with_config(trial: optuna.Trial, store: FileSystemArtifactStore, config: TrialConfig) -> TrialRecord:
        """Store ``config`` as the running trial's ``config.json`` (once per trial: Optuna lists
        every upload) and point its record at it, with the network in one line."""
        artifact_id = upload_json(
            store, config.to_json(study=trial.study.study_name, trial=trial.number), CONFIG_FILE, trial
        )
        record = TrialRecord(network=config.describe(), config_artifact=artifact_id)
        record.write(trial)
        return record

    @staticmethod
    def measured(trial: optuna.Trial, store: FileSystemArtifactStore, measurements: TrialMeasurements) -> str:
        """Store ``measurements`` as the running trial's ``metrics.json``; its artifact id (the
        caller writes it with the rest of the trial's end)."""
        return upload_json(store, measurements.to_json(), METRICS_FILE, trial)

    def config(self, artifacts: str | Path | None) -> TrialConfig | None:
        """The trial's config: its ``config.json`` in the artifact folder ``artifacts`` (a record
        of version 1 or 2 holds it inline); None if it recorded none (it failed before sampling,
        or it is no ressearch trial).

        Raises:
            StorageError: the config.json is not in ``artifacts``.
        """
        if self.config_artifact is None:
            if self.architecture is None and self.hypermodel is None and self.train is None:
                return None
            return TrialConfig(architecture=self.architecture, hypermodel=self.hypermodel, train=self.train)
        if artifacts is None:
            raise StorageError(
                f"artifacts: no folder to read {CONFIG_FILE} ({self.config_artifact}) from; "
                "pass --artifacts DIR where the study's models are"
            )
        data = read_json_artifact(Path(artifacts), self.config_artifact, what=CONFIG_FILE)
        return TrialConfig.from_json(data)

    def measurements(self, artifacts: str | Path | None) -> TrialMeasurements:
        """What the trial measured: its ``metrics.json`` in the artifact folder ``artifacts`` (a
        record of version 1 or 2 holds it inline); empty where it stored none.

        Raises:
            StorageError: the metrics.json is not in ``artifacts``.
        """
        if self.metrics_artifact is None:
            return TrialMeasurements(
                metrics=self.metrics or {},
                curve=self.curve or {},
                seconds=self.seconds or {},
                epochs=self.epochs,
                train_seconds=self.train_seconds,
                model_params=self.model_params,
            )
        if artifacts is None:
            raise StorageError(
                f"artifacts: no folder to read {METRICS_FILE} ({self.metrics_artifact}) from; "
                "pass --artifacts DIR where the study's models are"
            )
        data = read_json_artifact(Path(artifacts), self.metrics_artifact, what=METRICS_FILE)
        return TrialMeasurements.from_json(data)

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

    @property
    def planned_epochs(self) -> int | None:
        """The epochs the trial trains at most, once it has sampled its config."""
        if self.max_epochs is not None:
            return self.max_epochs
        return (self.train or {}).get("epochs") if self.train is not None else None

    def describe_network(self) -> str | None:
        """The recorded network in one line (:meth:`ArchitectureConfig.describe`, or a hypermodel's
        :meth:`HypermodelConfig.describe`); None if the trial recorded none (it failed before
        sampling) or one this version cannot read."""
        if self.network is not None:
            return self.network
        return TrialConfig(architecture=self.architecture, hypermodel=self.hypermodel).describe()


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


# What study.json holds; the attribute holds the rest.
_STUDY_FILE_FIELDS = ("definition", "data", "preprocessing", "class_names")


@dataclass(frozen=True)
class StudyMeta:
    """What resuming and exporting a study need: its ``ressearch`` user attribute (short: the
    artifact folder, a summary line, the id of ``study.json``) and ``study.json``, a study artifact.

    ``definition`` is the validated study file (data paths absolute), ``artifacts`` the folder of
    trained models, ``data`` the data summary, ``preprocessing`` the recipe for new rows;
    ``study_file`` is the id of the study.json that holds them (None before it is written, and
    in metadata of schema 1, which held them inline).
    """

    definition: dict[str, Any]
    artifacts: str
    data: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    version: str = __version__  # the ressearch that wrote it
    schema: int = STUDY_META_VERSION
    study_file: str | None = None

    def summary(self) -> str:
        """The study in a few words, for the attribute (the dashboard and ``optuna studies`` show
        it): sampler, trials asked for, the data file's name.

        Example:
            >>> definition = {"study": {"sampler": "tpe", "n_trials": 8}, "data": {"source": "csv:/d/x.csv"}}
            >>> StudyMeta(definition, "/a").summary()
            'tpe, 8 trials on x.csv'
        """
        settings = self.definition.get("study") or {}
        source = str((self.definition.get("data") or {}).get("source"))
        return f"{settings.get('sampler')}, {settings.get('n_trials')} trials on {source.rpartition('/')[2]}"

    def to_attrs(self) -> dict[str, Any]:
        """The ``ressearch`` attribute pointing at this metadata's study.json."""
        return {
            STUDY_ATTR: {
                "version": self.version,
                "schema": STUDY_META_VERSION,
                "summary": self.summary(),
                "artifacts": self.artifacts,
                "file": self.study_file,
            }
        }

    def to_json(self) -> dict[str, Any]:
        """What study.json holds."""
        return {"schema": STUDY_META_VERSION, **{key: getattr(self, key) for key in _STUDY_FILE_FIELDS}}

    @staticmethod
    def marks(user_attrs: dict[str, Any]) -> bool:
        """Whether a study's user attributes are ressearch's (read nothing else)."""
        meta = user_attrs.get(STUDY_ATTR)
        return isinstance(meta, dict) and ("definition" in meta or isinstance(meta.get("file"), str))

    @staticmethod
    def folder_of(study: optuna.Study) -> Path | None:
        """The artifact folder the study's metadata names, read without loading study.json; None
        for a study ressearch did not create."""
        meta = study.user_attrs.get(STUDY_ATTR)
        if not isinstance(meta, dict) or not isinstance(meta.get("artifacts"), str):
            return None
        return Path(meta["artifacts"])

    @classmethod
    def from_study(cls, study: optuna.Study, *, artifacts: str | Path | None = None) -> StudyMeta | None:
        """The metadata of ``study``; None for a study ressearch did not create. ``artifacts``
        is where study.json is read from, if not from the folder the metadata names."""
        return cls.from_attrs(study.user_attrs, study.study_name, artifacts=artifacts)

    @classmethod
    def from_attrs(
        cls, user_attrs: dict[str, Any], study_name: str, *, artifacts: str | Path | None = None
    ) -> StudyMeta | None:
        """The metadata in a study's user attributes (and its study.json); None for a study
        ressearch did not create.

        Raises:
            ConfigError: a newer ressearch wrote it.
            StorageError: its study.json is not in the artifact folder.
        """
        if not cls.marks(user_attrs):
            return None
        meta = user_attrs[STUDY_ATTR]
        schema = meta.get("schema", 1)
        if isinstance(schema, int) and schema > STUDY_META_VERSION:
            raise ConfigError(
                f"study {study_name!r} was written by a newer ressearch (metadata schema {schema}); "
                "upgrade ressearch"
            )
        known = {item.name for item in fields(cls)}
        if "definition" in meta:  # schema 1: all of it inline
            return cls(**{key: value for key, value in meta.items() if key in known})
        folder = Path(artifacts) if artifacts else Path(meta["artifacts"])
        stored = read_json_artifact(folder, meta["file"], what=f"{STUDY_FILE} of study {study_name!r}")
        if not isinstance(stored, dict) or not isinstance(stored.get("definition"), dict):
            raise StorageError(f"artifacts: {STUDY_FILE} of study {study_name!r} in {folder} holds no study")
        return cls(
            **{key: stored[key] for key in _STUDY_FILE_FIELDS if key in stored},
            artifacts=str(meta["artifacts"]),
            version=str(meta.get("version", __version__)),
            schema=schema,
            study_file=meta["file"],
        )

    def write(self, study: optuna.Study, *, previous: StudyMeta | None = None) -> StudyMeta:
        """Store this metadata: its study.json (an artifact of ``study``) first, then the attribute
        that points at it. Where the ``previous`` metadata (read as the study was resumed)
        holds the same, nothing is written; a study.json it replaces is removed. The metadata
        written is returned.
        """
        if (
            previous is not None
            and previous.study_file is not None
            and previous.artifacts == self.artifacts
            and previous.to_json() == self.to_json()
        ):
            return previous
        store = open_artifact_store(self.artifacts)
        artifact_id = upload_json(store, self.to_json(), STUDY_FILE, study)
        written = StudyMeta(
            **{key: getattr(self, key) for key in _STUDY_FILE_FIELDS},
            artifacts=self.artifacts,
            study_file=artifact_id,
        )
        for key, value in written.to_attrs().items():
            study.set_user_attr(key, value)
        if previous is not None and previous.study_file is not None:
            # The old file may sit in a folder that moved or is gone: only the new one matters.
            with contextlib.suppress(StorageError, OSError):
                old_store = open_artifact_store(previous.artifacts, create=False)
                remove_study_artifact(old_store, study, previous.study_file)
        return written

    def study_definition(self) -> StudyDefinition:
        """The study file as it was validated when the study was created or last resumed."""
        return StudyDefinition.from_dict(self.definition)
