"""The errors of a console's link to its gateway, apart from the codec: the console's error
messages tell them apart without loading the wire format's models before its first frame."""

from __future__ import annotations

from tui_caa.domain.errors import DomainError


class WireError(DomainError):
    """A message or reply that is not what the protocol says (a bug or a foreign server)."""


class Unauthorized(DomainError):
    """No valid login: the token is missing, expired, revoked, or the account was disabled."""


class GatewayUnreachable(DomainError):
    """The console cannot reach its gateway: the command was not sent."""


class GatewayUnanswered(GatewayUnreachable):
    """The command was sent but no reply came: it may have been carried out (never re-sent)."""


class TooManyAttempts(DomainError):
    """Too many failed logins from this login or address: wait before trying again."""
