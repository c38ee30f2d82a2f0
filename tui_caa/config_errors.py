"""Config error messages: what the user typed, quoted short and never a secret.

A message names the file or variable, the key and the fix. It quotes the bad value at most ~80
characters (a 5 MB value once made 10 MB of error output) and never the value of a secret key
(password, secret, key, token) nor the password inside a URL: config errors end up in terminals,
journals and tickets.
"""

from __future__ import annotations

import re
from typing import Any

from tui_caa.domain.text import clip

_SECRET_PART = re.compile(r"(^|_)(password|passwd|pwd|secret|key|token)s?($|_)", re.IGNORECASE)


def is_secret_key(name: object) -> bool:
    return bool(_SECRET_PART.search(str(name)))


def secret_path(loc: tuple[Any, ...]) -> bool:
    return any(is_secret_key(part) for part in loc)


def hide_url_passwords(text: str) -> str:
    """'mysql://u:pw@h/db' -> 'mysql://u:***@h/db', anywhere in `text`. A scan from each '://'
    (not a regex: on a long value one backtracked quadratically, minutes for 400 kB)."""
    parts, start = [], 0
    while (mark := text.find("://", start)) >= 0:
        rest = mark + 3
        end = min((i for i in (text.find(c, rest) for c in " \t\n'\"") if i >= 0), default=len(text))
        authority = text[rest:end]
        at = authority.rfind("@")
        colon = authority.find(":", 0, at) if at >= 0 else -1
        if colon >= 0:
            parts.append(text[start:rest + colon + 1] + "***")
            start = rest + at
        else:
            parts.append(text[start:rest])
            start = rest
    parts.append(text[start:])
    return "".join(parts)


def redacted(value: Any) -> Any:
    """`value` with the values of secret keys and URL passwords replaced, recursively."""
    if isinstance(value, dict):
        return {k: "***" if is_secret_key(k) else redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    if isinstance(value, str):
        return hide_url_passwords(value)
    return value


def shown(loc: tuple[Any, ...], value: Any) -> str:
    """' (got …)' for a message about the value at `loc`, or '' when it must not be shown."""
    if secret_path(loc):
        return ""
    return f" (got {clip(repr(redacted(value)))})"


def message(text: str) -> str:
    """A validator's message, which may quote the input: URL passwords hidden, cut short."""
    return clip(hide_url_passwords(text), 200)
