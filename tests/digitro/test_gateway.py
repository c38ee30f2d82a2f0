"""The gateway on the Dígitro driver and the fake Dígitro API: the link shown down, reconnected and
resynced, and every call recorded once, whatever the PBX link does."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.digitro.conftest import until
from tests.digitro.fake_digitro import FakeDigitro
from tests.digitro.harness import make_driver
from tui_caa.crm import CrmStore
from tui_caa.domain.telephony import CallState, Direction, Disposition
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.phones import DialRules
from tui_caa.protocol.messages import LinkState

CUSTOMER, DDR = "51999887766", "5121010005"


def gateway_on(fake: FakeDigitro, store: CrmStore, tmp_path: Path) -> Gateway:
    return Gateway(make_driver(fake), store, Outbox(tmp_path / "outbox.sqlite3"), dial_rules=DialRules(site_ddd="51"),
                   backoff=(0.02, 0.2))


async def records(gateway: Gateway, store: CrmStore, extension: str) -> list:
    await asyncio.wait_for(gateway.recorder.drained(), 5)
    return [row.call for row in (await store.call_history(extension)).rows]


async def test_pbx_down_at_start_is_shown_then_connects(fake: FakeDigitro, store: CrmStore, tmp_path: Path) -> None:
    port, ecr_port = fake.port, fake.ecr_port
    await fake.stop_listening()
    gateway = gateway_on(fake, store, tmp_path)
    await gateway.start()
    try:
        await until(lambda: gateway.link is LinkState.DOWN and "127.0.0.1" in gateway.link_reason, "link down")
        await fake.start(port, ecr_port)
        await asyncio.wait_for(gateway.wait_connected(), 5)
        assert gateway.link is LinkState.CONNECTED
    finally:
        await gateway.stop()


async def test_a_call_that_ends_while_the_link_is_down_is_recorded_once(fake: FakeDigitro, store: CrmStore,
                                                                        tmp_path: Path) -> None:
    gateway = gateway_on(fake, store, tmp_path)
    await gateway.start()
    try:
        await asyncio.wait_for(gateway.wait_connected(), 5)
        sim_id = await fake.sim.ring("1001", CUSTOMER, ddr=DDR)
        call_id = fake.digitro_id(sim_id)
        await until(lambda: any(c.call_id == call_id for c in gateway.state.calls.values()), "the call in the gateway")
        await gateway.driver.answer("1001", call_id)
        await until(lambda: any(c.state is CallState.ACTIVE for c in gateway.state.calls.values()), "answered")
        await fake.stop_listening()  # the PBX link is lost mid-call …
        await until(lambda: gateway.link is not LinkState.CONNECTED, "the link shown down")
        await fake.sim.remote_hangup(sim_id)  # … and the customer hangs up meanwhile
        await fake.start(fake.port, fake.ecr_port)
        await asyncio.wait_for(gateway.wait_connected(), 5)
        [record] = await records(gateway, store, "1001")
        assert (record.pbx_call_id, record.direction, record.ddr_raw, record.missed) == (
            call_id, Direction.INBOUND, DDR, False)
        # a later call is recorded normally, and the first one is not recorded again
        sim_id = await fake.sim.ring("1001", CUSTOMER, ddr=DDR)
        await until(lambda: any(c.call_id == fake.digitro_id(sim_id) for c in gateway.state.calls.values()),
                    "the second call in the gateway")
        await fake.sim.remote_hangup(sim_id)
        await until(lambda: not gateway.state.calls, "no call under way")
        rows = await records(gateway, store, "1001")
        assert sorted(r.pbx_call_id for r in rows) == sorted([call_id, fake.digitro_id(sim_id)])
        missed = next(r for r in rows if r.pbx_call_id == fake.digitro_id(sim_id))
        assert missed.missed and missed.disposition is Disposition.ABANDONED and missed.ddr_raw == DDR
    finally:
        await gateway.stop()
