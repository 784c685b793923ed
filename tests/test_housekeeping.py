"""What a run leaves in the working folder is ignored by git and removed by `make clean`."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The defaults: the SQLite file, its artifact folder beside it, PostgreSQL's artifact folder,
# and what `make run` writes.
LEFT_BY_RUNS = ["ressearch.db", "ressearch.db.artifacts", "ressearch-artifacts", "exports", "report"]


def test_gitignore_covers_the_default_databases_and_artifact_folders():
    patterns = {line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()}
    assert {"*.db", "*.db-wal", "*.db-shm", "*.db.artifacts/", "/ressearch-artifacts/"} <= patterns
    assert {"/exports/", "/report/", "/artifacts/"} <= patterns


def test_make_clean_removes_what_runs_leave():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^clean:\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe is not None, "no clean target"
    removed = recipe.group(1).replace("\\\n", " ").split()
    assert set(LEFT_BY_RUNS) <= set(removed), removed
