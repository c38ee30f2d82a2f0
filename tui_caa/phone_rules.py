"""What a phone number is in tui-caa and how a site's numbers are read and dialled: the kinds
and types of numbers, the area codes in use, and the caller-ID and dial rules of the
configuration. Nothing here needs the `phonenumbers` library, so reading the configuration (and
drawing the console's first frame) does not load it; `tui_caa.phones` does the normalising."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tui_caa.domain.text import clip


class NumberKind(StrEnum):
    PHONE = "phone"
    ANONYMOUS = "anonymous"
    EXTENSION = "extension"


class NumberType(StrEnum):
    MOBILE = "mobile"
    FIXED = "fixed"
    TOLL_FREE = "toll_free"
    SHARED_COST = "shared_cost"
    PREMIUM = "premium"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class NormalizedNumber:
    raw: str
    kind: NumberKind
    e164: str | None = None
    number_type: NumberType | None = None
    ddd: str | None = None
    rule: str = ""


#: the longest text taken as a phone number: a SIP URI with its parameters fits, a paragraph does not
MAX_INPUT = 256


class InvalidPhoneNumber(ValueError):
    """The input cannot be turned into a phone number; ``reason`` says why."""

    def __init__(self, raw: str, reason: str):
        self.raw = raw
        self.reason = reason
        # quoted short: the input may be anything a PBX or a person sent (100 kB once came back whole)
        super().__init__(f"{clip(repr(raw))} is not a phone number: {reason}")


# --- Brazilian numbering facts -------------------------------------------------------------

#: The 67 area codes (DDD) accepted by phonenumbers' BR metadata (reference §4.1).
VALID_DDDS: frozenset[str] = frozenset(
    [str(d) for d in range(11, 20)]
    + ["21", "22", "24", "27", "28", "31", "32", "33", "34", "35", "37", "38"]
    + [str(d) for d in range(41, 50)]
    + ["51", "53", "54", "55"]
    + [str(d) for d in range(61, 70)]
    + ["71", "73", "74", "75", "77", "79"]
    + [str(d) for d in range(81, 90)]
    + [str(d) for d in range(91, 100)]
)


def check_ddd(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value == "":
        return None
    if len(value) != 2 or not value.isdigit():
        raise ValueError(f"{field} must be a 2-digit Brazilian area code (DDD), got {clip(repr(value))}")
    if value not in VALID_DDDS:
        raise ValueError(f"{field} {clip(repr(value))} is not a Brazilian area code (DDD) in use")
    return value


# --- configuration ---------------------------------------------------------------------------


class CallerIdRules(BaseModel):
    """How one PBX / trunk presents caller IDs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_ddd: str | None = None
    extension_max_digits: int = Field(default=5, ge=0, le=7)
    international_with_csp: bool = False
    rewrites: tuple[tuple[str, str], ...] = ()

    @field_validator("default_ddd")
    @classmethod
    def _valid_ddd(cls, value: str | None) -> str | None:
        return check_ddd(value, "default_ddd")

    @field_validator("rewrites")
    @classmethod
    def _valid_rewrites(cls, value: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        for pattern, replacement in value:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"rewrite pattern {clip(repr(pattern))} does not compile: {exc}") from None
            try:
                compiled.sub(replacement, "")  # Python checks the replacement template eagerly
            except (re.error, IndexError) as exc:
                raise ValueError(
                    f"rewrite replacement {clip(repr(replacement))} for pattern {clip(repr(pattern))} is invalid: {exc}"
                ) from None
        return value


class DialRules(BaseModel):
    """What one PBX wants to be dialled (outbound direction)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site_ddd: str | None = None
    external_prefix: str = Field(default="", pattern=r"^[0-9]{0,4}$")
    trunk_prefix: bool = True
    carrier_code: str | None = Field(default=None, pattern=r"^[1-9][0-9]$")
    local_without_ddd: bool = True
    e164: bool = False  # True: dial exactly the E.164 string, no prefixes at all
    international_prefix: str = Field(default="00", pattern=r"^[0-9]{1,4}$")

    @field_validator("site_ddd")
    @classmethod
    def _valid_ddd(cls, value: str | None) -> str | None:
        return check_ddd(value, "site_ddd")
