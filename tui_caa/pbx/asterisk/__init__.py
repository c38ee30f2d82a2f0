"""Asterisk (AMI) support. This package holds the protocol client; the domain mapping lives elsewhere.

- `packets`: framing and parsing of AMI bytes, action encoding (no I/O).
- `client`: `AmiClient`, one asyncio TCP session with login, actions, lists, keep-alive and events.
- `errors`: the exceptions of both.
"""

from tui_caa.pbx.asterisk.client import AmiClient, ListResult
from tui_caa.pbx.asterisk.errors import (
    AmiActionError,
    AmiActionTimeout,
    AmiConnectError,
    AmiConnectionLost,
    AmiError,
    AmiLoginFailed,
    ProtocolError,
)
from tui_caa.pbx.asterisk.packets import Packet, PacketReader, encode_action

__all__ = [
    "AmiActionError", "AmiActionTimeout", "AmiClient", "AmiConnectError", "AmiConnectionLost", "AmiError",
    "AmiLoginFailed", "ListResult", "Packet", "PacketReader", "ProtocolError", "encode_action",
]
