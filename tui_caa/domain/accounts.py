"""Login accounts of the gateway, their sessions and the audit trail: who may log in, as what."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AwareDatetime, Field, field_validator, model_validator

from tui_caa.domain.crm import Record
from tui_caa.domain.roles import Role

LOGIN_PATTERN = re.compile(r"[a-z0-9._@-]{2,64}")
AUDIT_DETAIL_MAX = 500
_AUDIT_FIELD_MAX = 64  # login and address columns of the audit table
_AUDIT_KIND = re.compile(r"[a-z_]{1,32}")


def normalize_login(login: str) -> str:
    """Logins are case-insensitive: 'Ana.Souza' logs in as 'ana.souza'."""
    return login.strip().lower()


def printable(text: str, limit: int) -> str:
    """One line with no control or format characters (no forged log lines, no bidi tricks), cut at
    `limit` characters."""
    kept = (" " if ch.isspace() else ch for ch in text
            if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf"))
    return "".join(kept)[:limit]


class Account(Record):
    id: int | None = None
    login: str
    role: Role
    extension: Annotated[str, Field(pattern=r"^[0-9]{2,8}$")] | None = None
    seller_id: int | None = None
    active: bool = True
    created_at: AwareDatetime | None = None

    @field_validator("login", mode="before")
    @classmethod
    def _valid_login(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        login = normalize_login(value)
        if not LOGIN_PATTERN.fullmatch(login):
            raise ValueError(f"'{value}' is not a valid login: use 2 to 64 characters of a-z, 0-9 and . _ @ -")
        return login

    @field_validator("extension", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _agent_has_extension(self) -> Account:
        # an agent's console follows one phone: without it there is nothing to show
        if self.role is Role.AGENT and self.extension is None:
            raise ValueError("an agent needs an extension: give --extension (e.g. --extension 1001)")
        return self


class AuthSession(Record):
    id: int | None = None
    account_id: int
    created_at: AwareDatetime
    expires_at: AwareDatetime
    last_seen_at: AwareDatetime
    address: str | None = None


class AuditEntry(Record):
    """One line of the audit trail. Free text is cleaned on the way in: it may come from whoever
    typed a login into the login form."""

    id: int | None = None
    at: AwareDatetime
    kind: str  # login, login_failed, logout, revoked, listen, whisper, barge, password_changed, …
    login: str | None = None
    address: str | None = None
    detail: Annotated[str, Field(max_length=AUDIT_DETAIL_MAX)] = ""

    @field_validator("kind")
    @classmethod
    def _valid_kind(cls, value: str) -> str:
        if not _AUDIT_KIND.fullmatch(value):
            raise ValueError(f"audit kind '{printable(value, 40)}' must be 1 to 32 characters of a-z and _")
        return value

    @field_validator("login", "address", mode="before")
    @classmethod
    def _clean_short(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return printable(value, _AUDIT_FIELD_MAX).strip() or None

    @field_validator("login")
    @classmethod
    def _login_case(cls, value: str | None) -> str | None:
        return None if value is None else normalize_login(value)  # logins are case-insensitive

    @field_validator("detail", mode="before")
    @classmethod
    def _clean_detail(cls, value: object) -> object:
        return printable(value, AUDIT_DETAIL_MAX) if isinstance(value, str) else value
