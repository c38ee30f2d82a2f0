"""A phone number the console refused, said in the agent's words: the phone library's reasons are
English (logs, integrators); each kind has a sentence of its own here, with what to type instead."""

from __future__ import annotations

import re

from tui_caa.phones import InvalidPhoneNumber
from tui_caa.ui.i18n import Catalog, current_language

T = Catalog({
    "phone_bad": ("'{raw}' não é um telefone válido: {reason}", "'{raw}' is not a valid phone number: {reason}"),
    "phone_search_bad": ("'{raw}' parece um telefone, mas não é válido: {reason}",
                         "'{raw}' looks like a phone number but is not valid: {reason}"),
    "r_ddd": ("o DDD {ddd} não existe", "area code {ddd} does not exist"),
    "r_br": ("não é um número brasileiro válido (DDD + número, ex.: (51) 98765-4321)",
             "not a valid Brazilian number (area code + number, e.g. (51) 98765-4321)"),
    "r_short": ("curto demais, parece um ramal (informe DDD + número)",
                "too short, looks like an extension (type area code + number)"),
    "r_many": ("dígitos demais", "too many digits"),
    "r_few": ("poucos dígitos (informe DDD + número)", "too few digits (type area code + number)"),
    "r_empty": ("está vazio", "is empty"),
    "r_letters": ("tem letras ou símbolos", "has letters or symbols"),
    "r_other": ("confira DDD e número, ex.: (51) 98765-4321", "check area code and number, e.g. (51) 98765-4321"),
    "r_no_ddd": ("sem DDD: informe DDD + número, ex.: (51) 98765-4321",
                 "no area code: type area code + number, e.g. (51) 98765-4321"),
    "r_country": ("código de país desconhecido", "unknown country code"),
    "r_withheld": ("número oculto ou anônimo não pode ser discado", "a withheld or anonymous number cannot be dialled"),
    "r_plus": ("o + só pode vir no começo", "the + may only come first"),
})

_REASONS = (
    (re.compile(r"invalid area code (\d+)"), "r_ddd"),
    (re.compile(r"not a valid Brazilian number|not a valid number"), "r_br"),
    (re.compile(r"too short"), "r_short"),
    (re.compile(r"too many digits"), "r_many"),
    (re.compile(r"too few digits"), "r_few"),
    (re.compile(r"^empty|contains no digits"), "r_empty"),
    (re.compile(r"no area code"), "r_no_ddd"),
    (re.compile(r"unknown country code"), "r_country"),
    (re.compile(r"anonymous|withheld"), "r_withheld"),
    (re.compile(r"'\+' is only allowed"), "r_plus"),
    (re.compile(r"letter|not a digit|garbage|character"), "r_letters"),
)


def phone_reason(exc: BaseException) -> tuple[str, str]:
    """(raw, reason) of a refused phone number, the reason in the agent's language."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, InvalidPhoneNumber):
        cause = cause.__cause__
    if isinstance(cause, InvalidPhoneNumber):
        raw, reason = cause.raw, cause.reason
    else:  # a remote session: only the message crossed the wire
        found = re.search(r"'(.*)' is not a phone number: (.*)$", str(exc))
        raw, reason = (found.group(1), found.group(2)) if found else ("", str(exc))
    if current_language() != "pt_BR":
        return raw, reason
    for pattern, key in _REASONS:
        match = pattern.search(reason)
        if match:
            return raw, T(key, ddd=match.group(1)) if key == "r_ddd" else T(key)
    return raw, T("r_other")


def phone_problem(exc: BaseException, *, raw: str | None = None, searching: bool = False) -> str:
    """A readable sentence for a phone number the CRM refused."""
    found_raw, reason = phone_reason(exc)
    return T("phone_search_bad" if searching else "phone_bad", raw=raw if raw is not None else found_raw,
             reason=reason)
