"""How the CLI prints: one ``--format table|json|csv`` option, one table builder, one error line.

Only the CLI prints. Rows are plain dicts; a table shows chosen columns, CSV and JSON show every
key. Library errors become one line on stderr and exit code 2.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from ressearch.errors import ConfigError, RessearchError, StorageUnavailable
from ressearch.redact import redact

__all__ = [
    "EXIT_STORAGE_UNAVAILABLE",
    "EXIT_USER_ERROR",
    "Column",
    "Format",
    "FormatOption",
    "JsonOption",
    "choose_format",
    "emit",
    "err",
    "out",
    "print_json",
    "user_errors",
]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

# Exit codes (README, "Exit codes"): 0 done, 1 anything else, 2 a user mistake, 3 a worker that
# stopped to be replaced by a fresh process, 4 a storage that cannot be used now.
EXIT_USER_ERROR = 2
EXIT_STORAGE_UNAVAILABLE = 4


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="Output format: table, json or csv.", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")]


def user_errors(function: F) -> F:
    """Turn a library error into one line on stderr and exit code 2 (4 for a storage that cannot
    be used now: the same command works once it is back)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except RessearchError as error:
            err.print(f"error: {redact(str(error))}", markup=False)
            code = EXIT_STORAGE_UNAVAILABLE if isinstance(error, StorageUnavailable) else EXIT_USER_ERROR
            raise typer.Exit(code) from None

    return wrapper  # type: ignore[return-value]


def choose_format(
    output_format: Format | None, as_json: bool, *, allowed: Sequence[Format] = tuple(Format)
) -> Format:
    """The format asked for by ``--format`` or ``--json``; a clash or an unsupported one is an error."""
    if as_json and output_format not in (None, Format.json):
        raise ConfigError(f"--json and --format {output_format}: give one of them")
    chosen = Format.json if as_json else (output_format or Format.table)
    if chosen not in allowed:
        raise ConfigError(
            f"--format: {chosen} is not available for this command; use {' or '.join(map(str, allowed))}"
        )
    return chosen


def cell(value: Any) -> str:
    """A table cell: '-' for nothing, 4 significant digits for floats."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


@dataclass(frozen=True)
class Column:
    """One table column: its header and how a row gives its cell."""

    header: str
    key: str | Callable[[dict[str, Any]], Any]

    def value(self, row: dict[str, Any]) -> str:
        return cell(row.get(self.key) if isinstance(self.key, str) else self.key(row))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def _plain(value: Any) -> Any:
    """NaN (pandas' missing value) as None, so JSON and CSV get null / an empty cell."""
    return None if isinstance(value, float) and math.isnan(value) else value


def emit(
    rows: list[dict[str, Any]],
    fmt: Format,
    *,
    columns: Sequence[Column] | None = None,
    json_data: Any = None,
) -> None:
    """Print ``rows`` in ``fmt``: a table of ``columns``, CSV of every key, or JSON.

    ``json_data`` replaces the rows in JSON where a command has a richer object to show.
    """
    rows = [{key: _plain(value) for key, value in row.items()} for row in rows]
    if fmt is Format.json:
        print_json(rows if json_data is None else json_data)
        return
    if fmt is Format.csv:
        fieldnames: list[str] = []
        for row in rows:
            fieldnames.extend(key for key in row if key not in fieldnames)
        writer = csv.DictWriter(sys.stdout, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {key: json.dumps(v) if isinstance(v, list | dict) else v for key, v in row.items()}
            )
        return
    shown = list(columns) if columns is not None else [Column(key, key) for key in (rows[0] if rows else {})]
    table = Table()
    for index, column in enumerate(shown):
        # The first column names the row (a study, a trial): kept whole, to be copied.
        table.add_column(column.header, no_wrap=index == 0)
    for row in rows:
        table.add_row(*[column.value(row) for column in shown])
    out.print(table)
