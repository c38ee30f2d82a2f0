"""Tests for tui_caa.phones: vectors from reference/cti-features.md §4 plus edge cases."""

from __future__ import annotations

import dataclasses
import random

import phonenumbers
import pydantic
import pytest

from tui_caa.phones import (
    VALID_DDDS,
    CallerIdRules,
    DialRules,
    InvalidPhoneNumber,
    NormalizedNumber,
    NumberKind,
    NumberType,
    dial_string,
    display,
    display_raw,
    near_key,
    normalize,
    normalize_phone,
)

SP = CallerIdRules(default_ddd="11")
MOBILE_SP = "+5511987654321"

# --- reference vectors (§4.4, default DDD 11, "00" = "00"+CC) ------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+55 (11) 98765-4321", MOBILE_SP),
        ("5511987654321", MOBILE_SP),
        ("011987654321", MOBILE_SP),
        ("01511987654321", MOBILE_SP),
        ("01711987654321", MOBILE_SP),
        ("9015 11 987654321", MOBILE_SP),
        ("987654321", MOBILE_SP),
        ("1187654321", MOBILE_SP),
        ("32345678", "+551132345678"),
        ("0800 123 4567", "+558001234567"),
        ("4004-1234", "+5540041234"),
        ("03031234567", "+553031234567"),
        ("0014155551212", "+14155551212"),
        # §4.3 table: same number in other shapes
        ("11987654321", MOBILE_SP),
        ("(11) 98765-4321", MOBILE_SP),
        ("02111987654321", MOBILE_SP),
        ("04111987654321", MOBILE_SP),
        ("03211987654321", MOBILE_SP),
        ("08511987654321", MOBILE_SP),
        ("08001234567", "+558001234567"),
        ("8001234567", "+558001234567"),
        ("30031234", "+5530031234"),
        ("03001234567", "+553001234567"),
        ("05001234567", "+555001234567"),
        ("09001234567", "+559001234567"),
    ],
)
def test_reference_vectors(raw: str, e164: str) -> None:
    number = normalize(raw, SP)
    assert number.kind is NumberKind.PHONE
    assert number.e164 == e164
    assert number.raw == raw
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164))


def test_reference_vector_extension() -> None:
    assert normalize("2001", SP) == NormalizedNumber("2001", NumberKind.EXTENSION, rule="extension")


@pytest.mark.parametrize("raw", ["anonymous", ""])
def test_reference_vector_anonymous(raw: str) -> None:
    assert normalize(raw, SP) == NormalizedNumber(raw, NumberKind.ANONYMOUS, rule="anonymous")


# --- full results: type, DDD and rule ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164", "number_type", "ddd", "rule"),
    [
        ("+55 (11) 98765-4321", MOBILE_SP, NumberType.MOBILE, "11", "e164"),
        ("5511987654321", MOBILE_SP, NumberType.MOBILE, "11", "country-code"),
        ("011987654321", MOBILE_SP, NumberType.MOBILE, "11", "trunk0"),
        ("01511987654321", MOBILE_SP, NumberType.MOBILE, "11", "csp"),
        ("9015 11 987654321", MOBILE_SP, NumberType.MOBILE, "11", "collect"),
        ("987654321", MOBILE_SP, NumberType.MOBILE, "11", "default-ddd"),
        ("1187654321", MOBILE_SP, NumberType.MOBILE, "11", "national+ninth-digit"),
        ("87654321", MOBILE_SP, NumberType.MOBILE, "11", "default-ddd+ninth-digit"),
        ("32345678", "+551132345678", NumberType.FIXED, "11", "default-ddd"),
        ("(11) 3234-5678", "+551132345678", NumberType.FIXED, "11", "national"),
        ("0800 123 4567", "+558001234567", NumberType.TOLL_FREE, None, "non-geographic"),
        ("0800 123 456", "+55800123456", NumberType.TOLL_FREE, None, "non-geographic"),
        ("0300 123 4567", "+553001234567", NumberType.SHARED_COST, None, "non-geographic"),
        ("0303 123 4567", "+553031234567", NumberType.SHARED_COST, None, "non-geographic"),
        ("0500 123 4567", "+555001234567", NumberType.PREMIUM, None, "non-geographic"),
        ("0900 123 4567", "+559001234567", NumberType.PREMIUM, None, "non-geographic"),
        ("4004-1234", "+5540041234", NumberType.SHARED_COST, None, "non-geographic"),
        ("3003 1234", "+5530031234", NumberType.SHARED_COST, None, "non-geographic"),
        ("4020-1234", "+5540201234", NumberType.SHARED_COST, None, "non-geographic"),
        ("0014155551212", "+14155551212", NumberType.OTHER, None, "intl-00"),
        ("+44 20 7946 0958", "+442079460958", NumberType.FIXED, None, "e164"),
        ("+54 9 11 2345-6789", "+5491123456789", NumberType.MOBILE, None, "e164"),
        ("+55011987654321", MOBILE_SP, NumberType.MOBILE, "11", "e164+trunk0"),
        ("+551187654321", MOBILE_SP, NumberType.MOBILE, "11", "e164+ninth-digit"),
    ],
)
def test_full_result(raw, e164, number_type, ddd, rule) -> None:
    assert normalize(raw, SP) == NormalizedNumber(raw, NumberKind.PHONE, e164, number_type, ddd, rule)


# --- anonymous ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "anonymous",
        "Anonymous",
        "ANONYMOUS",
        "unknown",
        "<unknown>",
        "restricted",
        "private",
        "Privado",
        "anônimo",
        "Restrito",
        "withheld",
        '"Anonymous"',
        "sip:anonymous@anonymous.invalid",
    ],
)
def test_anonymous_variants(raw: str) -> None:
    number = normalize(raw, SP)
    assert number.kind is NumberKind.ANONYMOUS
    assert number.e164 is None
    assert number.raw == raw


def test_none_is_anonymous() -> None:
    assert normalize(None).kind is NumberKind.ANONYMOUS  # type: ignore[arg-type]


# --- extensions and short codes -------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["190", "192", "193", "100", "180", "1331", "2001", "1001", "8000", "10315", "7", "*97", "*8",
     "sip:2001@pbx.local"],
)
def test_extensions_and_short_codes(raw: str) -> None:
    number = normalize(raw, SP)
    assert number.kind is NumberKind.EXTENSION
    assert number.e164 is None
    assert number.number_type is None
    assert number.rule == "extension"


def test_extension_max_digits_is_configurable() -> None:
    rules = CallerIdRules(default_ddd="11", extension_max_digits=3)
    assert normalize("190", rules).kind is NumberKind.EXTENSION
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize("2001", rules)
    assert info.value.reason == "too few digits (4)"


def test_national_single_numbers_are_not_extensions_even_with_long_extensions() -> None:
    rules = CallerIdRules(extension_max_digits=7)
    assert normalize("4004-1234", rules).e164 == "+5540041234"


# --- international -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "with_csp", "e164", "rule"),
    [
        ("0014155551212", False, "+14155551212", "intl-00"),
        ("00 44 20 7946 0958", False, "+442079460958", "intl-00"),
        ("005511987654321", False, MOBILE_SP, "intl-00"),
        ("0055 11 98765 4321", False, MOBILE_SP, "intl-00"),
        ("002114155551212", True, "+14155551212", "intl-00-csp"),
        ("001544 20 7946 0958", True, "+442079460958", "intl-00-csp"),
        ("00415511987654321", True, MOBILE_SP, "intl-00-csp"),
        # ambiguous (Austria +43 vs CSP 43 + USA): the flag decides
        ("004314155551212", False, "+4314155551212", "intl-00"),
        ("004314155551212", True, "+14155551212", "intl-00-csp"),
        # mis-set flag: the configured form is invalid, the other one is used
        ("002114155551212", False, "+14155551212", "intl-00-csp"),
        ("0014155551212", True, "+14155551212", "intl-00"),
    ],
)
def test_international_00(raw: str, with_csp: bool, e164: str, rule: str) -> None:
    number = normalize(raw, CallerIdRules(international_with_csp=with_csp))
    assert (number.e164, number.rule) == (e164, rule)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 415 555 1212", "+14155551212"),
        ("+1 (415) 555-1212", "+14155551212"),
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("+351 21 123 4567", "+351211234567"),
        ("+49 30 1234567", "+49301234567"),
        ("tel:+14155551212", "+14155551212"),
    ],
)
def test_foreign_numbers(raw: str, e164: str) -> None:
    number = normalize(raw)  # no default DDD needed
    assert number.e164 == e164
    assert number.ddd is None


# --- Brazilian prefixes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        # 0 + any CSP (phonenumbers only knows 13 of them)
        ("0 15 11 98765-4321", MOBILE_SP),
        ("0 17 11 98765-4321", MOBILE_SP),
        ("0 32 11 98765-4321", MOBILE_SP),
        ("0 85 11 98765-4321", MOBILE_SP),
        ("0 14 51 3333-4444", "+555133334444"),
        ("0 99 47 3033-9292", "+554730339292"),
        ("0 41 11 8765-4321", MOBILE_SP),  # CSP + legacy 8-digit mobile
        # trunk 0 (observed PBX formats)
        ("04832817000", "+554832817000"),
        ("084999010101", "+5584999010101"),
        ("032999999999", "+5532999999999"),
        ("(011) 3234-5678", "+551132345678"),
        # DDD + number, no 0 (ITFlex, Asterisk fixtures)
        ("4730339292", "+554730339292"),
        ("5133334444", "+555133334444"),
        ("5121010001", "+555121010001"),
        ("5199998888", "+5551999998888"),
        # 55 + N without +
        ("554832817000", "+554832817000"),
        ("551187654321", MOBILE_SP),
        ("55 55 3222-1234", "+555532221234"),  # DDD 55 (Santa Maria) after CC 55
        # collect calls
        ("90 21 11 3234 5678", "+551132345678"),
        ("9041 84 99901-0101", "+5584999010101"),
    ],
)
def test_brazilian_prefixes(raw: str, e164: str) -> None:
    assert normalize(raw, SP).e164 == e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+55 (11) 98765-4321", MOBILE_SP),
        ("+55-11-98765-4321", MOBILE_SP),
        ("+55.11.98765.4321", MOBILE_SP),
        ("  +5511987654321  ", MOBILE_SP),
        ("+55 (0)11 98765-4321", MOBILE_SP),
        ("+55 11 3234 5678", "+551132345678"),
        ("+55\u00a011\u00a098765\u20134321", MOBILE_SP),  # NBSP and en dash
        ("sip:+5511987654321@pbx;user=phone", MOBILE_SP),
    ],
)
def test_plus55_with_punctuation(raw: str, e164: str) -> None:
    assert normalize(raw).e164 == e164


# --- default DDD --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ddd", "e164"),
    [
        ("987654321", "11", MOBILE_SP),
        ("98765-4321", "21", "+5521987654321"),
        ("3234-5678", "48", "+554832345678"),
        ("8765-4321", "51", "+5551987654321"),  # legacy mobile: default DDD then ninth digit
        ("9090 98765-4321", "11", MOBILE_SP),  # local collect call
    ],
)
def test_default_ddd(raw: str, ddd: str, e164: str) -> None:
    number = normalize(raw, default_ddd=ddd)
    assert number.e164 == e164
    assert number.ddd == ddd


def test_default_ddd_kwarg_overrides_rules() -> None:
    assert normalize("987654321", SP, default_ddd="21").e164 == "+5521987654321"
    assert normalize("987654321", SP).e164 == MOBILE_SP


def test_default_ddd_does_not_touch_numbers_with_ddd() -> None:
    assert normalize("(21) 98765-4321", SP).e164 == "+5521987654321"


@pytest.mark.parametrize("raw", ["987654321", "32345678", "98765-4321", "8765-4321"])
def test_missing_ddd_without_default_is_an_error(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize(raw)
    assert info.value.reason == "no area code (DDD) and no default DDD configured"
    assert str(info.value) == f"{raw!r} is not a phone number: no area code (DDD) and no default DDD configured"


@pytest.mark.parametrize("bad", ["20", "1", "abc", "111"])
def test_invalid_default_ddd_kwarg_is_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="default_ddd") as info:
        normalize("987654321", default_ddd=bad)
    assert not isinstance(info.value, InvalidPhoneNumber)


# --- ninth digit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164", "number_type"),
    [
        ("1187654321", MOBILE_SP, NumberType.MOBILE),
        ("(11) 8765-4321", MOBILE_SP, NumberType.MOBILE),
        ("4788776655", "+5547988776655", NumberType.MOBILE),
        ("9196543210", "+5591996543210", NumberType.MOBILE),
        ("1196543210", "+5511996543210", NumberType.MOBILE),
        ("1132345678", "+551132345678", NumberType.FIXED),  # fixed line: no 9 added
        ("1177654321", "+551177654321", NumberType.MOBILE),  # 7xxx trunking is valid as is
    ],
)
def test_ninth_digit(raw: str, e164: str, number_type: NumberType) -> None:
    number = normalize(raw)
    assert (number.e164, number.number_type) == (e164, number_type)


# --- invalid input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", "contains letters"),
        ("11 9876a-4321", "contains letters"),
        ("(11) 98765-4321 ramal 200", "contains letters"),
        ("1234567890123456", "too many digits (16)"),
        ("+55 11 98765-4321 1234567", "too many digits (20)"),
        ("000000000000000000000000", "too many digits (24)"),
        ("123456789012", "too many digits (12)"),
        ("123456", "too few digits (6)"),
        ("1234567", "too few digits (7)"),
        ("+", "contains no digits"),
        ("()", "contains no digits"),
        ("11+987654321", "'+' is only allowed at the start"),
        ("11 98765@4321", "contains characters that are not digits"),
        ("0987654321", "unexpected number of digits after the leading 0 (9)"),
        ("2098765432", "invalid area code 20"),
        ("(23) 98765-4321", "invalid area code 23"),
        ("0 23 3234 5678", "invalid area code 23"),
        ("+55 20 98765-4321", "invalid area code 20"),
        ("(10) 3234-5678", "invalid area code 10"),
        ("(11) 1234-5678", "not a valid Brazilian number"),
        ("(11) 08765-4321", "not a valid Brazilian number"),
        ("+55 98765-4321", "not a valid Brazilian number"),
        ("+1 555 5555", "not a valid number for country code +1"),
        ("+999 123456", "unknown country code in +999123456"),
    ],
)
def test_invalid(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize(raw, SP)
    assert info.value.reason == reason
    assert info.value.raw == raw
    assert str(info.value) == f"{raw!r} is not a phone number: {reason}"


def test_invalid_phone_number_message() -> None:
    exc = InvalidPhoneNumber("1234567890123456", "too many digits (16)")
    assert str(exc) == "'1234567890123456' is not a phone number: too many digits (16)"
    assert isinstance(exc, ValueError)


# --- per-trunk rewrites --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rewrites", "raw", "e164", "rule"),
    [
        # a trunk that prefixes its route digit "8" to every caller ID
        ([(r"^8(\d{10,11})$", r"\1")], "811987654321", MOBILE_SP, "rewrite+national"),
        # a trunk that sends DDD + number with a leading 0, rewritten straight to E.164
        ([(r"^0(\d{2})(\d{8,9})$", r"+55\1\2")], "011987654321", MOBILE_SP, "rewrite+e164"),
        # rules apply in order
        ([(r"^#", ""), (r"^(\d{9})$", r"21\1")], "#987654321", "+5521987654321", "rewrite+national"),
        # a rule that does not match leaves the rule name alone
        ([(r"^8(\d{10,11})$", r"\1")], "11987654321", MOBILE_SP, "national"),
    ],
)
def test_rewrites(rewrites, raw, e164, rule) -> None:
    number = normalize(raw, CallerIdRules(rewrites=rewrites))
    assert (number.e164, number.rule) == (e164, rule)


# --- rules models -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"default_ddd": "20"}, "default_ddd '20' is not a Brazilian area code (DDD) in use"),
        ({"default_ddd": "1"}, "default_ddd must be a 2-digit Brazilian area code (DDD), got '1'"),
        ({"default_ddd": "1a"}, "default_ddd must be a 2-digit Brazilian area code (DDD), got '1a'"),
        ({"rewrites": [("(", "x")]}, "rewrite pattern '(' does not compile"),
        ({"rewrites": [("a", r"\2")]}, "rewrite replacement"),
        ({"extension_max_digits": 8}, "less than or equal to 7"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_caller_id_rules_validation(kwargs, message: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        CallerIdRules(**kwargs)
    assert message in str(info.value)


def test_caller_id_rules_is_frozen_and_hashable() -> None:
    rules = CallerIdRules(default_ddd=" 11 ", rewrites=[("^8", "")])
    assert rules.default_ddd == "11"
    assert rules.rewrites == (("^8", ""),)
    assert hash(rules) == hash(CallerIdRules(default_ddd="11", rewrites=(("^8", ""),)))
    with pytest.raises(pydantic.ValidationError):
        rules.default_ddd = "21"  # type: ignore[misc]
    assert CallerIdRules(default_ddd="").default_ddd is None


def test_valid_ddds_match_the_reference() -> None:
    assert len(VALID_DDDS) == 67
    assert {"11", "19", "21", "22", "24", "27", "28", "55", "79", "99"} <= VALID_DDDS
    not_ddds = {"10", "20", "23", "25", "26", "29", "30", "36", "39", "40", "50", "52", "56", "60",
                "70", "72", "76", "78", "80", "90"}
    assert not not_ddds & VALID_DDDS


@pytest.mark.parametrize(
    "kwargs",
    [
        {"site_ddd": "20"},
        {"external_prefix": "a"},
        {"external_prefix": "12345"},
        {"carrier_code": "1"},
        {"carrier_code": "015"},
        {"international_prefix": ""},
        {"foo": 1},
    ],
)
def test_dial_rules_validation(kwargs) -> None:
    with pytest.raises(pydantic.ValidationError):
        DialRules(**kwargs)


# --- the result is immutable and consistent with phonenumbers -----------------------------


def test_normalized_number_is_immutable_and_cached_equal() -> None:
    first = normalize("(11) 98765-4321")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.e164 = "+5521987654321"  # type: ignore[misc]
    assert normalize("(11) 98765-4321") == first


def test_agrees_with_phonenumbers_on_random_national_numbers() -> None:
    """Our fast path and prefix handling never disagree with phonenumbers' validity."""
    rng = random.Random(20240601)
    ddds = sorted(VALID_DDDS)
    for _ in range(3000):
        nsn = rng.choice(ddds) + "".join(rng.choice("0123456789") for _ in range(rng.choice((8, 9))))
        parsed = phonenumbers.parse("+55" + nsn)
        try:
            number = normalize(nsn)
        except InvalidPhoneNumber:
            assert not phonenumbers.is_valid_number(parsed), nsn
            continue
        assert phonenumbers.is_valid_number(phonenumbers.parse(number.e164)), nsn
        if phonenumbers.is_valid_number(parsed):
            assert number.e164 == "+55" + nsn
            expected = {1: NumberType.MOBILE, 0: NumberType.FIXED}[phonenumbers.number_type(parsed)]
            assert number.number_type == expected
        else:
            assert "ninth-digit" in number.rule and number.e164 == "+55" + nsn[:2] + "9" + nsn[2:]


# --- normalize_phone ------------------------------------------------------------------------


def test_normalize_phone_accepts_phones() -> None:
    assert normalize_phone("(11) 98765-4321").e164 == MOBILE_SP
    assert normalize_phone("98765-4321", default_ddd="11").e164 == MOBILE_SP


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("anonymous", "anonymous or withheld caller ID"),
        ("2001", "too short: an internal extension or short code"),
        ("190", "too short: an internal extension or short code"),
        ("abc", "contains letters"),
    ],
)
def test_normalize_phone_rejects_non_phones(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize_phone(raw)
    assert info.value.reason == reason


# --- near_key -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "key"),
    [
        ("+5511987654321", "1187654321"),
        ("+551187654321", "1187654321"),  # legacy 8-digit mobile shape: same key
        ("+551132345678", "1132345678"),
        ("+5551999998888", "5199998888"),
        ("+558001234567", None),
        ("+5540041234", None),
        ("+553031234567", None),
        ("+14155551212", None),
        ("+5520987654321", None),
        ("", None),
        ("garbage", None),
    ],
)
def test_near_key(e164: str, key: str | None) -> None:
    assert near_key(e164) == key


def test_near_key_matches_across_ninth_digit_but_not_ddd() -> None:
    assert near_key(normalize("1187654321").e164) == near_key("+551187654321")
    assert near_key("+5511987654321") != near_key("+5521987654321")


# --- display ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "text"),
    [
        ("+5511987654321", "(11) 98765-4321"),
        ("+551132345678", "(11) 3234-5678"),
        ("+558001234567", "0800 123 4567"),
        ("+5540041234", "4004-1234"),
        ("+553031234567", "0303 123 4567"),
        ("+559001234567", "0900 123 4567"),
        ("+14155551212", "+1 415-555-1212"),
        ("+442079460958", "+44 20 7946 0958"),
        ("not a number", "not a number"),
    ],
)
def test_display(e164: str, text: str) -> None:
    assert display(e164) == text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("011987654321", "(11) 98765-4321"),
        ("987654321", "987654321"),  # no default DDD: shown as typed
        ("  2001 ", "2001"),
        ("anonymous", "anonymous"),
        ("abc", "abc"),
        ("", ""),
    ],
)
def test_display_raw(raw: str, text: str) -> None:
    assert display_raw(raw) == text


def test_display_raw_uses_default_ddd() -> None:
    assert display_raw("987654321", default_ddd="21") == "(21) 98765-4321"
    assert display_raw("987654321", SP) == "(11) 98765-4321"


# --- dial strings -------------------------------------------------------------------------

SITE = DialRules(site_ddd="11")
PABX = DialRules(site_ddd="11", external_prefix="0", carrier_code="15")


@pytest.mark.parametrize(
    ("number", "rules", "expected"),
    [
        # local: no DDD, no trunk 0, no CSP
        ("(11) 98765-4321", SITE, "987654321"),
        ("(11) 98765-4321", PABX, "0987654321"),
        ("3234-5678", PABX, "032345678"),  # typed without DDD: site DDD assumed
        # long distance
        ("(21) 98765-4321", SITE, "021987654321"),
        ("(21) 98765-4321", PABX, "0015" + "21987654321"),
        ("(48) 3281-7000", DialRules(site_ddd="11", trunk_prefix=False), "4832817000"),
        ("(11) 98765-4321", DialRules(site_ddd="11", local_without_ddd=False), "011987654321"),
        ("(11) 98765-4321", DialRules(), "011987654321"),  # no site DDD: always long distance
        # non-geographic: 0 + number, never a CSP
        ("0800 123 4567", PABX, "008001234567"),
        ("0800 123 4567", SITE, "08001234567"),
        ("0303 123 4567", PABX, "003031234567"),
        ("4004-1234", PABX, "040041234"),
        ("4004-1234", SITE, "40041234"),
        # international
        ("+1 415 555 1212", SITE, "0014155551212"),
        ("+1 415 555 1212", PABX, "0" + "00" + "15" + "14155551212"),
        # extensions and short codes as typed
        ("2001", PABX, "2001"),
        ("190", PABX, "190"),
        ("*97", PABX, "*97"),
        # E.164 PBX
        ("(11) 98765-4321", DialRules(site_ddd="11", external_prefix="0", e164=True), MOBILE_SP),
        ("0800 123 4567", DialRules(e164=True), "+558001234567"),
    ],
)
def test_dial_string(number: str, rules: DialRules, expected: str) -> None:
    assert dial_string(number, rules) == expected


def test_dial_string_accepts_normalized_numbers() -> None:
    number = normalize("021 98765-4321")
    assert dial_string(number, SITE) == "021987654321"
    assert dial_string(number, DialRules(site_ddd="21")) == "987654321"


def test_dial_string_uses_caller_id_rules() -> None:
    rules = CallerIdRules(rewrites=[(r"^8(\d{10,11})$", r"\1")])
    assert dial_string("821987654321", SITE, caller_id_rules=rules) == "021987654321"
    # caller_id_rules.default_ddd applies when the dial rules have no site DDD
    belo_horizonte = CallerIdRules(default_ddd="31")
    assert dial_string("98765-4321", DialRules(), caller_id_rules=belo_horizonte) == "031987654321"


@pytest.mark.parametrize("raw", ["anonymous", ""])
def test_dial_string_rejects_anonymous(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match="cannot dial"):
        dial_string(raw, SITE)


def test_dial_string_rejects_invalid() -> None:
    with pytest.raises(InvalidPhoneNumber, match="no area code"):
        dial_string("98765-4321", DialRules())
