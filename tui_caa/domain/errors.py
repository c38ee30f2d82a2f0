"""Errors the domain and the store raise: each names what is wrong and, where it helps, the fix."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a rule of the business was broken. `str()` is a sentence a user can read."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """A value does not have the right form (a bad phone number, an unknown slot, a bad plate)."""


class NotFound(DomainError):
    """The record asked for does not exist (any more)."""


class Conflict(DomainError):
    """The change clashes with existing data (a DDR used twice, an extension already taken)."""


class LockedField(DomainError):
    """The field may not change once set (the traffic source of a contact that came from a DDR)."""


# ---- refusals of the layers above the domain, defined here so that a remote console can tell them
# apart (and say them in Portuguese) without importing the CRM stack or any PBX driver ----

class NotAllowed(DomainError):
    """The command is refused for this user; the message says why."""


class Reconnecting(DomainError):
    """The PBX link is down or being resynced; commands wait for it to come back."""


class DatabaseUnavailable(DomainError):
    """The CRM database cannot be reached or used; the message says which one and why."""


class PbxError(DomainError):
    """The PBX refused or failed a command; the message says what the PBX said."""


class Unsupported(PbxError):
    """The command is not available on this PBX (or not configured)."""


class NotConnected(PbxError):
    """There is no working connection to the PBX right now."""


class InvalidCredentials(DomainError):
    """A login failed. One message for an unknown login, a wrong password and a disabled account,
    so that a caller learns nothing about which logins exist."""

    def __init__(self) -> None:
        super().__init__("wrong login or password", field="password")


class SessionExpired(DomainError):
    """The login token is unknown, expired or revoked, or its account was disabled."""

    def __init__(self) -> None:
        super().__init__("your session has ended; log in again", field="token")
