"""Reports: one self-contained page and its PNGs, from real studies; plots a study cannot have are
left out with a note; bad input writes nothing.

One real tiny study (3 trials, 2 epochs) is shared by the module; a multi-objective one (2 trials,
1 epoch) gives the Pareto front. Plots that cannot be drawn are checked on plain Optuna studies,
which need no training.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import optuna
import pytest
from optuna.trial import TrialState, create_trial

from ressearch.config import ArchitectureConfig, StudyDefinition
from ressearch.errors import ConfigError, StorageError, StudyNotFoundError
from ressearch.results.report import PAGE, ReportResult, Section, write_report
from ressearch.search import StudyMeta, TrialRecord, run_study
from ressearch.storage import load_study, open_storage
from tests.helpers import cli, one_line, stored_config, tiny_study

SINGLE_PLOTS = {
    "optimization_history",
    "learning_curves",
    "param_importances",
    "parallel_coordinate",
    "intermediate_values",
}


@dataclass(frozen=True)
class Ran:
    name: str
    storage: str


def _run(folder: Path, **sections: dict[str, object]) -> Ran:
    name = f"t-{uuid.uuid4().hex[:8]}"
    data = tiny_study(name, **sections)
    if "metrics" in data["study"]:
        del data["study"]["metric"], data["study"]["direction"]
    storage = f"sqlite:///{folder / 'studies.db'}"
    summary = run_study(StudyDefinition.from_dict(data), storage=storage, artifacts=folder / "artifacts")
    assert summary.complete >= 2, summary
    return Ran(name, storage)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """Three trials of two epochs, no pruning: every plot of a single objective can be drawn."""
    return _run(tmp_path_factory.mktemp("report"), study={"n_trials": 3, "pruner": "none"})


@dataclass(frozen=True)
class Written:
    result: ReportResult
    out: Path


@pytest.fixture(scope="module")
def written(ran: Ran, tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The report of ``ran`` with its 2 best trials, written once for the tests that read it."""
    out = tmp_path_factory.mktemp("written") / "reports" / "quick"
    return Written(write_report(ran.name, out, storage=ran.storage, top=2), out)


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    return _run(
        tmp_path_factory.mktemp("report-multi"),
        study={"metrics": ["val_accuracy", "model_params"], "n_trials": 2, "pruner": "none"},
        train={"epochs": 1},
    )


class _Page(HTMLParser):
    """The page's links and images, its tables' rows (cell texts, header cells too) and its notes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[str] = []  # every src and href
        self.images: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.notes: list[str] = []
        self.ids: list[str] = []
        self._table = ""
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._note: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.links += [value or "" for key, value in attrs if key in ("src", "href")]
        if tag == "img":
            self.images.append(values["src"] or "")
        if tag == "section":
            self.ids.append(values["id"] or "")
        if tag == "table":
            self._table = values.get("class") or ""
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []
        if tag == "p" and values.get("class") == "note":
            self._note = []

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._note):
            if part is not None:
                part.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        if tag == "tr" and self._row:
            self.rows.setdefault(self._table, []).append(self._row)
        if tag == "tr":
            self._row = None
        if tag == "p" and self._note is not None:
            self.notes.append("".join(self._note))
            self._note = None


def _read_page(out: Path) -> tuple[str, _Page]:
    text = (out / PAGE).read_text(encoding="utf-8")
    return text, _Page(text)


def _assert_real_image(path: Path) -> None:
    """A PNG that matplotlib reads back, with pixels in it, not one flat colour."""
    assert path.stat().st_size > 0, path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100, (path, image.shape)
    colours = np.unique(image[..., :3].reshape(-1, 3), axis=0)
    assert len(colours) > 10, f"{path.name} has {len(colours)} colours"


def _pngs(out: Path) -> set[str]:
    return {path.stem for path in out.glob("*.png")}


@pytest.mark.slow
def test_the_report_writes_the_page_and_every_plot_as_a_real_image(written):
    result, out = written.result, written.out
    assert result.out == out and result.page == out / PAGE and result.left_out == {}
    assert {path.name for path in out.iterdir()} == {PAGE, *(f"{name}.png" for name in SINGLE_PLOTS)}
    assert sorted(result.plots) == sorted(out / f"{name}.png" for name in SINGLE_PLOTS)
    for path in result.plots:
        _assert_real_image(path)
    assert not list(out.parent.glob(f".{out.name}-*")), "a staging folder was left beside it"


@pytest.mark.slow
def test_the_page_embeds_its_plots_and_loads_nothing_from_a_network(ran, written):
    out = written.out
    text, page = _read_page(out)
    embedded = sorted(base64.b64decode(src.removeprefix("data:image/png;base64,")) for src in page.images)
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert embedded == sorted(path.read_bytes() for path in out.glob("*.png"))
    assert [link for link in page.links if re.match(r"\s*(https?:)?//", link)] == []
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert {"study", "data", "architectures", "history", "curves", "importances"} <= set(page.ids)
    facts = dict(page.rows["facts"])
    data = StudyMeta.from_study(load_study(ran.name, ran.storage)).data
    assert facts["storage"] == ran.storage and facts["source"] == "builtin:digits"
    assert facts["rows"] == f"{data['n_train']} train / {data['n_val']} validation (stratified)"
    assert facts["input shape"] == "8 x 8 x 1" and facts["classes"].startswith("10: 0, 1, 2")
    assert facts["sampler"] == "random" and facts["trials"] == "3/3 trials (3 complete, 0 pruned, 0 failed)"


@pytest.mark.slow
def test_the_table_ranks_the_best_trials_with_their_size_and_architecture(ran, written):
    _, page = _read_page(written.out)
    study = load_study(ran.name, ran.storage)
    complete = [trial for trial in study.trials if trial.state is TrialState.COMPLETE]
    best = sorted(complete, key=lambda trial: (-trial.value, trial.number))[:2]
    header, *rows = page.rows["trials"]
    assert header == ["rank", "trial", "val_accuracy", "parameters", "epochs", "duration", "architecture"]
    assert [row[:2] for row in rows] == [[str(rank), str(trial.number)] for rank, trial in enumerate(best, 1)]
    for row, trial in zip(rows, best, strict=True):
        record = TrialRecord.from_trial(trial)
        _, _, value, params, epochs, duration, described = row
        assert value == f"{trial.value:.4g}"
        assert params == (
            f"{record.model_params:,}" if record.model_params >= 1000 else str(record.model_params)
        )
        assert epochs == "2" and duration.endswith(" s")
        config = stored_config(study, trial)
        assert described == record.network == ArchitectureConfig.from_dict(config.architecture).describe()


@pytest.mark.slow
def test_the_command_writes_the_report_and_says_where_in_one_line(ran, tmp_path):
    out = tmp_path / "report"
    result = cli("report", ran.name, "--out", out, "--storage", ran.storage)
    assert result.exit_code == 0, result.output
    assert one_line(result.stdout) == f"wrote the report of {ran.name} to {out / PAGE} (5 plots)"
    assert _pngs(out) == SINGLE_PLOTS
    assert len(_read_page(out)[1].rows["trials"]) == 1 + 3  # --top 5 of 3 complete trials


@pytest.mark.slow
def test_a_multi_objective_study_gets_a_pareto_front_and_a_history_per_objective(multi, tmp_path):
    out = tmp_path / "report"
    result = write_report(multi.name, out, storage=multi.storage)
    expected = {
        "optimization_history_val_accuracy",
        "optimization_history_model_params",
        "pareto_front",
        "learning_curves",
        "param_importances_val_accuracy",
        "param_importances_model_params",
        "parallel_coordinate",
    }
    assert _pngs(out) == expected and result.left_out == {}
    for path in result.plots:
        _assert_real_image(path)
    _, page = _read_page(out)
    assert "pareto" in page.ids and "intermediate" not in page.ids  # no epoch values: nothing pruned
    # Importances of each objective in its own direction: Optuna's caveat about targets is answered.
    assert page.notes == []
    pareto = {trial.number for trial in load_study(multi.name, multi.storage).best_trials}
    header, *rows = page.rows["trials"]
    assert header[:5] == ["rank", "trial", "Pareto", "val_accuracy", "model_params"]
    assert {int(row[1]) for row in rows if row[2] == "yes"} == pareto
    assert [row[2] for row in rows] == sorted((row[2] for row in rows), reverse=True)  # Pareto first


def _plain_study(storage: str, trials: int) -> str:
    """A study ressearch did not create, with one sampled parameter and ``trials`` complete trials."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(study_name=name, storage=open_storage(storage, heartbeat=False))
    study.optimize(lambda trial: trial.suggest_float("x", -1, 1) ** 2, n_trials=trials)
    return name


def test_plots_a_study_cannot_have_are_left_out_with_a_note_saying_why(storage_url, tmp_path):
    storage = storage_url.replace("postgres@", "postgres:S3cret-pw@", 1)  # trust auth takes any
    name = _plain_study(storage, trials=1)
    out = tmp_path / "report"
    result = write_report(name, out, storage=storage)
    assert _pngs(out) == {"optimization_history", "parallel_coordinate"}
    for path in result.plots:
        _assert_real_image(path)
    assert result.left_out == {
        "param_importances": "left out: it needs 2 complete trials or more; this study has 1",
        "learning_curves": "left out: the best trials stored no validation learning curve",
        "intermediate_values": "left out: no trial reported a value during training",
    }
    text, page = _read_page(out)
    assert (
        "Parameter importances: left out: it needs 2 complete trials or more; this study has 1" in page.notes
    )
    assert "No data summary is stored with this study." in page.notes
    assert "S3cret-pw" not in text
    if storage_url.startswith("postgresql"):
        assert "postgres:***@" in text


def test_an_extra_section_is_one_function(tmp_path):
    storage = f"sqlite:///{tmp_path / 'plain.db'}"
    name = _plain_study(storage, trials=2)

    def ablation(context):
        trials = len(context.complete)
        return Section("ablation", "Ablation <draft>", body=f"<p>{trials} trials</p>")

    write_report(name, tmp_path / "report", storage=storage, sections=[ablation])
    text, page = _read_page(tmp_path / "report")
    assert page.ids == ["ablation"] and "<p>2 trials</p>" in text
    assert "Ablation &lt;draft&gt;" in text and "<draft>" not in text


def test_bad_input_raises_one_line_and_writes_nothing(tmp_path):
    storage = f"sqlite:///{tmp_path / 'plain.db'}"
    name = _plain_study(storage, trials=2)
    failed = optuna.create_study(study_name="all-failed", storage=open_storage(storage, heartbeat=False))
    failed.add_trial(create_trial(state=TrialState.FAIL))
    out = tmp_path / "out"
    missing = tmp_path / "missing.db"
    cases = [
        ("nope", {"storage": storage}, StudyNotFoundError, "study 'nope' is not in "),
        ("all-failed", {"storage": storage}, ConfigError, "'all-failed' has no complete trial yet"),
        (name, {"storage": f"sqlite:///{missing}"}, StorageError, f"no database at {missing}"),
        (name, {"storage": storage, "top": 0}, ConfigError, "--top: must be 1 or more, got 0"),
    ]
    for study, kwargs, error, says in cases:
        with pytest.raises(error) as raised:
            write_report(study, out, **kwargs)
        assert says in one_line(raised.value)
        assert not out.exists() and not missing.exists()
    assert [path.name for path in tmp_path.iterdir() if not path.name.startswith("plain.db")] == []

    keep = out / "keep.txt"
    keep.parent.mkdir()
    keep.write_text("mine")
    with pytest.raises(ConfigError) as raised:
        write_report(name, out, storage=storage)
    assert "exists and is not empty; choose a new folder or pass --force" in one_line(raised.value)
    assert [path.name for path in out.iterdir()] == ["keep.txt"]
    write_report(name, out, storage=storage, force=True)
    assert not keep.exists() and (out / PAGE).is_file()
