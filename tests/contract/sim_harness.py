"""The contract harness of the built-in simulator: the driver *is* the PBX, so the harness acts on it
directly. Every other family's harness runs this same simulator behind its fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.contract.harness import EXTENSIONS
from tui_caa.domain.telephony import CallState
from tui_caa.pbx.base import NotConnected
from tui_caa.pbx.sim import SimScenario, SimulatorDriver

RECORDING = "rec-contract-0001"


class _Simulator(SimulatorDriver):
    """The simulator, which can also be off before it ever connected (the PBX down at start):
    `SimulatorDriver.drop_link` needs a link that was up once."""

    off = False

    async def connect(self) -> None:
        if self.off:
            raise NotConnected("the PBX is off (simulator harness)")
        await super().connect()


class SimulatorHarness:
    unseen_in_outage = ("the simulator replays nothing of an outage (SimulatorDriver.drop_link: no event reaches "
                        "the gateway while the link is down) and its snapshot() holds live calls only")

    def __init__(self, driver: _Simulator) -> None:
        self.driver = driver
        self.recording_ref = RECORDING

    async def ring(self, extension: str, number: str, ddr: str) -> None:
        await self.driver.ring(extension, number, ddr=ddr)

    async def pick_up(self, extension: str) -> None:
        await self.driver.answer(extension, self._call_at(extension, CallState.RINGING))

    async def remote_answer(self, extension: str) -> None:
        await self.driver.remote_answer(self._call_at(extension, CallState.DIALING))

    async def remote_hangup(self, extension: str) -> None:
        await self.driver.remote_hangup(self._call_at(extension))

    def ringing(self, extension: str) -> bool:
        return bool(self._calls_at(extension, CallState.RINGING))

    async def cut_link(self) -> None:
        if self.driver._started:  # test rig: connect() succeeded once
            await self.driver.drop_link("the simulated PBX link is cut (harness)")
        else:
            self.driver.off = True

    async def restore_link(self) -> None:
        if self.driver.off:
            self.driver.off = False
        else:
            await self.driver.restore_link()

    def _calls_at(self, extension: str, state: CallState | None = None) -> list[str]:
        """The simulator's own view, which needs no link (the harness acts during outages too)."""
        found = []
        for call_id in list(self.driver._calls):  # test rig: the simulator's bookkeeping is the truth
            view = self.driver.call(call_id)
            leg = view.legs.get(extension) if view is not None else None
            if leg is not None and (state is None or leg is state):
                found.append(call_id)
        return found

    def _call_at(self, extension: str, state: CallState | None = None) -> str:
        calls = self._calls_at(extension, state)
        if not calls:
            raise AssertionError(f"no {state.value + ' ' if state else ''}call at extension {extension} "
                                 "in the simulator")
        return calls[0]


def scenario() -> SimScenario:
    return SimScenario(extensions=EXTENSIONS, site_ddd="51", recordings=((RECORDING, 30.0),))


@asynccontextmanager
async def make(tmp_path: Path, *, connected: bool = True) -> AsyncIterator[SimulatorHarness]:
    driver = _Simulator(scenario(), id_prefix="contract-")
    if connected:
        await driver.connect()
    try:
        yield SimulatorHarness(driver)
    finally:
        await driver.close()
