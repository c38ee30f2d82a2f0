"""Brazilian phone-number normalisation, display and dial strings.

Caller IDs arrive in every shape (``011987654321``, ``+55 (11) 98765-4321``, ``0 15 11 ...``,
bare local ``32345678`` ...). ``normalize`` turns them into one canonical E.164 string, the CRM
match key, following the pipeline of ``reference/cti-features.md`` section 4.4:

1. anonymous / withheld caller IDs -> ``NumberKind.ANONYMOUS``;
2. keep a leading ``+``, drop separators and the ``(0)`` artefact, reject letters;
3. per-trunk regex rewrites (``CallerIdRules.rewrites``);
4. short numbers (<= ``extension_max_digits``) -> ``NumberKind.EXTENSION`` (ramais, 190, 1331);
5. Brazilian prefixes, stripped by hand *before* ``phonenumbers`` (whose carrier-code list only
   knows 13 CSPs): ``00``+CC or ``00``+CSP+CC, collect ``90``+CSP, ``0``+any CSP, trunk ``0``,
   ``55``+N, non-geographic ``0800``/``0300``/``0303``/``0500``/``0900``, national
   ``4004``/``3003``, and the default DDD for bare 8/9-digit local numbers;
6. validation against ``phonenumbers`` metadata; a legacy 8-digit mobile gets its ninth digit.

``dial_string`` goes the other way: E.164 -> what a given PBX wants to dial (external-line code,
trunk ``0``, carrier code, local calls without DDD, or plain E.164).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from types import ModuleType
from typing import Any

from tui_caa.phone_rules import (
    MAX_INPUT,
    VALID_DDDS,
    CallerIdRules,
    DialRules,
    InvalidPhoneNumber,
    NormalizedNumber,
    NumberKind,
    NumberType,
    check_ddd,
)

__all__ = [
    "MAX_INPUT",
    "VALID_DDDS",
    "check_ddd",
    "CallerIdRules",
    "DialRules",
    "InvalidPhoneNumber",
    "NormalizedNumber",
    "NumberKind",
    "NumberType",
    "dial_string",
    "display",
    "display_raw",
    "near_key",
    "normalize",
    "normalize_phone",
]


# --- Brazilian numbering facts -------------------------------------------------------------

_ANONYMOUS = frozenset(
    {
        "", "anonymous", "anonimo", "anônimo", "unknown", "desconhecido", "restricted", "restrito",
        "private", "privado", "withheld", "unavailable", "indisponivel", "indisponível",
        "blocked", "bloqueado", "nao identificado", "não identificado", "none", "null",
    }
)  # fmt: skip

# Non-geographic services, dialled as 0 + 3 digits + 6/7 digits (NSN has no leading 0).
_NON_GEOGRAPHIC_PREFIXES = ("800", "300", "303", "500", "900")



@cache
def _lib() -> ModuleType:
    """`phonenumbers` (about 60 modules), loaded by the first number normalised or shown rather
    than before the console's first frame."""
    import phonenumbers

    return phonenumbers


def preload() -> None:
    """Loads `phonenumbers` now (a console calls it once its first frame is up, so the first
    ringing call does not wait for it)."""
    _br()


@cache
def _br() -> dict[str, Any]:
    """phonenumbers' own BR patterns, so the fast path can never disagree with
    `phonenumbers.is_valid_number`: mobile and fixed geographic numbers (they cannot overlap the
    non-geographic ones, which number_type checks first, because 30/40/50/80/90 are not DDDs), and
    the 8-digit national single numbers (4004-xxxx, 3003-xxxx ...) dialled without DDD."""
    pn = _lib()
    meta = pn.PhoneMetadata.metadata_for_region("BR")
    kinds = pn.PhoneNumberType
    return {
        "mobile": re.compile(meta.mobile.national_number_pattern),
        "fixed": re.compile(meta.fixed_line.national_number_pattern),
        "shared_cost": re.compile(meta.shared_cost.national_number_pattern),
        "types": {
            kinds.MOBILE: NumberType.MOBILE,
            kinds.FIXED_LINE: NumberType.FIXED,
            kinds.TOLL_FREE: NumberType.TOLL_FREE,
            kinds.SHARED_COST: NumberType.SHARED_COST,
            kinds.PREMIUM_RATE: NumberType.PREMIUM,
        },
    }


# Separators people and PBXs put in numbers; deleted before looking at the digits.
_SEPARATORS = str.maketrans("", "", " \t\r\n\u00a0-\u2010\u2011\u2012\u2013\u2014./()[]")
_CLEAN = re.compile(r"\+?[0-9]+")
_SHORT_CODE = re.compile(r"[0-9*#]+")  # feature codes like *97 are extensions too
_URI_SCHEME = re.compile(r"^(?:sips?|tel):", re.IGNORECASE)

_MAX_DIGITS = 15  # E.164 maximum (country code + national number)


_DEFAULT_RULES = CallerIdRules()


# --- normalisation ---------------------------------------------------------------------------


class _Reject(Exception):
    """Internal: carries a reason up to the public function, which knows the raw input."""


def normalize(
    raw: str, rules: CallerIdRules | None = None, *, default_ddd: str | None = None
) -> NormalizedNumber:
    """Normalise a caller ID or typed number; raise ``InvalidPhoneNumber`` if it is none."""
    if rules is None:
        rules = _DEFAULT_RULES
    if default_ddd is None:
        default_ddd = rules.default_ddd
    elif default_ddd not in VALID_DDDS:  # slow path: strip, or a clear ValueError (config error)
        default_ddd = check_ddd(default_ddd, "default_ddd") or rules.default_ddd
    if raw is None:  # tolerate PBX fields that are simply missing
        raw = ""
    if len(raw) > MAX_INPUT:  # refused before any work: bounded time, and kept out of the cache
        raise InvalidPhoneNumber(raw, f"too long ({len(raw)} characters; a phone number has at most {MAX_INPUT})")
    # The cache is keyed on primitives only: hashing them is cheap, the model is not.
    return _normalize_cached(
        raw, default_ddd, rules.extension_max_digits, rules.international_with_csp, rules.rewrites
    )


@lru_cache(maxsize=8192)
def _normalize_cached(
    raw: str,
    default_ddd: str | None,
    extension_max_digits: int,
    international_with_csp: bool,
    rewrites: tuple[tuple[str, str], ...],
) -> NormalizedNumber:
    try:
        return _normalize(raw, default_ddd, extension_max_digits, international_with_csp, rewrites)
    except _Reject as exc:
        raise InvalidPhoneNumber(raw, str(exc)) from None


def _normalize(
    raw: str,
    default_ddd: str | None,
    extension_max_digits: int,
    international_with_csp: bool,
    rewrites: tuple[tuple[str, str], ...],
) -> NormalizedNumber:
    text = _strip_uri(raw.strip())
    if _is_anonymous(text):
        return NormalizedNumber(raw, NumberKind.ANONYMOUS, rule="anonymous")
    cleaned = text.replace("(0)", "").translate(_SEPARATORS)
    steps: list[str] = []
    if rewrites:
        rewritten = _apply_rewrites(cleaned, rewrites)
        if rewritten != cleaned:
            steps.append("rewrite")
            cleaned = rewritten
    if not _CLEAN.fullmatch(cleaned):
        # Feature codes (*97, *8, #1) are short codes as well; allow room for the * / #.
        short = extension_max_digits and len(cleaned) <= extension_max_digits + 2
        if short and _SHORT_CODE.fullmatch(cleaned):
            return NormalizedNumber(raw, NumberKind.EXTENSION, rule="extension")
        raise _Reject(_describe_garbage(cleaned))
    if cleaned[0] == "+":
        digits = cleaned[1:]
        if len(digits) > _MAX_DIGITS:
            raise _Reject(f"too many digits ({len(digits)})")
        steps.append("e164")
        return _international(raw, digits, steps)
    if len(cleaned) <= extension_max_digits:
        return NormalizedNumber(raw, NumberKind.EXTENSION, rule="extension")
    return _national(raw, cleaned, default_ddd, international_with_csp, steps)


def _strip_uri(text: str) -> str:
    """``sip:1234@host;user=phone`` -> ``1234`` (SIP/TEL URIs leak into caller IDs)."""
    if _URI_SCHEME.match(text):
        text = text.split(":", 1)[1]
        text = text.split("@", 1)[0].split(";", 1)[0]
    return text.strip()


def _is_anonymous(text: str) -> bool:
    if len(text) > 24:
        return False
    word = text.strip("<>\"' ").lower()
    return word in _ANONYMOUS or word.split("@", 1)[0] in _ANONYMOUS


def _describe_garbage(cleaned: str) -> str:
    if any(ch.isalpha() for ch in cleaned):
        return "contains letters"
    if "+" in cleaned[1:]:
        return "'+' is only allowed at the start"
    if cleaned in ("", "+"):
        return "contains no digits"
    return "contains characters that are not digits"


@lru_cache(maxsize=64)
def _compiled_rewrites(
    rewrites: tuple[tuple[str, str], ...],
) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(pattern), replacement) for pattern, replacement in rewrites)


def _apply_rewrites(cleaned: str, rewrites: tuple[tuple[str, str], ...]) -> str:
    for pattern, replacement in _compiled_rewrites(rewrites):
        cleaned = pattern.sub(replacement, cleaned)
    return cleaned


def _national(
    raw: str, digits: str, default_ddd: str | None, with_csp: bool, steps: list[str]
) -> NormalizedNumber:
    """Digits as dialled/presented inside Brazil: strip the Brazilian prefixes by hand."""
    n = len(digits)
    if n > _MAX_DIGITS + 4:  # even 00 + CSP + a full E.164 number is shorter
        raise _Reject(f"too many digits ({n})")
    if digits.startswith("00"):
        return _international_00(raw, digits, with_csp, steps)
    if n > _MAX_DIGITS:
        raise _Reject(f"too many digits ({n})")
    if digits[0] == "0":
        return _trunk_zero(raw, digits, steps)
    if digits.startswith("90") and n in (14, 15):  # collect call: 90 + CSP + DDD + number
        steps.append("collect")
        return _brazilian(raw, digits[4:], steps)
    if digits.startswith("9090") and n in (12, 13):  # local collect call: 9090 + number
        steps.append("collect")
        return _local(raw, digits[4:], default_ddd, steps)
    if digits.startswith("55") and n in (12, 13):  # country code without the +
        steps.append("country-code")
        return _brazilian(raw, digits[2:], steps)
    if n in (10, 11):
        steps.append("non-geographic" if digits[:3] in _NON_GEOGRAPHIC_PREFIXES else "national")
        return _brazilian(raw, digits, steps)
    if n in (8, 9):
        return _local(raw, digits, default_ddd, steps)
    if n < 8:
        raise _Reject(f"too few digits ({n})")
    raise _Reject(f"too many digits ({n})")


def _trunk_zero(raw: str, digits: str, steps: list[str]) -> NormalizedNumber:
    """``0`` + non-geographic, ``0`` + any CSP + DDD + number, or trunk ``0`` + DDD + number."""
    n = len(digits)
    if n in (10, 11) and digits[1:4] in _NON_GEOGRAPHIC_PREFIXES:
        steps.append("non-geographic")
        return _brazilian(raw, digits[1:], steps)
    if n in (13, 14):  # any 2-digit carrier code, not only the ones phonenumbers knows
        steps.append("csp")
        return _brazilian(raw, digits[3:], steps)
    if n in (11, 12):
        steps.append("trunk0")
        return _brazilian(raw, digits[1:], steps)
    raise _Reject(f"unexpected number of digits after the leading 0 ({n - 1})")


def _local(raw: str, digits: str, default_ddd: str | None, steps: list[str]) -> NormalizedNumber:
    """8/9 digits: a national single number (4004-xxxx) or a local number missing its DDD."""
    if len(digits) == 8 and _br()["shared_cost"].fullmatch(digits):
        steps.append("non-geographic")
        return _brazilian(raw, digits, steps)
    if default_ddd is None:
        raise _Reject("no area code (DDD) and no default DDD configured")
    steps.append("default-ddd")
    return _brazilian(raw, default_ddd + digits, steps)


def _international_00(raw: str, digits: str, with_csp: bool, steps: list[str]) -> NormalizedNumber:
    """``00`` + CC (PBX style) or ``00`` + CSP + CC (Brazilian public dialling).

    The configured form is tried first; if it yields no valid number the other one is tried,
    so a mis-set flag still gives the right answer for unambiguous input.
    """
    plain = ("intl-00", digits[2:])
    csp = ("intl-00-csp", digits[4:])
    attempts = (csp, plain) if with_csp else (plain, csp)
    first_error: _Reject | None = None
    for rule, rest in attempts:
        if not rest or len(rest) > _MAX_DIGITS:
            first_error = first_error or _Reject(
                f"too many digits ({len(digits)})" if rest else f"too few digits ({len(digits)})"
            )
            continue
        try:
            return _international(raw, rest, [*steps, rule])
        except _Reject as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def _international(raw: str, digits: str, steps: list[str]) -> NormalizedNumber:
    """Country code + national number (what follows a ``+`` or an international prefix)."""
    if digits.startswith("55"):
        nsn = digits[2:]
        if nsn.startswith("0") and len(nsn) in (11, 12):  # "+55 0 11 ..." trunk 0 left in
            steps.append("trunk0")
            nsn = nsn[1:]
        return _brazilian(raw, nsn, steps)
    if not digits:
        raise _Reject("contains no digits")
    pn = _lib()
    try:
        parsed = pn.parse("+" + digits)
    except pn.NumberParseException:
        raise _Reject(f"unknown country code in +{digits}") from None
    if not pn.is_valid_number(parsed):
        region = pn.region_code_for_number(parsed)
        where = f"+{parsed.country_code}"
        if region and region != "ZZ":
            where += f" ({region})"
        raise _Reject(f"not a valid number for country code {where}")
    number_type = _br()["types"].get(pn.number_type(parsed), NumberType.OTHER)
    e164 = pn.format_number(parsed, pn.PhoneNumberFormat.E164)
    return NormalizedNumber(raw, NumberKind.PHONE, e164, number_type, None, "+".join(steps))


def _brazilian(raw: str, nsn: str, steps: list[str]) -> NormalizedNumber:
    """Validate a Brazilian national significant number (no trunk 0, no CC)."""
    geographic_length = len(nsn) in (10, 11) and nsn[:3] not in _NON_GEOGRAPHIC_PREFIXES
    if geographic_length and nsn[:2] not in VALID_DDDS:
        raise _Reject(f"invalid area code {nsn[:2]}")
    number_type = _classify_br(nsn)
    if number_type is None and len(nsn) == 10 and nsn[2] in "6789" and nsn[:2] in VALID_DDDS:
        # Legacy 8-digit mobile (before the 2012-2016 ninth-digit rollout): add the 9.
        candidate = nsn[:2] + "9" + nsn[2:]
        if _classify_br(candidate) is NumberType.MOBILE:
            nsn, number_type = candidate, NumberType.MOBILE
            steps.append("ninth-digit")
    if number_type is None:
        raise _Reject("not a valid Brazilian number")
    ddd = nsn[:2] if number_type in (NumberType.MOBILE, NumberType.FIXED) else None
    return NormalizedNumber(raw, NumberKind.PHONE, "+55" + nsn, number_type, ddd, "+".join(steps))


def _classify_br(nsn: str) -> NumberType | None:
    """NumberType of a BR national number, None if phonenumbers considers it invalid."""
    if _br()["mobile"].fullmatch(nsn):
        return NumberType.MOBILE
    if _br()["fixed"].fullmatch(nsn):
        return NumberType.FIXED
    if not nsn or len(nsn) > 13 or nsn[0] == "0":
        return None
    pn = _lib()
    found = pn.number_type(pn.PhoneNumber(country_code=55, national_number=int(nsn)))
    if found == pn.PhoneNumberType.UNKNOWN:
        return None
    return _br()["types"].get(found, NumberType.OTHER)


def normalize_phone(
    raw: str, rules: CallerIdRules | None = None, *, default_ddd: str | None = None
) -> NormalizedNumber:
    """Like ``normalize`` but only a real phone number is accepted (form fields)."""
    number = normalize(raw, rules, default_ddd=default_ddd)
    if number.kind is NumberKind.ANONYMOUS:
        reason = "empty" if not (raw or "").strip() else "anonymous or withheld caller ID"
        raise InvalidPhoneNumber(raw, reason)
    if number.kind is NumberKind.EXTENSION:
        raise InvalidPhoneNumber(raw, "too short: an internal extension or short code")
    return number


# --- matching and display --------------------------------------------------------------------


def near_key(e164: str) -> str | None:
    """DDD + last 8 digits of a Brazilian geographic number, for ninth-digit-insensitive
    "near match" suggestions; None for anything else."""
    if not e164.startswith("+55"):
        return None
    nsn = e164[3:]
    if not nsn.isdigit() or nsn[:2] not in VALID_DDDS:
        return None
    if len(nsn) == 11 and nsn[2] == "9":
        return nsn[:2] + nsn[3:]
    if len(nsn) == 10 and nsn[2] in "23456789":  # fixed, or a legacy 8-digit mobile
        return nsn
    return None


@lru_cache(maxsize=8192)
def display(e164: str) -> str:
    """Human form: ``(11) 98765-4321``, ``0800 123 4567``, ``4004-1234``, ``+1 415-555-1212``.

    Anything that is not an E.164 string is returned unchanged (display never fails)."""
    if not e164.startswith("+") or not e164[1:].isdigit():
        return e164
    if e164.startswith("+55"):
        nsn = e164[3:]
        if nsn[:2] in VALID_DDDS and len(nsn) in (10, 11):
            return f"({nsn[:2]}) {nsn[2:-4]}-{nsn[-4:]}"
    pn = _lib()
    try:
        parsed = pn.parse(e164)
    except pn.NumberParseException:
        return e164
    national = parsed.country_code == 55
    style = pn.PhoneNumberFormat.NATIONAL if national else pn.PhoneNumberFormat.INTERNATIONAL
    return pn.format_number(parsed, style)


def display_raw(
    raw: str, rules: CallerIdRules | None = None, *, default_ddd: str | None = None
) -> str:
    """Best effort display of a raw caller ID; never raises."""
    try:
        number = normalize(raw, rules, default_ddd=default_ddd)
    except (ValueError, TypeError, AttributeError):
        return raw.strip() if isinstance(raw, str) else ""
    if number.e164 is not None:
        return display(number.e164)
    return raw.strip() if isinstance(raw, str) else ""


# --- outbound --------------------------------------------------------------------------------


def dial_string(
    number: str | NormalizedNumber,
    rules: DialRules,
    *,
    caller_id_rules: CallerIdRules | None = None,
) -> str:
    """The digits to hand to the PBX to call ``number``."""
    if isinstance(number, str):
        number = normalize(number, caller_id_rules, default_ddd=rules.site_ddd)
    if number.kind is NumberKind.ANONYMOUS:
        raise InvalidPhoneNumber(number.raw, "cannot dial an anonymous or withheld number")
    if number.kind is NumberKind.EXTENSION:
        return _typed_digits(number.raw)
    e164 = number.e164
    if not e164 or not e164.startswith("+") or not e164[1:].isdigit():
        raise InvalidPhoneNumber(number.raw, "no E.164 number to dial")
    if rules.e164:
        return e164
    ext = rules.external_prefix
    if not e164.startswith("+55"):
        return ext + rules.international_prefix + (rules.carrier_code or "") + e164[1:]
    nsn = e164[3:]
    if len(nsn) == 8:  # national single number (4004-xxxx): no DDD, no prefix
        return ext + nsn
    ddd, subscriber = nsn[:2], nsn[2:]
    if ddd not in VALID_DDDS:  # non-geographic 0800/0300/0303/0500/0900: national form, no CSP
        return ext + "0" + nsn
    if rules.local_without_ddd and ddd == rules.site_ddd:
        return ext + subscriber
    return ext + ("0" if rules.trunk_prefix else "") + (rules.carrier_code or "") + ddd + subscriber


def _typed_digits(raw: str) -> str:
    """An extension / short code as typed, without separators (``*97``, ``2001``)."""
    return "".join(ch for ch in _strip_uri(raw.strip()) if ch.isdigit() or ch in "*#")
