"""The ``ressearch`` Typer app; the command modules register their commands on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

try:  # newer Typer carries its own copy of Click: its errors are that copy's classes
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - Typer on the installed Click
    from click import exceptions as click_errors  # type: ignore[no-redef]

from ressearch._version import __version__
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


# Help shows what to type, not Python's types: `--storage URL`, `--seeds N`, `--quiet`, `NAME`
# (Typer would print `<str>`, `<int range>`, `<bool>` and `{name}`). A metavar the option gives
# itself is kept; a flag shows none; a choice shows its values.
_METAVARS = {int: "N", float: "NUMBER", Path: "PATH", str: "TEXT"}


def _metavar(param: TyperOption | TyperArgument) -> str | None:
    if param.metavar is not None and not param.metavar.startswith("<"):
        return param.metavar
    if isinstance(param, TyperOption) and param.is_flag:
        return None
    if isinstance(param, TyperArgument):
        return (param.name or "value").upper()
    described = param.type_descriptor
    if described.is_choice:
        return "|".join(str(getattr(choice, "value", choice)) for choice in described.choices or ())
    return _METAVARS.get(described.annotation, (param.name or "value").upper())


class _PlainOption(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        return _metavar(self)


class _PlainArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the argument's name says it: `NAME`, `STUDY_FILE`

    @property
    def display_name_raw(self) -> str:
        return _metavar(self) or ""

    def _usage_display_name(self) -> str:
        return self.display_name_raw if self.required else f"[{self.display_name_raw}]"


def _plain_help(command: Any, ctx: Any) -> Any:
    """``command`` with its parameters shown as above (their classes swapped, nothing else)."""
    for param in [*command.params, command.get_help_option(ctx)]:
        if type(param) is TyperOption:
            param.__class__ = _PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = _PlainArgument
    return command


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

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        return None if command is None else _plain_help(command, ctx)

    def get_params(self, ctx: Any) -> Any:
        _plain_help(self, ctx)
        return super().get_params(ctx)


app = typer.Typer(
    name="ressearch",
    cls=_OneLineUsageErrors,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ressearch {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Hyperparameter search for residual neural networks: Optuna studies over Keras 3 models.

    Commands that only read (studies, trials, best, presets, build) write nothing; each
    command's help says what it writes.
    """
