"""Errors of the AMI protocol client. All are `PbxError`s, so the gateway can show their message as is."""

from __future__ import annotations

from tui_caa.pbx.base import NotConnected, PbxError


class ProtocolError(PbxError):
    """One packet could not be framed or parsed (garbage, oversized). The stream goes on after it."""


class AmiError(PbxError):
    """Base of the AMI client's errors."""


class AmiConnectError(AmiError, NotConnected):
    """The TCP connection (or the banner) to host:port could not be established."""


class AmiLoginFailed(AmiError):
    """Asterisk refused the login; the message is Asterisk's own (e.g. "Authentication failed")."""


class AmiConnectionLost(AmiError, NotConnected):
    """The connection ended (EOF, reset, unanswered Ping…); `reason` says why. Reconnecting is the caller's job."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AmiActionTimeout(AmiError, TimeoutError):
    """No response to an action within its timeout."""


class AmiActionError(AmiError):
    """Asterisk answered `Response: Error` to an action sent with `check=True` (or to `Command`)."""

    def __init__(self, message: str, response: object = None) -> None:
        super().__init__(message)
        self.response = response
