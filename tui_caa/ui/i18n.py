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


# every fixed text of every catalog, in either language -> both: what was translated when a
# module was imported (the descriptions of key bindings) can be said again in today's language
_PAIRS: dict[str, set[tuple[str, str]]] = {}


def in_current_language(text: str, catalog: Catalog | None = None) -> str:
    """`text` (a catalog's fixed string, in either language) in the current language: looked up in
    `catalog` first (the module's own), then in every catalog when only one has it; else unchanged."""
    pairs = catalog.pairs_of(text) if catalog is not None else set()
    if not pairs:
        pairs = _PAIRS.get(text, set())
    if len(pairs) != 1:
        return text  # unknown, or two catalogs translate it differently: left as it is
    [(portuguese, english)] = pairs
    return portuguese if _current == "pt_BR" else english


class Catalog:
    def __init__(self, strings: dict[str, tuple[str, str]]) -> None:
        self._strings = strings
        for pair in strings.values():
            if "{" not in pair[0]:  # a template's filled-in text is not known here
                _PAIRS.setdefault(pair[0], set()).add(pair)
                _PAIRS.setdefault(pair[1], set()).add(pair)

    def pairs_of(self, text: str) -> set[tuple[str, str]]:
        return {pair for pair in self._strings.values() if text in pair}

    def __call__(self, key: str, **values: object) -> str:
        portuguese, english = self._strings[key]
        text = portuguese if _current == "pt_BR" else english
        return text.format(**values) if values else text
