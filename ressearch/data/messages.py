"""Short, quotable text for data errors: names lists, takes an exception's first line."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["first_line", "quoted"]


def quoted(names: Sequence[str], *, limit: int = 20) -> str:
    if not names:
        return "none"
    shown = ", ".join(repr(str(name)) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
