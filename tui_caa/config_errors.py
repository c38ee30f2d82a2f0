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
# scheme://user:password@host — the password is what sits between the first ':' and the last '@'
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^\s]*(?P<tail>@)")


def is_secret_key(name: object) -> bool:
    return bool(_SECRET_PART.search(str(name)))


def secret_path(loc: tuple[Any, ...]) -> bool:
    return any(is_secret_key(part) for part in loc)


def hide_url_passwords(text: str) -> str:
    """'mysql://u:pw@h/db' -> 'mysql://u:***@h/db', anywhere in `text`."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}***{m['tail']}", text)


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
