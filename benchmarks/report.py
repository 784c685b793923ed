"""What every benchmark shares: one interleaved hyperfine round, a Markdown table, a CSV."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def require_hyperfine(benchmark: str) -> None:
    if shutil.which("hyperfine") is None:
        sys.exit(f"{benchmark}: hyperfine is not installed; `make setup` installs it (Debian's package)")


def hyperfine_round(commands: dict[str, str], folder: Path, prepare: str | None = None) -> dict[str, float]:
    """One run of each command, in this order, timed by hyperfine: seconds by command name."""
    exported = folder / "round.json"
    arguments = ["hyperfine", "--runs", "1", "--style", "none", "--export-json", str(exported)]
    for name, command in commands.items():
        arguments += [*(["--prepare", prepare] if prepare else []), "--command-name", name, command]
    subprocess.run(arguments, check=True, stdout=subprocess.DEVNULL)
    results = json.loads(exported.read_text(encoding="utf-8"))["results"]
    return {result["command"]: float(result["mean"]) for result in results}


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Markdown table: floats with two decimals (or as given), everything else as it prints."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print(
            "| " + " | ".join(f"{cell:.2f}" if isinstance(cell, float) else str(cell) for cell in row) + " |"
        )


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}", file=sys.stderr)
