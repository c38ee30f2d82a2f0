"""Asterisk (AMI) support: the protocol client, the AMI-to-domain mapping and the driver.

- `packets`: framing and parsing of AMI bytes, action encoding (no I/O).
- `client`: `AmiClient`, one asyncio TCP session with login, actions, lists, keep-alive and events.
- `mapping`: `AmiMapper`, AMI events to domain events (pure, no I/O): `model` (what it follows), `filter`
  (events dropped unparsed), `mapper` (calls and legs), `originates` (the driver's dials), `transfers`
  (hold, transfers, parking), `consultation` (Atxfer), `holds` (hold by park, unconfirmed holds),
  `states` (extension states), `resync` (calls under way after a connect).
- `driver`, `commands`: `AsteriskDriver`, resync, reconnect and every command over AMI actions.
- `errors`: the exceptions of the client.
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
