"""The layers import one way: import-linter checks the contracts in pyproject.toml.

The second test proves the check can fail: a copy of the package with one wrong-way import
breaks the layer contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=package_parent,
        env=env,
    )


def test_every_layer_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_wrong_way_import_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "ressearch", tmp_path / "ressearch", ignore=shutil.ignore_patterns("__pycache__"))
    base = tmp_path / "ressearch" / "config" / "base.py"
    base.write_text(base.read_text() + "\nfrom ressearch.results import export  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "ressearch.config.base -> ressearch.results" in result.stdout
