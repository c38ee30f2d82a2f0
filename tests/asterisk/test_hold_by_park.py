"""Hold by park (`hold_method = "park"`): one call on hold and resumed with the same key, although
Asterisk parks the other party and hangs the agent's channel up.

- the live session `f_hold_resume_park.ami` (a real Asterisk 20): its bytes up to the hold are
  replayed to the driver; the driver's own `Park` is answered with the rest of the session, exactly
  what Asterisk sent then. The resume is not in that recording: it is reproduced with SimAmi,
  through the gateway and the CRM (one record: same id, DDR, recording).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.asterisk.fake_ami import FakeAmi, split_packets
from tests.asterisk.live import IDLE_LISTS, SITE, TEST_OPTIONS, empty_list, session_bytes
from tests.asterisk.sim_ami import SimAmi
from tests.asterisk.test_sim_ami import CUSTOMER, DDR, make_driver, sim_call_at
from tui_caa.clock import ManualClock
from tui_caa.crm import CrmStore
from tui_caa.domain import TrafficSource
from tui_caa.domain.events import CallAnswered, CallEnded, CallHeld, CallParked, CallTransferred, PbxEvent
from tui_caa.domain.telephony import CallState, Direction, Disposition
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.gateway.session import LocalSession
from tui_caa.pbx.asterisk.driver import AsteriskDriver
from tui_caa.pbx.asterisk.packets import Packet, PacketReader
from tui_caa.protocol.messages import LinkState
from tui_caa.protocol.principal import Principal, Role
from tui_caa.ui.model import ConsoleModel

F = "f_hold_resume_park.ami"
F_CALL = "1796316345.25"


def _session_split() -> tuple[bytes, bytes]:
    """The live session cut where Asterisk answered the driver's Park: (before, from ParkedCall on)."""
    raw = split_packets(session_bytes(F))
    cut = next(i for i, p in enumerate(raw) if p.startswith(b"Event: ParkedCall\r\n"))
    rest = [p for p in raw[cut:] if not p.startswith(b"Response: Goodbye")]
    return b"".join(raw[:cut]), b"".join(rest)


async def _events_until(stream: AsyncIterator[PbxEvent], seen: list[PbxEvent],
                        done: Callable[[PbxEvent], bool]) -> PbxEvent:
    async def read() -> PbxEvent:
        async for event in stream:
            seen.append(event)
            if done(event):
                return event
        raise AssertionError("the driver's events ended")
    return await asyncio.wait_for(read(), 5)


async def test_live_hold_by_park_keeps_the_call_on_hold_for_the_agent() -> None:
    before, after = _session_split()
    fake = await FakeAmi(secret="live").start()
    fake.list_replies = {action: empty_list(action, message) for action, message in IDLE_LISTS.items()}
    fake.replay, fake.replay_after = before, "CoreShowChannels"
    fake.responses.update({"Park": "Park successful", "Originate": "Originate successfully queued"})
    fake.followups["Park"] = lambda action: after  # what Asterisk sent after the driver's Park, as recorded
    driver = AsteriskDriver("127.0.0.1", fake.port, "ctiuser", SecretStr("live"), **{**SITE, **TEST_OPTIONS})
    seen: list[PbxEvent] = []
    try:
        await driver.connect()
        stream = driver.events()
        await _events_until(stream, seen, lambda e: isinstance(e, CallAnswered) and e.extension == "1001")
        await driver.hold("1001", F_CALL)
        park = next(a for a in fake.actions if a.get("Action") == "Park")
        assert park["Channel"].startswith("PJSIP/pstn-") and park["TimeoutChannel"].startswith("PJSIP/1001-")
        held = await _events_until(stream, seen, lambda e: isinstance(e, CallHeld))
        assert (held.extension, held.call_id, held.direction, held.number, held.ddr) == (
            "1001", F_CALL, Direction.INBOUND, CUSTOMER, "5121010001")
        # the agent's channel hung up (as recorded): the call is still the agent's, on hold
        assert any(p.get("Event") == "Hangup" and p.get("Channel", "").startswith("PJSIP/1001-")
                   for p in fake_packets(after))
        (call,) = [c for c in (await driver.snapshot()).calls if c.extension == "1001"]
        assert (call.call_id, call.state, call.ddr) == (F_CALL, CallState.HELD, "5121010001")
        assert not [e for e in seen if isinstance(e, CallEnded | CallParked | CallTransferred)]
        # the same key resumes it: the agent's phone is called into the slot Asterisk reported
        await driver.resume("1001", F_CALL)
        resume = next(a for a in fake.actions if a.get("Action") == "Originate")
        assert (resume["Channel"], resume["Context"], resume["Exten"]) == ("PJSIP/1001", "parkedcalls", "701")
    finally:
        await driver.close()
        await fake.stop()


def fake_packets(data: bytes) -> list[Packet]:
    return PacketReader(expect_banner=False).feed(data)


async def _wait(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met")


@pytest.mark.parametrize("reconnect_while_held", [False, True])
async def test_hold_and_resume_by_park_is_one_call_in_the_crm(store: CrmStore, tmp_path: Path,
                                                               reconnect_while_held: bool) -> None:
    await store.save_traffic_source(TrafficSource(name="Jornal", ddr_raw="(51) 2101-0001"))
    async with SimAmi(secret="lab-secret") as server:
        driver = make_driver(server, hold_method="park")
        gateway = Gateway(driver, store, Outbox(tmp_path / "outbox.sqlite3"), clock=ManualClock(datetime.now(UTC)))
        await gateway.start()
        session = LocalSession(gateway, Principal(Role.AGENT, "1001", "Vendedor 1001"))
        model = ConsoleModel(extension="1001")
        changed = asyncio.Event()

        async def read() -> None:
            async for message in session.messages():
                model.apply(message)
                changed.set()

        async def until(done: Callable[[], bool]) -> None:
            async def wait() -> None:
                while not done():
                    changed.clear()
                    await changed.wait()
            await asyncio.wait_for(wait(), 5)

        def state() -> CallState | None:
            calls = model.my_calls()
            return calls[0].state if calls else None

        reader = asyncio.create_task(read())
        try:
            await asyncio.wait_for(gateway.wait_connected(), 5)
            await server.sim.ring("1001", CUSTOMER, ddr=DDR)
            await server.sim.answer("1001", await sim_call_at(server, "1001"))
            await until(lambda: state() is CallState.ACTIVE)
            (call,) = model.my_calls()
            assert call.traffic_source is not None and call.traffic_source.name == "Jornal"
            await session.hold(call.call_id)
            await until(lambda: state() is CallState.HELD)  # the console still shows the call
            if reconnect_while_held:  # the AMI link drops and comes back while the customer waits in the slot
                await server.stop_listening()
                await _wait(lambda: gateway.link is not LinkState.CONNECTED)
                await server.listen()
                await asyncio.wait_for(gateway.wait_connected(), 5)
                await until(lambda: state() is CallState.HELD)
            await session.resume(call.call_id)  # the same key, the same call
            await until(lambda: state() is CallState.ACTIVE)
            assert [c.call_id for c in model.my_calls()] == [call.call_id]
            await server.sim.remote_hangup(await sim_call_at(server, "1001"))
            await until(lambda: not model.my_calls())
            await _wait(lambda: not gateway.state.calls)
            await asyncio.wait_for(gateway.recorder.drained(), 5)
        finally:
            reader.cancel()
            await session.close()
            await gateway.stop()
    rows = (await store.call_history("1001")).rows
    assert len(rows) == 1, rows  # one call, not a "transferred" one and a new one
    rec = rows[0].call
    assert (rec.pbx_call_id, rec.direction, rec.remote_raw, rec.ddr_raw, rec.disposition) == (
        call.call_id, Direction.INBOUND, CUSTOMER, DDR, Disposition.ANSWERED)
    assert rec.recording_ref is not None and not rec.missed
    assert rec.answered_at is not None and rec.answered_at <= rec.ended_at  # type: ignore[operator]
