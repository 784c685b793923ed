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
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer
from rich.cells import cell_len
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
    "WideOption",
    "choose_format",
    "emit",
    "fit_columns",
    "err",
    "out",
    "print_json",
    "print_table",
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
WideOption = Annotated[
    bool,
    typer.Option("--wide", help="Show every column of the table, wider than the terminal if need be."),
]


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


def cell(value: Any, *, grouped: bool = True) -> str:
    """A table cell: '-' for nothing, integers as ``48,935`` (``grouped``), 4 significant digits
    for floats.

    Example:
        >>> cell(48935), cell(48935, grouped=False), cell(0.123456), cell(None), cell(True)
        ('48,935', '48935', '0.1235', '-', 'True')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if grouped else str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


@dataclass(frozen=True)
class Column:
    """One table column: its header, how a row gives its cell, and how it yields to a narrow
    terminal.

    A ``wrap`` column (long text) takes the room the others leave, at least ``min_width``
    characters, wrapped at spaces; any other column is never cut. Columns with a ``drop_order``
    are left out, lowest first, until the table fits the terminal (none with ``--wide``); a left
    out column with a ``note`` gets a line under the table for each row the note gives one.
    """

    header: str
    key: str | Callable[[dict[str, Any]], Any]
    wrap: bool = False
    min_width: int = 16
    drop_order: int | None = None
    grouped: bool = True  # integers with thousands separators (not a trial number: it is typed)
    note: Callable[[dict[str, Any]], str | None] | None = None

    def value(self, row: dict[str, Any]) -> str:
        return cell(row.get(self.key) if isinstance(self.key, str) else self.key(row), grouped=self.grouped)


def _needed_width(columns: Sequence[Column], cells: dict[str, list[str]]) -> int:
    """The width a rich table (heavy head box, one space of padding) needs to cut no cell."""
    total = 1
    for column in columns:
        texts = [column.header, *cells[column.header]]
        natural = max(cell_len(line) for text in texts for line in text.splitlines() or [""])
        if column.wrap:  # wrapped at spaces: no narrower than its longest word
            longest_word = max((cell_len(word) for text in texts for word in text.split()), default=1)
            natural = min(natural, max(column.min_width, longest_word))
        total += natural + 3
    return total


def fit_columns(
    columns: Sequence[Column], rows: list[dict[str, Any]], width: int
) -> tuple[list[Column], list[Column]]:
    """The columns to show in ``width`` characters, and those left out (by their drop order)."""
    cells = {column.header: [column.value(row) for row in rows] for column in columns}
    shown = list(columns)
    droppable = sorted((c for c in columns if c.drop_order is not None), key=lambda c: c.drop_order or 0)
    dropped: list[Column] = []
    while droppable and _needed_width(shown, cells) > width:
        column = droppable.pop(0)
        shown.remove(column)
        dropped.append(column)
    return shown, dropped


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
    wide: bool = False,
) -> None:
    """Print ``rows`` in ``fmt``: a table of ``columns``, CSV of every key, or JSON.

    ``json_data`` replaces the rows in JSON where a command has a richer object to show;
    ``wide`` shows every column of the table (see :func:`print_table`).
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
    if columns is None:
        columns = [Column(key, key) for key in (rows[0] if rows else {})]
    print_table(rows, columns, wide=wide)


def print_table(rows: list[dict[str, Any]], columns: Sequence[Column], *, wide: bool = False) -> None:
    """``rows`` as a table that fits the terminal (see :class:`Column`); ``wide`` shows every
    column at its full width, wider than the terminal if need be.

    The first column names the row (a study, a trial, a variant): it is never cut or left out.
    """
    cells = {column.header: [column.value(row) for row in rows] for column in columns}
    dropped: list[Column] = []
    if wide:
        shown = list(columns)
        width = max(out.width, _needed_width([replace(c, wrap=False) for c in columns], cells))
    else:
        shown, dropped = fit_columns(columns, rows, out.width)
        width = max(out.width, _needed_width(shown, cells))  # only fixed columns can pass the edge
    table = Table()
    for column in shown:
        wraps = column.wrap and not wide
        table.add_column(column.header, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
    for row in rows:
        table.add_row(*[column.value(row) for column in shown])
    terminal = out.width
    out.width = width  # rich would squeeze the table into the terminal: a wider one overflows it
    try:
        out.print(table)
    finally:
        out.width = terminal
    for column in dropped:
        if column.note is not None:
            for row in rows:
                line = column.note(row)
                if line:
                    out.print(line, markup=False, soft_wrap=False)  # wrapped at words, to fit too
    hidden = [column.header for column in dropped if column.note is None]
    if hidden:
        out.print(
            f"not shown at {terminal} columns: {', '.join(hidden)} (--wide shows every column)",
            markup=False,
            soft_wrap=False,
        )
