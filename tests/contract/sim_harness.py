"""The contract harness of the built-in simulator: the driver *is* the PBX, so the harness acts on it
directly. Every other family's harness runs this same simulator behind its fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.contract.harness import EXTENSIONS
from tui_caa.domain.telephony import CallState
from tui_caa.pbx.sim import SimScenario, SimulatorDriver

RECORDING = "rec-contract-0001"


class SimulatorHarness:
    def __init__(self, driver: SimulatorDriver) -> None:
        self.driver = driver
        self.recording_ref = RECORDING

    async def ring(self, extension: str, number: str, ddr: str) -> None:
        await self.driver.ring(extension, number, ddr=ddr)

    async def pick_up(self, extension: str) -> None:
        await self.driver.answer(extension, await self._call_at(extension, CallState.RINGING))

    async def remote_answer(self, extension: str) -> None:
        await self.driver.remote_answer(await self._call_at(extension, CallState.DIALING))

    async def remote_hangup(self, extension: str) -> None:
        await self.driver.remote_hangup(await self._call_at(extension))

    async def ringing(self, extension: str) -> bool:
        snapshot = await self.driver.snapshot()
        return any(call.extension == extension and call.state is CallState.RINGING for call in snapshot.calls)

    async def _call_at(self, extension: str, state: CallState | None = None) -> str:
        snapshot = await self.driver.snapshot()
        for call in snapshot.calls:
            if call.extension == extension and (state is None or call.state is state):
                return call.call_id
        raise AssertionError(f"no {state.value if state else ''} call at extension {extension}: {snapshot.calls}")


def scenario() -> SimScenario:
    return SimScenario(extensions=EXTENSIONS, site_ddd="51", recordings=((RECORDING, 30.0),))


@asynccontextmanager
async def make(tmp_path: Path) -> AsyncIterator[SimulatorHarness]:
    driver = SimulatorDriver(scenario(), id_prefix="contract-")
    await driver.connect()
    try:
        yield SimulatorHarness(driver)
    finally:
        await driver.close()
