"""``ressearch ablate``: the found network against its plain twin and the other block types.

The statistics are checked on hand-computed numbers, the variants on configs, storing and
loading on both backends with a result made by hand; one tiny real study (SQLite, a module
fixture) is then ablated through the CLI, and each test checks one thing of that run.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState, create_trial
from rich.cells import cell_len

from ressearch.config import ArchitectureConfig, BlockFamily, StudyDefinition, TrainConfig
from ressearch.config.blocks import register_block, unregister_block
from ressearch.results.ablation import (
    ABLATION_ATTR,
    AblationResult,
    AblationRun,
    Paired,
    Spread,
    VariantResult,
    ablation_variants,
    download_ablation_plot,
    load_ablation,
    paired_comparison,
    plain_twin,
    spread,
    store_ablation,
)
from ressearch.search import StudyMeta, TrialRecord
from ressearch.storage import load_study, open_storage
from tests.helpers import cli, tiny_study, user_error
from tests.search.helpers import RESSEARCH

SHORTCUT_FIELDS = {"block_type", "ror_levels", "stochastic_depth"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- Statistics on hand-computed numbers ---------------------------------------------------------


def test_spread_is_the_mean_and_the_sample_standard_deviation():
    # mean 0.92; deviations -0.02, 0, 0.02: sum of squares 0.0008 / (3 - 1) = 0.0004, sqrt 0.02
    assert spread([0.90, 0.92, 0.94]) == Spread(3, pytest.approx(0.92), pytest.approx(0.02))
    assert spread([0.5, None, 0.7]) == Spread(2, pytest.approx(0.6), pytest.approx(math.sqrt(0.02)))
    assert spread([0.8]) == Spread(1, 0.8, None)  # one seed: no spread
    assert spread([None, None]) == Spread(0, None, None)


def test_the_paired_comparison_is_a_t_test_on_the_differences_seed_by_seed():
    found = [0.90, 0.92, 0.94]
    plain = [0.85, 0.88, 0.90]
    # Differences -0.05, -0.04, -0.04: mean -0.043333, deviations -0.006667, 0.003333, 0.003333,
    # std sqrt((4.4444 + 1.1111 + 1.1111)e-5 / 2) = 0.0057735; t = mean / (std / sqrt(3)) = -13.
    # With 2 degrees of freedom the two-sided p is 1 - |t| / sqrt(t^2 + 2) = 1 - 13 / sqrt(171).
    paired = paired_comparison(plain, found, direction="maximize")
    assert paired.n == 3
    assert paired.mean == pytest.approx(-0.0433333, abs=1e-6)
    assert paired.std == pytest.approx(0.0057735, abs=1e-6)
    assert paired.p_value == pytest.approx(1 - 13 / math.sqrt(171), rel=1e-6)
    assert paired.verdict == "worse"
    # The same numbers as a loss: lower is better, so the plain net is the better one.
    as_loss = paired_comparison(plain, found, direction="minimize")
    assert (as_loss.mean, as_loss.p_value, as_loss.verdict) == (paired.mean, paired.p_value, "better")


def test_pairs_need_both_seeds_and_a_t_test_needs_two_unequal_differences():
    # A failed run (None) drops its seed from the pairs: differences 0.1 and 0.3.
    paired = paired_comparison([0.6, None, 0.9], [0.5, 0.5, 0.6], direction="maximize")
    assert (paired.n, paired.verdict) == (2, "better")
    assert paired.mean == pytest.approx(0.2) and paired.std == pytest.approx(math.sqrt(0.02))
    # t = 0.2 / (sqrt(0.02) / sqrt(2)) = 2; one degree of freedom: p = 1 - 2 * atan(2) / pi.
    assert paired.p_value == pytest.approx(1 - 2 * math.atan(2) / math.pi, rel=1e-6)
    assert paired_comparison([0.7], [0.6], direction="maximize") == Paired(
        1, pytest.approx(0.1), None, None, "better"
    )
    # The same difference on every seed: no spread, so no p-value; and no difference at all.
    assert paired_comparison([0.7, 0.8], [0.6, 0.7], direction="maximize").p_value is None
    assert paired_comparison([0.5, 0.6], [0.5, 0.6], direction="maximize").verdict == "same"
    assert paired_comparison([None], [0.6], direction="maximize") == Paired(0, None, None, None, None)
    with pytest.raises(ValueError, match="direction must be"):
        paired_comparison([0.5], [0.5], direction="up")


# --- Variants ------------------------------------------------------------------------------------


def _differing(first: ArchitectureConfig, second: ArchitectureConfig) -> set[str]:
    one, two = first.to_dict(), second.to_dict()
    return {key for key in one if one[key] != two[key]}


def test_the_plain_twin_loses_every_shortcut_and_keeps_everything_else():
    import keras

    from ressearch.arch import build_model

    found = ArchitectureConfig(
        input_shape=(8, 8, 1), outputs=10, depths=(2, 1), widths=(8, 16), ror_levels=2,
        stochastic_depth=0.2, dropout=0.1, skip_length=1, activation="gelu",
    )  # fmt: skip
    twin = plain_twin(found)
    assert _differing(found, twin) == SHORTCUT_FIELDS
    assert (twin.block_type, twin.ror_levels, twin.stochastic_depth) == ("plain", 0, 0.0)
    adds = [layer for layer in build_model(twin).layers if isinstance(layer, keras.layers.Add)]
    assert adds == [] and any(isinstance(layer, keras.layers.Add) for layer in build_model(found).layers)
    # A pre-activation net keeps its activation order in its twin (plain lets the config choose).
    preact = found.replace(block_type="preact")
    assert plain_twin(preact).uses_preactivation is True
    assert _differing(preact, plain_twin(preact)) == SHORTCUT_FIELDS | {"preactivation"}


def test_every_registered_block_family_is_a_variant_at_the_same_depths_and_widths():
    found = ArchitectureConfig(input_shape=(30,), outputs=2, depths=(2,), widths=(16,), block_type="preact")
    variants = ablation_variants(found)
    assert [variant.name for variant in variants] == ["found", "plain", "basic", "bottleneck"]
    assert variants[0].config == found
    for variant in variants[2:]:
        assert variant.config is not None and variant.skipped is None
        expected = {"block_type", "preactivation"} - ({"preactivation"} if variant.name == "basic" else set())
        if variant.name == "bottleneck":  # inner layers as wide as the block: the same width
            expected |= {"expansion"}
            assert variant.config.expansion == 1.0
        assert _differing(found, variant.config) == expected
        assert variant.config.uses_preactivation == (variant.name != "basic")  # basic is post-activation


def test_a_variant_the_rules_reject_is_skipped_with_its_reason():
    register_block(BlockFamily("convonly", "a toy family for conv inputs", ranks=(2, 3)))
    try:
        dense = ArchitectureConfig(input_shape=(30,), outputs=2, depths=(1,), widths=(8,))
        skipped = {variant.name: variant.skipped for variant in ablation_variants(dense) if variant.skipped}
        assert skipped == {
            "convonly": "architecture: block_type 'convonly' builds for input ranks [2, 3], "
            "and input_shape [30] has rank 1"
        }
    finally:
        unregister_block("convonly")
    # A found net that is already plain, with no RoR, has no shortcut to remove.
    plain = ArchitectureConfig(input_shape=(30,), outputs=2, depths=(1,), widths=(8,), block_type="plain")
    twin = ablation_variants(plain)[1]
    assert (twin.name, twin.config, twin.skipped) == (
        "plain",
        None,
        "the found network is already plain: it has no shortcut to remove",
    )


# --- Storing and loading, both backends ----------------------------------------------------------


def _made_result(study: str, *, values: tuple[float, float] = (0.9, 0.8)) -> AblationResult:
    """A result made by hand: what the real ablation stores, without training anything."""
    found = ArchitectureConfig(input_shape=(8, 8, 1), outputs=10, depths=(1,), widths=(8,))
    variants = ablation_variants(found)[:2]
    runs = {
        "found": [AblationRun("found", seed, values[0], 1.0, [0.5, values[0]], 100) for seed in (0, 1)],
        "plain": [
            AblationRun("plain", seed, values[1] + seed / 100, 1.0, [0.4, values[1]], 90) for seed in (0, 1)
        ],
    }
    found_values = [run.value for run in runs["found"]]
    return AblationResult(
        study=study,
        trial=0,
        metric="val_accuracy",
        direction="maximize",
        seeds=[0, 1],
        epochs=2,
        variants=[
            VariantResult.from_runs(variant, runs[variant.name], found=found_values, direction="maximize")
            for variant in variants
        ],
        created="2026-01-01T00:00:00+00:00",
        seconds=4.0,
    )


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def test_a_stored_ablation_loads_back_and_a_new_one_replaces_it(storage_url, unique_name, tmp_path):
    from optuna_dashboard.artifact._backend import list_study_artifacts  # what its study page lists

    folder = tmp_path / "models"
    study = optuna.create_study(study_name=unique_name, storage=open_storage(storage_url, heartbeat=False))
    assert load_ablation(study, artifacts=folder) is None
    assert not folder.exists()  # reading creates nothing

    first = _made_result(unique_name)
    store_ablation(study, first, artifacts=folder)
    reopened = load_study(unique_name, storage_url)
    assert load_ablation(reopened, artifacts=folder) == first
    pointer = reopened.user_attrs[ABLATION_ATTR]
    assert len(json.dumps(pointer)) < 400
    # Differences -0.1 and -0.09: t = -0.095 / (0.00707 / sqrt(2)) = -19, p = 1 - 2 atan(19) / pi.
    assert pointer["summary"] == "val_accuracy found 0.9 ± 0; plain 0.805 (Δ -0.095, p 0.03348, worse)"
    stored_files = _files(folder)
    assert len(stored_files) == 2

    second = replace(_made_result(unique_name, values=(0.7, 0.75)), created="2026-01-02T00:00:00+00:00")
    store_ablation(reopened, second, artifacts=folder)
    again = load_study(unique_name, storage_url)
    assert load_ablation(again, artifacts=folder) == second
    assert not stored_files & _files(folder) and len(_files(folder)) == 2  # the old files are gone
    listed = list_study_artifacts(again._storage.get_study_system_attrs(again._study_id))
    assert sorted(meta["filename"] for meta in listed) == ["ablation-curves.png", "ablation.json"]

    plot = download_ablation_plot(again, tmp_path / "curves.png", artifacts=folder)
    assert plot is not None and plot.read_bytes().startswith(PNG_SIGNATURE)


# --- Bad input: one line, exit 2, nothing stored -------------------------------------------------


def _fake_study(storage: str, name: str, folder: Path, *, definition: dict, **trial: object) -> optuna.Study:
    """A study as ressearch stores one, with one trial made by hand (no training)."""
    parsed = StudyDefinition.from_dict(definition)
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(storage, heartbeat=False),
        directions=list(parsed.settings.objective_directions),
    )
    StudyMeta(definition=parsed.to_dict(), artifacts=str(folder / "artifacts")).write(study)
    architecture = ArchitectureConfig(input_shape=(8, 8, 1), outputs=10, depths=(1,), widths=(4,))
    record = TrialRecord(architecture=architecture.to_dict(), train=TrainConfig(epochs=1).to_dict(), seed=0)
    study.add_trial(create_trial(user_attrs=record.to_attrs(), **trial))  # type: ignore[arg-type]
    return study


def _nothing_stored(storage: str, name: str, folder: Path) -> bool:
    # The fake studies share one artifact folder, which holds their study.json files and nothing else.
    backend = open_storage(storage, heartbeat=False)
    study_files = set()
    for summary in optuna.get_all_study_summaries(backend):
        meta = StudyMeta.from_study(load_study(summary.study_name, backend))
        study_files |= {meta.study_file} if meta is not None else set()
    stored = (
        {path.name for path in (folder / "artifacts").iterdir()} if (folder / "artifacts").exists() else set()
    )
    return ABLATION_ATTR not in load_study(name, backend).user_attrs and stored <= study_files


def test_bad_input_is_one_line_and_stores_nothing(tmp_path, unique_name):
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    tiny = tiny_study(unique_name)
    _fake_study(storage, unique_name, tmp_path, definition=tiny, value=0.5)
    missing = tmp_path / "gone.csv"
    gone = f"{unique_name}-gone"
    csv_study = tiny_study(gone, data={"source": f"csv:{missing}", "target": "y"})
    _fake_study(storage, gone, tmp_path, definition=csv_study, value=0.5)
    failed = f"{unique_name}-failed"
    _fake_study(storage, failed, tmp_path, definition=tiny_study(failed), state=TrialState.FAIL)
    multi = f"{unique_name}-multi"
    two = tiny_study(multi)
    del two["study"]["metric"], two["study"]["direction"]
    two["study"]["metrics"] = ["val_accuracy", "model_params"]
    _fake_study(storage, multi, tmp_path, definition=two, values=[0.5, 100])
    foreign = optuna.create_study(study_name="foreign", storage=open_storage(storage, heartbeat=False))
    foreign.add_trial(create_trial(value=1.0))
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")

    def ablate(*args: object) -> str:
        return user_error("ablate", *args, "--storage", storage, "--seeds", 1, "--epochs", 1)

    assert ablate("nope").startswith("error: study 'nope' is not in ")
    assert ablate("foreign") == (
        "error: study 'foreign' was not created by ressearch: it has no stored networks to ablate"
    )
    assert ablate(failed) == f"error: study '{failed}' has no complete trial yet: run it first"
    assert ablate(multi) == (
        f"error: study '{multi}' has several objectives: pass --trial N, one of its Pareto trials 0"
    )
    assert ablate(unique_name, "--trial", 7) == (
        f"error: --trial: study '{unique_name}' has no trial 7; it has trials 0-0"
    )
    assert ablate(gone) == f"error: data.source: csv file {missing} does not exist"
    assert (
        ablate(unique_name, "--out", a_file)
        == f"error: --out: {a_file} is a file, not a folder; choose a folder"
    )
    seeds = user_error("ablate", unique_name, "--storage", storage, "--seeds", 0)
    assert seeds.startswith("error: Invalid value for '--seeds': ") and "got '0'" in seeds
    for name in (unique_name, gone, failed, multi, "foreign"):
        assert _nothing_stored(storage, name, tmp_path), name


# --- One real study, ablated through the CLI -----------------------------------------------------


@dataclass(frozen=True)
class Ablated:
    name: str
    storage: str
    artifacts: Path
    out: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def ablated(tmp_path_factory: pytest.TempPathFactory) -> Ablated:
    """A two-trial study of basic blocks with RoR and stochastic depth (shortcuts to remove),
    one epoch each, ablated with two seeds of one epoch."""
    folder = tmp_path_factory.mktemp("ablate")
    name = f"t-{uuid.uuid4().hex[:8]}"
    storage = f"sqlite:///{folder / 'studies.db'}"
    study = tiny_study(
        name,
        study={"pruner": "none"},
        space={"block_type": "basic", "ror_levels": 2, "stochastic_depth": 0.1},
        train={"epochs": 1},
    )
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    artifacts = folder / "artifacts"
    ran = cli("run", path, "--storage", storage, "--artifacts", artifacts)
    assert ran.exit_code == 0, ran.output
    out = folder / "out"
    # As a person's 80-column terminal shows it, in a process of its own.
    result = subprocess.run(
        [
            *RESSEARCH,
            "ablate",
            name,
            "--storage",
            storage,
            "--seeds",
            "2",
            "--epochs",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return Ablated(name, storage, artifacts, out, result.stdout, result.stderr)


def _row(stdout: str, variant: str) -> str:
    """The first line of the table row of ``variant`` (its cells may wrap onto more lines)."""
    lines = [line for line in stdout.splitlines() if re.match(rf"^│ {variant} +│", line)]
    assert len(lines) == 1, stdout
    return lines[0]


@pytest.mark.slow
def test_the_table_compares_found_plain_and_the_other_block_types(ablated):
    result = load_ablation(load_study(ablated.name, ablated.storage))
    assert result is not None
    assert [item.name for item in result.variants] == ["found", "plain", "preact", "bottleneck"]
    assert ablated.stdout.startswith(f"val_accuracy (maximize) of trial {result.trial} retrained, 2 seeds")
    # 80 columns: the table fits, nothing is cut; the networks are listed under it. (The last
    # line names the --out folder: a path is not wrapped.)
    *lines, written = ablated.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines) and "written to" in written, ablated.stdout
    assert "…" not in ablated.stdout
    header = ablated.stdout.split("┡")[0]
    for word in ("variant", "model_params", "mean ± std", "Δ vs found", "p", "n"):
        assert word in header, header
    below = " ".join(ablated.stdout.split("┘")[1].split())
    for item in result.variants:
        row = _row(ablated.stdout, item.name)
        assert item.spread.n == 2 and row.rstrip().endswith("│ 2 │")
        assert f"{item.spread.mean:.4f} ±" in row
        assert f"{item.model_params:,}" in row
        assert f"{item.name}: {item.description}" in below
        if item.name == "found":
            assert item.paired is None
        else:
            assert item.paired is not None and item.paired.n == 2
            assert f"{item.paired.mean:+.4f} ±" in row
    # One progress line per run on stderr: variant, seed, value, seconds.
    runs = re.findall(r"^(\w+) seed (\d+): ([01]\.\d{4}) in \d+\.\ds$", ablated.stderr, flags=re.MULTILINE)
    assert len(runs) == 8 and {variant for variant, _, _ in runs} == {
        "found",
        "plain",
        "preact",
        "bottleneck",
    }
    trial = load_study(ablated.name, ablated.storage).best_trial
    seed = TrialRecord.from_trial(trial).seed
    assert result.trial == trial.number and result.seeds == [seed, seed + 1] and result.epochs == 1


@pytest.mark.slow
def test_the_stored_result_is_what_was_printed_and_written(ablated):
    study = load_study(ablated.name, ablated.storage)
    stored = load_ablation(study)
    assert stored is not None
    assert AblationResult.from_dict(json.loads((ablated.out / "ablation.json").read_text())) == stored
    table = pd.read_csv(ablated.out / "ablation.csv")
    assert list(table["variant"]) == [item.name for item in stored.variants]
    for row, item in zip(table.to_dict(orient="records"), stored.variants, strict=True):
        assert json.loads(row["values"]) == item.values and row["mean"] == pytest.approx(item.spread.mean)
        assert row["model_params"] == item.model_params and row["block"] == item.description
    for item in stored.variants:
        assert all(len(run.curve) == 1 and run.curve[0] == run.value for run in item.runs)
    pointer = study.user_attrs[ABLATION_ATTR]
    assert pointer["trial"] == stored.trial and len(json.dumps(pointer)) < 400


@pytest.mark.slow
def test_the_plain_variant_has_no_shortcut_and_equals_found_otherwise(ablated):
    import keras

    from ressearch.arch import build_model

    stored = load_ablation(load_study(ablated.name, ablated.storage))
    assert stored is not None
    found = ArchitectureConfig.from_dict(stored.variant("found").architecture)
    plain = ArchitectureConfig.from_dict(stored.variant("plain").architecture)
    assert (found.block_type, found.ror_levels, found.stochastic_depth) == ("basic", 2, 0.1)
    assert _differing(found, plain) == SHORTCUT_FIELDS
    assert not plain.has_shortcuts and (plain.ror_levels, plain.stochastic_depth) == (0, 0.0)
    assert not [layer for layer in build_model(plain).layers if isinstance(layer, keras.layers.Add)]
    assert stored.variant("plain").description == plain.describe()


@pytest.mark.slow
def test_the_learning_curves_are_a_real_png_written_and_stored(ablated, tmp_path):
    from matplotlib.image import imread

    written = ablated.out / "ablation-curves.png"
    image = imread(written)
    assert image.shape[0] > 200 and image.shape[1] > 600  # four panels, side by side
    study = load_study(ablated.name, ablated.storage)
    stored = download_ablation_plot(study, tmp_path / "stored.png")
    assert stored is not None and stored.read_bytes() == written.read_bytes()
    assert sorted(path.name for path in ablated.out.iterdir()) == [
        "ablation-curves.png",
        "ablation.csv",
        "ablation.json",
    ]


@pytest.mark.slow
def test_the_report_shows_the_stored_ablation(ablated, tmp_path):
    import html

    from ressearch.results import write_report

    report = write_report(ablated.name, tmp_path / "report", storage=ablated.storage)
    page = (report.out / "index.html").read_text()
    stored = load_ablation(load_study(ablated.name, ablated.storage))
    assert stored is not None
    section = page[page.index('id="ablation"') :]
    for item in stored.variants:
        assert f'<td>{item.name}</td><td class="wrap">{html.escape(item.description or "-")}</td>' in section
        assert f"{item.spread.mean:.4f} ± {item.spread.std:.4f}" in section
    # The stored learning curves, byte for byte, beside the page and in it.
    stored_png = download_ablation_plot(load_study(ablated.name, ablated.storage), tmp_path / "stored.png")
    assert stored_png is not None
    assert (report.out / "ablation_curves.png").read_bytes() == stored_png.read_bytes()


@pytest.mark.slow
def test_ctrl_c_stops_an_ablation_and_stores_nothing(ablated):
    study = load_study(ablated.name, ablated.storage)
    before = (study.user_attrs[ABLATION_ATTR], _files(ablated.artifacts))
    process = subprocess.Popen(
        [*RESSEARCH, "ablate", ablated.name, "--storage", ablated.storage, "--seeds", "2", "--epochs", "1"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # the table goes to stdout after the runs: nothing to read there while stderr is read
    assert process.stderr is not None
    lines: list[str] = []
    for line in process.stderr:
        lines.append(line.rstrip("\n"))
        if " seed " in line and not any(" seed " in seen for seen in lines[:-1]):
            process.send_signal(signal.SIGINT)  # Ctrl-C once the first run has finished
    assert process.wait(timeout=120) == 1, lines
    assert lines[-1] == "ablate: interrupted; nothing stored"
    assert len([line for line in lines if " seed " in line]) < 8, lines
    assert process.stdout is not None and process.stdout.read() == ""  # no table
    after = load_study(ablated.name, ablated.storage)
    assert (after.user_attrs[ABLATION_ATTR], _files(ablated.artifacts)) == before
