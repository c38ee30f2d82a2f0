"""The contract harness of Asterisk (see tests/contract/harness.py): the product's AsteriskDriver,
connected over TCP to `SimAmi`, a fake Asterisk 20 whose calls the built-in simulator makes.

The harness acts on SimAmi's simulator by extension, finding the call at that extension through
the simulator's `snapshot()`, the way people act on a PBX: a customer calls, a phone is lifted,
the far end answers or hangs up. The driver is built like a site that configured the atxfer
feature code and phones that obey remote-control NOTIFY for hold (the options that turn those
commands on); `make(tmp_path, **options)` takes other driver options. Cutting the link stops
SimAmi listening and resets its AMI sessions; the simulator's calls go on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tests.asterisk.sim_ami import SimAmi
from tui_caa.domain.telephony import CallState
from tui_caa.pbx.asterisk.driver import AsteriskDriver

SECRET = "contract-secret"
SITE_OPTIONS: dict[str, Any] = {"atxfer_enabled": True, "hold_method": "notify"}
TEST_OPTIONS: dict[str, Any] = {"ping_interval": 0, "action_timeout": 5.0, "connect_timeout": 5.0,
                                "reconnect_delay": 0.01, "reconnect_max_delay": 0.1}


class AsteriskHarness:
    unseen_in_outage = ("the Asterisk driver resyncs from AMI's live channels (CoreShowChannels) and reads no "
                        "CDR: a call that began and ended during the outage left no channel to see")

    def __init__(self, server: SimAmi, driver: AsteriskDriver) -> None:
        self.server = server
        self.driver = driver
        self.recording_ref = server.recording_ref

    async def ring(self, extension: str, number: str, ddr: str) -> None:
        await self.server.sim.ring(extension, number, ddr=ddr)

    async def pick_up(self, extension: str) -> None:
        await self.server.sim.answer(extension, await self._call_at(extension, CallState.RINGING))

    async def remote_answer(self, extension: str) -> None:
        await self.server.sim.remote_answer(await self._call_at(extension, CallState.DIALING))

    async def remote_hangup(self, extension: str) -> None:
        await self.server.sim.remote_hangup(await self._call_at(extension))

    def ringing(self, extension: str) -> bool:
        """What the phone on the desk shows: a channel of that phone in state Ringing."""
        return self.server.ringing(extension)

    async def cut_link(self) -> None:
        await self.server.stop_listening()

    async def restore_link(self) -> None:
        await self.server.listen()

    async def _call_at(self, extension: str, state: CallState | None = None) -> str:
        snapshot = await self.server.sim.snapshot()
        for call in snapshot.calls:
            if call.extension == extension and (state is None or call.state is state):
                return call.call_id
        raise AssertionError(f"no {state.value + ' ' if state else ''}call at extension {extension} in the "
                             f"simulator behind SimAmi: {snapshot.calls}")


@asynccontextmanager
async def make(tmp_path: Path, *, connected: bool = True, **options: Any) -> AsyncIterator[AsteriskHarness]:
    server = await SimAmi(secret=SECRET).start()
    try:
        driver = AsteriskDriver("127.0.0.1", server.port, "ctiuser", SecretStr(SECRET),
                                **{**SITE_OPTIONS, **TEST_OPTIONS, **options})
        if connected:
            await driver.connect()
        try:
            yield AsteriskHarness(server, driver)
        finally:
            await driver.close()
        if server.errors:
            raise AssertionError(f"SimAmi could not translate some simulator events: {server.errors}")
    finally:
        await server.stop()
