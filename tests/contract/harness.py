"""What the driver contract suite needs from each PBX family's test rig.

A harness is a connected driver plus a hand on the PBX behind it: each family's fake server
(`tests/<family>/`) runs the built-in simulator, so calls really happen, and speaks the vendor's
protocol to the driver over real sockets. The harness acts on the PBX the way people do: a customer
calls, an agent lifts the handset, the far end answers or hangs up. It acts by extension, so the
suite never needs to know how the vendor numbers its calls.

Every harness has the extensions 1001, 1002 and 1003 registered, and `recording_ref` names a
recording the PBX can play.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from tui_caa.pbx.base import PbxDriver

EXTENSIONS = ("1001", "1002", "1003")


class Harness(Protocol):
    driver: PbxDriver  # connected; nobody has read its events() yet
    recording_ref: str

    async def ring(self, extension: str, number: str, ddr: str) -> None:
        """A customer at `number` dials the DDR `ddr`, and the PBX rings `extension`."""

    async def pick_up(self, extension: str) -> None:
        """The agent lifts the handset of the ringing `extension` (for PBXs that cannot answer by API)."""

    async def remote_answer(self, extension: str) -> None:
        """The far party of the call that `extension` is placing answers."""

    async def remote_hangup(self, extension: str) -> None:
        """The far party of `extension`'s call hangs up (a caller still ringing gives up)."""

    def ringing(self, extension: str) -> bool | Awaitable[bool]:
        """Whether the PBX is ringing `extension` right now (what the phone on the desk shows);
        a coroutine function is fine too."""


#: a family's rig: `async with make(tmp_path) as harness: …`
HarnessFactory = Callable[[Path], AbstractAsyncContextManager[Harness]]
HarnessIterator = AsyncIterator[Harness]
