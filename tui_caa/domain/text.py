"""Text helpers with no I/O."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case, accents removed, blanks collapsed: 'João  da Conceição' -> 'joao da conceicao'."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.lower().split())


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")  # reorder what is shown
ECHO_LIMIT = 80  # characters of a user's input quoted back in a message


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` cut to about `limit` characters, saying how long it was: messages quote inputs, and
    a 5 MB value must not make a 10 MB error."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def control_characters(text: str, allowed: str = "") -> list[str]:
    """The control characters in `text` (named like U+001B), but those in `allowed`: an ESC stored in
    a name would drive the terminal of whoever lists it."""
    found = []
    for ch in text:
        if ch not in allowed and (unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS):
            name = f"U+{ord(ch):04X}"
            if name not in found:
                found.append(name)
    return found
