"""Every bad input a person can give is caught at the door: one row per case.

Each case is a real command on real files: it must exit with code 2 (4 for a storage that is
well named but cannot be used now: a server that does not answer), print exactly one line on
stderr naming the file, key, column or flag, show no traceback, and leave nothing half-written
(no database file, no study in the storage, no export folder, no output file).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from tests.data.helpers import write_csv
from tests.helpers import cli, free_port, one_line, tiny_study

# A role that must give a password (make test's PostgreSQL setup creates it, see tests/postgres-setup.sh).
AUTH_ROLE = "ressearch_auth"
WRONG_PASSWORD = "Wr0ng-pa55word"


@dataclass(frozen=True)
class Ran:
    """One real study on a CSV and its export, shared by the command cases."""

    name: str
    storage: str
    study_file: Path
    export: Path
    csv: Path


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    folder = tmp_path_factory.mktemp("ran")
    csv = folder / "rows.csv"
    write_csv(csv, rows=60)
    name = f"t-{uuid.uuid4().hex[:8]}"
    study = tiny_study(
        name,
        study={"n_trials": 1, "pruner": "none"},
        data={"source": "csv:rows.csv", "target": "label", "max_rows": None},
        space={"block_type": "basic", "width": 8},
        train={"epochs": 1},
    )
    del study["data"]["max_rows"]
    study_file = folder / "study.yaml"
    study_file.write_text(yaml.safe_dump(study, sort_keys=False))
    storage = f"sqlite:///{folder / 'ran.db'}"
    result = cli("run", study_file, "--storage", storage, "--artifacts", folder / "artifacts")
    assert result.exit_code == 0, result.output
    export = folder / "export"
    result = cli("export", name, "--out", export, "--storage", storage)
    assert result.exit_code == 0, result.output
    return Ran(name, storage, study_file, export, csv)


@dataclass
class Case:
    """A command to run, what its one line must say, and what must not be left behind."""

    args: list[Any]
    says: list[str]
    absent: list[Path] = field(default_factory=list)  # paths the command must not create
    unchanged: dict[Path, bytes] = field(default_factory=dict)  # files it must not touch
    never: list[str] = field(default_factory=list)  # text that must appear nowhere (secrets)
    after: Callable[[], bool] | None = None  # a check that what was stored is untouched
    code: int = 2  # 4 where the storage is well named but cannot be used now


class Setup:
    """What a case builds on: a folder of its own and the shared study."""

    def __init__(self, folder: Path, ran: Callable[[], Ran]) -> None:
        self.folder = folder
        self._ran = ran
        self.db = folder / "new.db"
        self.held: socket.socket | None = None  # a port a case keeps busy, closed when it ends

    @property
    def ran(self) -> Ran:
        return self._ran()

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def study(self, **sections: Any) -> Path:
        """A tiny valid study with ``sections`` merged in (a value None deletes that key)."""
        data = tiny_study("bad-input")
        for section, values in sections.items():
            if not isinstance(values, dict):
                data[section] = values
                continue
            merged = {**data.get(section, {}), **values}
            data[section] = {key: value for key, value in merged.items() if value is not None}
        return self.write("study.yaml", yaml.safe_dump(data, sort_keys=False))

    def run(self, study_file: Path, *extra: Any, storage: str | None = None) -> list[Any]:
        return ["run", study_file, "--storage", storage or f"sqlite:///{self.db}", *extra]

    def run_case(self, says: list[str], **sections: Any) -> Case:
        """``ressearch run`` of a study built from ``sections``: fails before the database exists."""
        return Case(self.run(self.study(**sections)), says, absent=[self.db])

    def hypermodel_case(self, space: dict[str, Any], says: list[str], module: str | None = None) -> Case:
        """``ressearch run`` of a study whose space names a hypermodel (``module``: its source,
        written beside the study file under a fresh name, ``MODULE`` in ``space``)."""
        name = f"hm_{uuid.uuid4().hex[:8]}"  # Python caches modules by name
        if module is not None:
            self.write(f"{name}.py", module)
        data = tiny_study("bad-input")
        data["space"] = {
            key: value.replace("MODULE", name) if isinstance(value, str) else value
            for key, value in space.items()
        }
        path = self.write("study.yaml", yaml.safe_dump(data, sort_keys=False))
        return Case(self.run(path), says, absent=[self.db])

    def csv_study(self, frame: pd.DataFrame | str, says: list[str], **data: Any) -> Case:
        path = self.folder / "data.csv"
        if isinstance(frame, str):
            path.write_text(frame)
        else:
            frame.to_csv(path, index=False)
        source = {"source": "csv:data.csv", "target": "label", "max_rows": None, **data}
        return self.run_case(says, data=source, space={"block_type": "basic"})

    def npz_study(self, says: list[str], **arrays: np.ndarray) -> Case:
        np.savez(self.folder / "data.npz", **arrays)
        return self.run_case(says, data={"source": "npz:data.npz", "max_rows": None})

    def image_study(
        self, classes: dict[str, int], says: list[str], extra: dict[str, bytes] | None = None
    ) -> Case:
        root = self.folder / "images"
        root.mkdir()
        rng = np.random.default_rng(0)
        for label, count in classes.items():
            (root / label).mkdir()
            for i in range(count):
                pixels = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
                Image.fromarray(pixels, "RGB").save(root / label / f"{i}.png")
        for name, content in (extra or {}).items():
            (root / name).write_bytes(content)
        return self.run_case(says, data={"source": "images:images", "max_rows": None})


def _rows(**columns: Any) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    base = {"x1": rng.normal(size=30), "x2": rng.normal(size=30), "label": rng.choice(["a", "b"], 30)}
    return pd.DataFrame({**base, **columns})


# --- study files --------------------------------------------------------------------------------


def yaml_syntax(s: Setup) -> Case:
    path = s.write("study.yaml", "study:\n  name: x\n  n_trials: [1, 2\ndata: {}\n")
    return Case(s.run(path), ["study.yaml", "line 4"], absent=[s.db])


def yaml_list(s: Setup) -> Case:
    path = s.write("study.yaml", "- study\n- data\n")
    return Case(s.run(path), ["study.yaml", "mapping"], absent=[s.db])


def missing_file(s: Setup) -> Case:
    return Case(s.run(s.folder / "nowhere.yaml"), ["nowhere.yaml", "no such study file"], absent=[s.db])


def unknown_top_key(s: Setup) -> Case:
    return s.run_case(["study.yaml", "trainer", "train"], trainer={"epochs": 1})


CASES_STUDY = {
    "yaml-syntax-error": yaml_syntax,
    "yaml-is-a-list": yaml_list,
    "study-file-missing": missing_file,
    "unknown-top-level-key": unknown_top_key,
    "n_trials-0": lambda s: s.run_case(["study.n_trials", "0"], study={"n_trials": 0}),
    "n_trials-negative": lambda s: s.run_case(["study.n_trials", "-1"], study={"n_trials": -1}),
    "epochs-0": lambda s: s.run_case(["train.epochs"], train={"epochs": 0}),
    "batch_size-0": lambda s: s.run_case(["train.batch_size"], train={"batch_size": 0}),
    "learning-rate-negative": lambda s: s.run_case(["train.learning_rate"], train={"learning_rate": -0.01}),
    "width-low-above-high": lambda s: s.run_case(
        ["space.width", "64", "16"], space={"width": {"low": 64, "high": 16}}
    ),
    "unknown-block-type": lambda s: s.run_case(
        ["block_type", "resnext", "basic"], space={"block_type": "resnext"}
    ),
    "metric-the-task-cannot-measure": lambda s: s.run_case(
        ["study.metric", "val_rmse", "multiclass"], study={"metric": "val_rmse", "direction": None}
    ),
    "warm-start-unknown-preset": lambda s: s.run_case(
        ["study.yaml", "warm_start[0]", "unknown preset 'resnt20'"], warm_start=["resnt20"]
    ),
    "warm-start-the-space-cannot-express": lambda s: s.run_case(
        ["warm_start[0] resnet20: depths (3, 3, 3) cannot be made by this space: space.stages allows only 1"],
        warm_start=["resnet20"],
    ),
    "enqueue-unknown-study": lambda s: Case(
        s.run(s.study(), "--enqueue", "study:pilot:2"),
        ["--enqueue study:pilot:2: study 'pilot' is not in the storage: its sqlite file does not exist yet"],
        absent=[s.db],
    ),
    "enqueue-missing-file": lambda s: Case(
        s.run(s.study(), "--enqueue", "gone/config.json"),
        ["--enqueue", "no such file gone/config.json"],
        absent=[s.db],
    ),
}

# --- KerasTuner hypermodels (space: {hypermodel: module:callable}) --------------------------------

HYPERMODELS = """
import keras_tuner
answer = 42
def build(hp, input_shape, classes):
    raise AssertionError("never built: the study fails before")
def factory():
    return "not a hypermodel"
"""

CASES_HYPERMODEL = {
    "hypermodel-not-module-colon-attribute": lambda s: s.hypermodel_case(
        {"hypermodel": "HyperResNet"}, ["space.hypermodel", "'module:attribute'", "'HyperResNet'"]
    ),
    "hypermodel-no-such-module": lambda s: s.hypermodel_case(
        {"hypermodel": "MODULE:build"}, ["space.hypermodel", "no module 'hm_", "put hm_"]
    ),
    "hypermodel-module-fails-to-import": lambda s: s.hypermodel_case(
        {"hypermodel": "MODULE:build"}, ["space.hypermodel", "importing", "ZeroDivisionError"], "1 / 0\n"
    ),
    "hypermodel-no-such-attribute": lambda s: s.hypermodel_case(
        {"hypermodel": "MODULE:biuld"},
        ["space.hypermodel", "no attribute 'biuld'", "did you mean 'build'"],
        HYPERMODELS,
    ),
    "hypermodel-not-a-hypermodel": lambda s: s.hypermodel_case(
        {"hypermodel": "MODULE:answer"}, ["space.hypermodel", "of type int", "build(hp)"], HYPERMODELS
    ),
    "hypermodel-factory-returns-no-hypermodel": lambda s: s.hypermodel_case(
        {"hypermodel": "MODULE:factory"}, ["space.hypermodel", "returned a value of type str"], HYPERMODELS
    ),
    "hypermodel-unknown-argument": lambda s: s.hypermodel_case(
        {"hypermodel": "MODULE:build", "arguments": {"depth": 3}},
        ["space.arguments.depth", "takes no argument 'depth'", "input_shape, classes"],
        HYPERMODELS,
    ),
    "hypermodel-argument-the-data-decides": lambda s: s.hypermodel_case(
        {"hypermodel": "MODULE:build", "arguments": {"classes": 3}},
        ["space.arguments.classes", "from the data", "remove it"],
        HYPERMODELS,
    ),
    "hypermodel-constructor-refuses-arguments": lambda s: s.hypermodel_case(
        {"hypermodel": "keras_tuner.applications:HyperResNet", "arguments": {"depth": 50}},
        ["space.arguments", "HyperResNet", "depth"],
    ),
    "hypermodel-other-space-key": lambda s: s.hypermodel_case(
        {"hypermodel": "keras_tuner.applications:HyperResNet", "depth": 3},
        ["space.depth", "hypermodel, arguments, module_dir, fixed", "fixed: {depth: VALUE}"],
    ),
    "hypermodel-fixed-not-a-value": lambda s: s.hypermodel_case(
        {"hypermodel": "keras_tuner.applications:HyperResNet", "fixed": {"conv4_depth": [6, 23]}},
        ["space.fixed", "conv4_depth", "hp.Fixed"],
    ),
    "hypermodel-with-grid-sampler": lambda s: Case(
        s.run(
            s.write(
                "study.yaml",
                yaml.safe_dump(
                    {
                        **tiny_study("bad-input", study={"sampler": "grid"}),
                        "space": {"hypermodel": "keras_tuner.applications:HyperResNet"},
                    }
                ),
            )
        ),
        ["study.sampler", "grid", "hypermodel"],
        absent=[s.db],
    ),
}

# --- data ---------------------------------------------------------------------------------------

CASES_DATA = {
    "csv-empty": lambda s: s.csv_study("", ["data.csv", "empty"]),
    "csv-header-only": lambda s: s.csv_study("x1,x2,label\n", ["data.csv", "no rows"]),
    "csv-missing-target": lambda s: s.csv_study(_rows().drop(columns="label"), ["data.target", "'label'"]),
    "csv-single-class": lambda s: s.csv_study(_rows(label="a"), ["'label'", "single class"]),
    "csv-text-in-regression-target": lambda s: s.csv_study(
        _rows(label=["1.5", "two"] * 15), ["'label'", "'two'", "regression needs numbers"], task="regression"
    ),
    "csv-too-few-rows-to-stratify": lambda s: s.csv_study(
        _rows().head(4).assign(label=["a", "a", "b", "b"]), ["validation_split", "2 classes"]
    ),
    "npz-without-y": lambda s: s.npz_study(["data.npz", "'y'"], x=np.zeros((20, 3))),
    "npz-lengths-differ": lambda s: s.npz_study(
        ["data.npz", "20", "19"], x=np.zeros((20, 3)), y=np.zeros(19)
    ),
    "images-empty-folder": lambda s: s.image_study({}, ["images", "found none"]),
    "images-one-class": lambda s: s.image_study({"cat": 6}, ["images", "at least 2", "'cat'"]),
    "images-file-not-an-image": lambda s: s.image_study(
        {"cat": 6, "dog": 6}, ["broken.png", "not a readable image"], extra={"dog/broken.png": b"not a png"}
    ),
}

# --- storage ------------------------------------------------------------------------------------


def storage_case(url: str, says: list[str], **kwargs: Any) -> Callable[[Setup], Case]:
    def make(s: Setup) -> Case:
        return Case(s.run(s.study(), storage=url.format(folder=s.folder)), says, **kwargs)

    return make


def sqlite_missing_folder(s: Setup) -> Case:
    return Case(
        s.run(s.study(), storage=f"sqlite:///{s.folder}/gone/x.db"),
        ["gone", "does not exist"],
        absent=[s.folder / "gone"],
    )


def sqlite_text_file(s: Setup) -> Case:
    text = s.write("notes.db", "these are my notes, not a database\n")
    return Case(
        s.run(s.study(), storage=f"sqlite:///{text}"),
        ["notes.db", "not an SQLite database"],
        unchanged={text: text.read_bytes()},
    )


def postgres_closed_port(s: Setup) -> Case:
    url = f"postgresql://postgres:S3cretPw@127.0.0.1:{free_port()}/ressearch"
    return Case(
        s.run(s.study(), storage=url), ["storage", "127.0.0.1", "refused"], never=["S3cretPw"], code=4
    )


def postgres_wrong_password(s: Setup) -> Case:
    url = f"postgresql://{AUTH_ROLE}:{WRONG_PASSWORD}@127.0.0.1:5432/postgres"
    # Not the password, nor any piece of it long enough to guess from.
    pieces = [WRONG_PASSWORD[i : i + 5] for i in range(len(WRONG_PASSWORD) - 4)]
    return Case(s.run(s.study(), storage=url), ["storage", "password authentication failed"], never=pieces)


CASES_STORAGE = {
    "storage-garbage-url": storage_case("not a url at all", ["storage", "not a database URL"]),
    "storage-mysql-url": storage_case(
        "mysql://root:S3cretPw@localhost/db", ["mysql", "sqlite and postgresql"], never=["S3cretPw"]
    ),
    "storage-sqlite-missing-folder": sqlite_missing_folder,
    "storage-sqlite-text-file": sqlite_text_file,
    "storage-postgres-closed-port": postgres_closed_port,
    "storage-postgres-wrong-password": pytest.param(postgres_wrong_password, marks=pytest.mark.postgres),
}

# --- commands -----------------------------------------------------------------------------------


def best_unknown(s: Setup) -> Case:
    return Case(["best", "nope", "--storage", s.ran.storage], ["'nope'", s.ran.name])


def export_unknown(s: Setup) -> Case:
    out = s.folder / "out"
    return Case(["export", "nope", "--out", out, "--storage", s.ran.storage], ["'nope'"], absent=[out])


def export_no_complete_trial(s: Setup) -> Case:
    study = s.study(study={"name": "all-fail", "n_trials": 1, "max_params": 1})
    storage = f"sqlite:///{s.db}"
    assert cli("run", study, "--storage", storage).exit_code == 0
    out = s.folder / "out"
    return Case(
        ["export", "all-fail", "--out", out, "--storage", storage],
        ["'all-fail'", "no complete trial"],
        absent=[out],
    )


def export_into_non_empty(s: Setup) -> Case:
    keep = s.write("out/keep.txt", "mine")
    return Case(
        ["export", s.ran.name, "--out", keep.parent, "--storage", s.ran.storage],
        ["--out", "not empty", "--force"],
        unchanged={keep: b"mine"},
    )


def export_onto_file(s: Setup) -> Case:
    file = s.write("out", "a file")
    return Case(
        ["export", s.ran.name, "--out", file, "--storage", s.ran.storage],
        ["--out", "is a file"],
        unchanged={file: b"a file"},
    )


def report_unknown(s: Setup) -> Case:
    out = s.folder / "report"
    return Case(["report", "nope", "--out", out, "--storage", s.ran.storage], ["'nope'"], absent=[out])


def report_missing_database(s: Setup) -> Case:
    out = s.folder / "report"
    return Case(
        ["report", s.ran.name, "--out", out, "--storage", f"sqlite:///{s.db}"],
        [str(s.db), "no database"],
        absent=[s.db, out],
    )


def report_into_non_empty(s: Setup) -> Case:
    keep = s.write("report/keep.txt", "mine")
    return Case(
        ["report", s.ran.name, "--out", keep.parent, "--storage", s.ran.storage],
        ["--out", "not empty", "--force"],
        unchanged={keep: b"mine"},
    )


def resume_other_data(s: Setup) -> Case:
    changed = yaml.safe_load(s.ran.study_file.read_text())
    changed["data"]["validation_split"] = 0.3
    path = s.write("rows.csv", s.ran.csv.read_text()).with_name("changed.yaml")
    path.write_text(yaml.safe_dump(changed, sort_keys=False))
    before = cli("trials", s.ran.name, "--storage", s.ran.storage, "--format", "csv").stdout

    def untouched() -> bool:
        return cli("trials", s.ran.name, "--storage", s.ran.storage, "--format", "csv").stdout == before

    return Case(s.run(path, storage=s.ran.storage), ["data", s.ran.name, "new study.name"], after=untouched)


def dashboard_port_in_use(s: Setup) -> Case:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    s.held = holder
    port = holder.getsockname()[1]
    return Case(["dashboard", "--storage", s.ran.storage, "--port", port], ["--port", str(port), "in use"])


def predict_missing_columns(s: Setup) -> Case:
    rows = pd.read_csv(s.ran.csv).drop(columns=["age", "colour"])
    path = s.folder / "new.csv"
    rows.to_csv(path, index=False)
    out = s.folder / "scored.csv"
    return Case(
        ["predict", s.ran.export, path, "--out", out],
        ["new.csv", "'age'", "'colour'", "missing"],
        absent=[out],
    )


def predict_unreadable(s: Setup) -> Case:
    path = s.write("rows.npz", b"\x00\x01 certainly not an archive")
    out = s.folder / "scored.csv"
    return Case(
        ["predict", s.ran.export, path, "--out", out], ["rows.npz", "not a readable .npz"], absent=[out]
    )


CASES_COMMANDS = {
    "best-unknown-study": best_unknown,
    "export-unknown-study": export_unknown,
    "export-no-complete-trial": export_no_complete_trial,
    "export-into-non-empty-folder": export_into_non_empty,
    "export-onto-a-file": export_onto_file,
    "report-unknown-study": report_unknown,
    "report-missing-database": report_missing_database,
    "report-into-non-empty-folder": report_into_non_empty,
    "report-top-zero": lambda s: Case(
        ["report", s.ran.name, "--out", s.folder / "report", "--top", "0", "--storage", s.ran.storage],
        ["--top", "0"],
        absent=[s.folder / "report"],
    ),
    "trials-format-xml": lambda s: Case(
        ["trials", s.ran.name, "--storage", s.ran.storage, "--format", "xml"], ["--format", "xml", "table"]
    ),
    "run-n-trials-not-a-number": lambda s: Case(
        s.run(s.study(), "--n-trials", "abc"), ["--n-trials", "abc"], absent=[s.db]
    ),
    "run-gpus-not-indices": lambda s: Case(
        s.run(s.study(), "--workers", "2", "--gpus", "0,x"), ["--gpus", "'0,x'"], absent=[s.db]
    ),
    "run-more-workers-than-gpu-slots": lambda s: Case(
        s.run(s.study(), "--workers", "3", "--gpus", "0"),
        ["--workers 3", "--trials-per-gpu 1"],
        absent=[s.db],
    ),
    "resume-with-other-data": resume_other_data,
    "dashboard-port-in-use": dashboard_port_in_use,
    "predict-missing-columns": predict_missing_columns,
    "predict-unreadable-file": predict_unreadable,
}

CASES = {**CASES_STUDY, **CASES_HYPERMODEL, **CASES_DATA, **CASES_STORAGE, **CASES_COMMANDS}


def _params() -> list[Any]:
    params = []
    for name, make in CASES.items():
        if isinstance(make, type(pytest.param(None))):
            params.append(pytest.param(*make.values, marks=make.marks, id=name))
        else:
            params.append(pytest.param(make, id=name))
    return params


@pytest.mark.parametrize("make", _params())
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(make, tmp_path, request):
    setup = Setup(tmp_path, lambda: request.getfixturevalue("ran"))
    case = make(setup)
    try:
        result = cli(*case.args)
    finally:
        if setup.held is not None:
            setup.held.close()
    assert result.exit_code == case.code, f"exit {result.exit_code}:\n{result.output}"
    line = one_line(result.stderr)
    assert line.startswith("error: "), line
    for expected in case.says:
        assert expected.lower() in line.lower(), f"{expected!r} not in: {line}"
    assert result.stdout == "", result.stdout
    for path in case.absent:
        assert not path.exists(), f"{path} was created"
    for path, content in case.unchanged.items():
        assert path.read_bytes() == content, f"{path} was changed"
    for secret in case.never:
        assert secret not in result.output
    assert case.after is None or case.after(), "the command changed the stored study"
