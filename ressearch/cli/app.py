"""The ``ressearch`` Typer app; the command modules register their commands on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperGroup

try:  # newer Typer carries its own copy of Click: its errors are that copy's classes
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - Typer on the installed Click
    from click import exceptions as click_errors  # type: ignore[no-redef]

from ressearch.cli.output import err

__all__ = ["app"]


def _given(error: Exception, argv: tuple[str, ...]) -> str | None:
    """The value the command line gave the option ``error`` is about, if it can be found."""
    for opt in getattr(getattr(error, "param", None), "opts", ()):
        for i, arg in enumerate(argv):
            if arg == opt and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(f"{opt}="):
                return arg.partition("=")[2]
    return None


@contextmanager
def _one_line(argv: tuple[str, ...]) -> Iterator[None]:
    try:
        yield
    except click_errors.NoArgsIsHelpError:
        raise  # `ressearch` alone shows the help
    except click_errors.UsageError as error:
        where = error.ctx.command_path if error.ctx is not None else "ressearch"
        message = " ".join(error.format_message().split()).rstrip(".")
        value = _given(error, argv)
        if value is not None and repr(value) not in message:
            message += f", got {value!r}"
        err.print(f"error: {message} (see `{where} --help`)", markup=False)
        raise typer.Exit(2) from None


class _OneLineUsageErrors(TyperGroup):
    """A mistyped command line (a flag's value, a missing argument) is one line and exit code 2.

    Click and Typer would print a usage block and a framed box; the library's own errors are one
    line (``user_errors``), and so are these, with the value given and where to look for help.
    """

    argv: tuple[str, ...] = ()

    def make_context(self, info_name: str | None, args: list[str], *rest: Any, **kwargs: Any) -> Any:
        self.argv = tuple(args)
        with _one_line(self.argv):
            return super().make_context(info_name, args, *rest, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _one_line(self.argv):
            return super().invoke(ctx)


app = typer.Typer(
    name="ressearch",
    cls=_OneLineUsageErrors,
    help="Hyperparameter search for residual neural networks: Optuna studies over Keras 3 models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
