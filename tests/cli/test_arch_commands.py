"""``ressearch presets`` and ``ressearch build``: architectures without a study."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.helpers import cli, user_error


def test_build_resnet56_json_and_round_trip(tmp_path):
    result = cli("build", "resnet56", "--input-shape", "32,32,3", "--outputs", "10", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert abs(data["model_params"] - 0.85e6) / 0.85e6 < 0.03
    assert data["config"]["depths"] == [9, 9, 9]
    saved = tmp_path / "resnet56.json"
    saved.write_text(result.stdout)  # the whole --json object is a valid SPEC
    again = json.loads(cli("build", saved, "--format", "json").stdout)
    assert again["model_params"] == data["model_params"]
    config_only = tmp_path / "config.json"
    config_only.write_text(json.dumps(data["config"]))
    assert json.loads(cli("build", config_only, "--json").stdout)["model_params"] == data["model_params"]


def test_build_readable_summary():
    result = cli("build", "tabular-resnet", "--input-shape", "26", "--outputs", "2")
    assert result.exit_code == 0, result.output
    assert "parameters:" in result.stdout and "bottleneck" in result.stdout


def test_presets_in_every_format_list_every_family():
    listed = json.loads(cli("presets", "--json").stdout)
    examples = {row["example"] for row in listed}
    assert {"resnet56", "preact-resnet164", "wrn-28-10", "ror-3-wrn-40-2", "tabular-resnet"} <= examples
    assert {"seed-resnet", "seed-plain"} <= examples
    as_csv = list(csv.DictReader(io.StringIO(cli("presets", "--format", "csv").stdout)))
    assert [row["example"] for row in as_csv] == [row["example"] for row in listed]
    assert json.loads(as_csv[0]["depths"]) == listed[0]["depths"]
    table = cli("presets").stdout
    assert all(example in table for example in examples)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "resnet57"], "error: preset resnet57: the depth must be 6n+2"),
        (
            ["build", "resnet20", "--input-shape", "32,x"],
            "error: --input-shape: expected 1 to 3 positive integers",
        ),
        (["build", "missing.json"], "error: missing.json: no such file"),
        (["build", "resnet20", "--format", "csv"], "error: --format: csv is not available for this command"),
        (["presets", "--json", "--format", "csv"], "error: --json and --format csv: give one of them"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(args, message):
    assert user_error(*args).startswith(message)


def test_bad_config_file_names_file_and_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"input_shape": [4], "outputs": 2, "block_type": "dense"}))
    assert f"{path}: architecture.block_type: Input should be" in user_error("build", path)
