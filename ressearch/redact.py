"""Keep secrets out of logs, errors and exports: passwords in URLs become ``***``."""

from __future__ import annotations

import re

__all__ = ["redact"]

# scheme://user:password@host -> scheme://user:***@host; also bare password=... query items.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<secret>[^@\s]*)(?P<tail>@)")
# user:password@host where the scheme separator is mistyped (postgresql:/u:p@h, postgresql//u:p@h).
_LOOSE_USERINFO = re.compile(r"(?P<head>(?:^|[\s/'\"(])[^:/@\s'\"]+:)(?P<secret>[^@\s/]+)(?P<tail>@)")
_QUERY = re.compile(r"(?P<head>(?:^|[?&;\s])password=)(?P<secret>[^&\s]*)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every URL password replaced by ``***``.

    Example:
        >>> redact("postgresql://bob:hunter2@db:5432/optuna")
        'postgresql://bob:***@db:5432/optuna'
    """
    text = _USERINFO.sub(r"\g<head>***\g<tail>", text)
    text = _LOOSE_USERINFO.sub(r"\g<head>***\g<tail>", text)
    return _QUERY.sub(r"\g<head>***", text)
