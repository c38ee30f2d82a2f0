"""A gateway on the scripted simulator and a real SQLite CRM, for flow tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import T0
from tui_caa.clock import ManualClock
from tui_caa.crm import CrmStore
from tui_caa.domain import Customer, Phone, Seller, TrafficSource
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.gateway.session import LocalSession
from tui_caa.pbx.sim import SimScenario, SimulatorDriver
from tui_caa.phones import DialRules
from tui_caa.protocol.messages import GatewayMessage
from tui_caa.protocol.principal import Principal, Role

EXTENSIONS = ("1001", "1002", "1003", "1009")


@dataclass
class Rig:
    gateway: Gateway
    sim: SimulatorDriver
    clock: ManualClock
    store: CrmStore
    sessions: dict[str, LocalSession]
    supervisor: LocalSession

    async def settle(self, seconds: float = 0) -> None:
        """Lets the simulator, the gateway and the recorder catch up (virtual time only)."""
        await self.clock.advance(seconds)
        for _ in range(3):  # events -> lookups (real database I/O) -> pops
            for _ in range(20):
                await asyncio.sleep(0)
            await self.gateway.lookups_done()

    async def ring(self, extension: str, number: str, ddr: str | None = None) -> str:
        call_id = await self.sim.ring(extension, number, ddr=ddr)
        await self.settle()
        return call_id

    async def received(self, session: LocalSession) -> list[GatewayMessage]:
        await self.settle()
        return session._subscription.drain_nowait()

    async def recorded(self) -> None:
        await self.settle()
        await asyncio.wait_for(self.gateway.recorder.drained(), 5)


async def make_rig(store: CrmStore, tmp_path: Path, driver_class: type[SimulatorDriver] = SimulatorDriver) -> Rig:
    clock = ManualClock(T0)
    await store.save_traffic_source(TrafficSource(name="Jornal", ddr_raw="(51) 2101-0001"))
    await store.create_customer(Customer(name="Ana Souza", phones=[Phone(slot="celular", raw="(51) 98765-4321")]))
    sellers = {ext: await store.save_seller(Seller(name=f"Vendedor {ext}", extension=ext)) for ext in EXTENSIONS}
    sim = driver_class(SimScenario(extensions=EXTENSIONS, ddrs=("+555121010001",)), seed=1, clock=clock,
                       id_prefix="sim")
    gateway = Gateway(sim, store, Outbox(tmp_path / "outbox.sqlite3"), clock=clock,
                      dial_rules=DialRules(site_ddd="51"))
    await gateway.start()
    await asyncio.wait_for(gateway.wait_connected(), 5)
    sessions = {ext: LocalSession(gateway, Principal(Role.AGENT, ext, sellers[ext].name), seller=sellers[ext])
                for ext in EXTENSIONS[:3]}
    supervisor = LocalSession(gateway, Principal(Role.SUPERVISOR, "1009", sellers["1009"].name), seller=sellers["1009"])
    rig = Rig(gateway, sim, clock, store, sessions, supervisor)
    for session in (*sessions.values(), supervisor):
        await rig.received(session)  # the initial snapshots
    return rig


@pytest.fixture
async def rig(store: CrmStore, tmp_path: Path) -> AsyncIterator[Rig]:
    made = await make_rig(store, tmp_path)
    yield made
    await made.gateway.stop()
