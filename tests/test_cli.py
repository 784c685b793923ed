from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ressearch.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_build_resnet56_json_and_round_trip(tmp_path):
    result = invoke("build", "resnet56", "--input-shape", "32,32,3", "--outputs", "10", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert abs(data["params"] - 0.85e6) / 0.85e6 < 0.03
    assert data["config"]["depths"] == [9, 9, 9]
    saved = tmp_path / "resnet56.json"
    saved.write_text(result.stdout)  # the whole --json object is a valid SPEC
    again = json.loads(invoke("build", str(saved), "--json").stdout)
    assert again["params"] == data["params"]
    config_only = tmp_path / "config.json"
    config_only.write_text(json.dumps(data["config"]))
    assert json.loads(invoke("build", str(config_only), "--json").stdout)["params"] == data["params"]


def test_build_readable_summary():
    result = invoke("build", "tabular-resnet", "--input-shape", "26", "--outputs", "2")
    assert result.exit_code == 0, result.output
    assert "parameters:" in result.stdout and "bottleneck" in result.stdout


def test_presets_json_lists_every_family():
    result = invoke("presets", "--json")
    assert result.exit_code == 0
    examples = {row["example"] for row in json.loads(result.stdout)}
    assert {"resnet56", "preact-resnet164", "wrn-28-10", "ror-3-wrn-40-2", "tabular-resnet"} <= examples
    assert {"seed-resnet", "seed-plain"} <= examples


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "resnet57"], "error: preset resnet57: the depth must be 6n+2"),
        (
            ["build", "resnet20", "--input-shape", "32,x"],
            "error: --input-shape: expected 1 to 3 positive integers",
        ),
        (["build", "missing.json"], "error: missing.json: no such file"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_config_file_names_file_and_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"input_shape": [4], "outputs": 2, "block_type": "dense"}))
    result = invoke("build", str(path))
    assert result.exit_code == 2
    assert f"{path}: architecture.block_type: Input should be" in result.stderr


@pytest.mark.parametrize("command", [[], ["presets"], ["build"]])
def test_help(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout
