"""Brazilian Portuguese (the users') and English. Each module keeps its own strings in a Catalog,
so screens stay self-contained:

    T = Catalog({"title": ("Histórico de Ligações", "Call history"),
                 "calls": ("{n} ligações", "{n} calls")})
    T("calls", n=3)
"""

from __future__ import annotations

import locale
import os

LANGUAGES = ("pt_BR", "en")
_current = "pt_BR"


def set_language(language: str) -> str:
    """`pt_BR`, `en`, or `auto` (the locale: pt* gives Portuguese, anything else English)."""
    global _current
    _current = detect_language() if language == "auto" else language
    if _current not in LANGUAGES:
        raise ValueError(f"language '{language}' is not one of {', '.join(LANGUAGES)} or auto")
    return _current


def current_language() -> str:
    return _current


def detect_language() -> str:
    """Portuguese unless the locale names another language (C/POSIX name none)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return _from_locale(value)
    return _from_locale(locale.getlocale()[0] or "")


def _from_locale(value: str) -> str:
    language = value.split(".")[0].split("_")[0].lower()
    return "en" if language and language not in ("pt", "c", "posix") else "pt_BR"


class Catalog:
    def __init__(self, strings: dict[str, tuple[str, str]]) -> None:
        self._strings = strings

    def __call__(self, key: str, **values: object) -> str:
        portuguese, english = self._strings[key]
        text = portuguese if _current == "pt_BR" else english
        return text.format(**values) if values else text
