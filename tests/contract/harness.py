"""What the driver contract suite needs from each PBX family's test rig.

A harness is a connected driver plus a hand on the PBX behind it: each family's fake server
(`tests/<family>/`) runs the built-in simulator, so calls really happen, and speaks the vendor's
protocol to the driver over real sockets. The harness acts on the PBX the way people do: a customer
calls, an agent lifts the handset, the far end answers or hangs up. It acts by extension, so the
suite never needs to know how the vendor numbers its calls.

Every harness has the extensions 1001, 1002 and 1003 registered, and `recording_ref` names a
recording the PBX can play.

A harness can also cut the link between the driver and the PBX (`cut_link`: the vendor server stops
listening and drops its connections, while the PBX itself goes on ringing and ending calls) and
restore it (`restore_link`: the server listens again on the same port). `make(tmp_path,
connected=False)` yields the rig with the driver never connected, for "the PBX is down when the
gateway starts": cut the link, hand the driver to a gateway, restore the link.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from tui_caa.pbx.base import PbxDriver

EXTENSIONS = ("1001", "1002", "1003")


class Harness(Protocol):
    driver: PbxDriver  # connected (unless made with connected=False); nobody has read its events() yet
    recording_ref: str
    #: why a call that starts and ends while the link is down can never be known to the driver (the
    #: family's limit), or None when the driver learns it once the link is back (a CDR, tickets…)
    unseen_in_outage: str | None

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

    async def cut_link(self) -> None:
        """The PBX becomes unreachable from the driver: its server stops listening and drops every
        open connection. The PBX's calls go on (`ring`, `pick_up`, `remote_hangup` still work)."""

    async def restore_link(self) -> None:
        """The PBX's server listens again, on the same port; the driver reconnects by itself."""


class HarnessFactory(Protocol):
    """A family's rig: `async with make(tmp_path) as harness: …` (`connected=False`: the driver is
    built but not connected)."""

    def __call__(self, tmp_path: Path, *, connected: bool = True) -> AbstractAsyncContextManager[Harness]: ...


HarnessIterator = AsyncIterator[Harness]
