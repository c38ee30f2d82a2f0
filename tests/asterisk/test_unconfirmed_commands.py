"""Commands Asterisk accepts (`Response: Success`) that then do not happen: the driver finds out
from what follows and says so (`CommandFailed`), within `confirm_timeout_s` at the latest.

Reproduced with SimAmi, which answers and then behaves as a real Asterisk 20 does (see its
`_atxfer_not_carried_out`), and checked against what a successful Atxfer looks like in the live
session `e2_consult_cancel.ami` (no failure reported there)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.asterisk.sim_ami import SimAmi
from tests.asterisk.test_sim_ami import (
    CUSTOMER,
    DDR,
    Reader,
    answered_inbound,
    is_,
    make_driver,
    sim_call_at,
)
from tui_caa.clock import ManualClock
from tui_caa.crm import CrmStore
from tui_caa.domain.events import (
    CallAnswered,
    CallConsulting,
    CallEnded,
    CallHeld,
    CallResumed,
    CallRinging,
    CommandFailed,
    DriverResynced,
)
from tui_caa.domain.telephony import CallState, Capability, CommandFailure, Direction, Disposition
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.gateway.session import LocalSession
from tui_caa.pbx.asterisk.driver import AsteriskDriver
from tui_caa.protocol.messages import PbxUpdate
from tui_caa.protocol.principal import Principal, Role
from tui_caa.protocol.wire import decode_message, encode_message
from tui_caa.ui import i18n
from tui_caa.ui.errors import failure_notice
from tui_caa.ui.model import ConsoleModel

CONFIRM = 0.3  # seconds: short, the tests wait for events, never for this


@pytest.fixture
async def server() -> AsyncIterator[SimAmi]:
    async with SimAmi(secret="lab-secret") as srv:
        yield srv
        assert srv.errors == []


@pytest.fixture
async def driver(server: SimAmi) -> AsyncIterator[AsteriskDriver]:
    drv = make_driver(server, atxfer_enabled=True, hold_method="notify", confirm_timeout_s=CONFIRM)
    await drv.connect()
    yield drv
    await drv.close()


@pytest.fixture
async def site(driver: AsteriskDriver) -> AsyncIterator[Reader]:
    r = Reader(driver)
    await r.wait_for(lambda e: isinstance(e, DriverResynced))
    yield r
    r.stop()


async def back_with_the_customer(driver: AsteriskDriver, call_id: str) -> None:
    """The transferer is back in the customer's call (the simulator leaves it on hold there)."""
    async def back() -> bool:
        calls = [c for c in (await driver.snapshot()).calls if c.extension == "1001" and c.call_id == call_id]
        return bool(calls) and calls[0].state in (CallState.ACTIVE, CallState.HELD)

    for _ in range(300):
        if await back():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"1001 is not back in call {call_id}: {(await driver.snapshot()).calls}")


def failures(reader: Reader) -> list[CommandFailed]:
    return [e for e in reader.events if isinstance(e, CommandFailed)]


async def test_atxfer_to_an_extension_the_dialplan_lacks_is_reported(server: SimAmi, driver: AsteriskDriver,
                                                                     site: Reader) -> None:
    _, call_id = await answered_inbound(server, site)
    await driver.consult("1001", call_id, "1999")  # Asterisk: "Atxfer successfully queued"
    failed = await site.wait_for(lambda e: isinstance(e, CommandFailed))
    assert (failed.extension, failed.call_id, failed.command, failed.reason, failed.target) == (
        "1001", call_id, Capability.ATTENDED_TRANSFER, CommandFailure.TRANSFER_ABORTED, "1999")
    # what Asterisk showed: Hold then Unhold, no consultation; the call is the agent's as before
    assert [type(e) for e in site.calls("1001")][-2:] == [CallHeld, CallResumed]
    assert not [e for e in site.events if isinstance(e, CallConsulting)]
    events = [p.get("Event") for p in server.sent_packets()]
    assert "Hold" in events and "Unhold" in events and "LocalBridge" not in events


async def test_atxfer_whose_digits_went_to_the_customer_is_reported(server: SimAmi, driver: AsteriskDriver,
                                                                   site: Reader) -> None:
    server.atxfer_in_bridge = False  # the call was dialled without the T option
    _, call_id = await answered_inbound(server, site)
    await driver.consult("1001", call_id, "1002")
    failed = await site.wait_for(lambda e: isinstance(e, CommandFailed), timeout=CONFIRM + 3)
    assert (failed.reason, failed.target) == (CommandFailure.TRANSFER_NOT_STARTED, "1002")
    assert not [p for p in server.sent_packets() if p.get("Event") in ("Hold", "LocalBridge")]
    assert [p["Digit"] for p in server.sent_packets() if p.get("Event") == "DTMFEnd"] == list("*21002")


@pytest.mark.parametrize("registered, reason", [(True, CommandFailure.TARGET_BUSY),
                                                (False, CommandFailure.TARGET_UNAVAILABLE)])
async def test_atxfer_to_a_busy_or_absent_extension_is_reported(server: SimAmi, driver: AsteriskDriver, site: Reader,
                                                                registered: bool, reason: CommandFailure) -> None:
    if registered:  # 1003 is on another call
        await server.sim.ring("1003", "5133335555", ddr=DDR)
        await server.sim.answer("1003", await sim_call_at(server, "1003"))
        await site.wait_for(is_(CallAnswered, "1003"))
    else:
        await server.sim.set_registered("1003", False)
    _, call_id = await answered_inbound(server, site)
    await driver.consult("1001", call_id, "1003")
    failed = await site.wait_for(lambda e: isinstance(e, CommandFailed))
    assert (failed.extension, failed.call_id, failed.reason, failed.target) == ("1001", call_id, reason, "1003")
    await back_with_the_customer(driver, call_id)
    # the consulted phone's leg was an internal call from 1001, not a missed customer call
    consult = [e for e in site.calls("1003") if e.call_id != call_id and isinstance(e, CallEnded)]
    assert consult and all(e.direction is Direction.INTERNAL and e.number == "1001" for e in consult)


async def test_atxfer_the_target_does_not_answer_is_reported() -> None:
    async with SimAmi(secret="lab-secret", ring_timeout=0.3) as server:
        driver = make_driver(server, atxfer_enabled=True, confirm_timeout_s=CONFIRM)
        await driver.connect()
        site = Reader(driver)
        try:
            await site.wait_for(lambda e: isinstance(e, DriverResynced))
            _, call_id = await answered_inbound(server, site)
            await driver.consult("1001", call_id, "1002")
            ring = await site.wait_for(is_(CallRinging, "1002"))
            assert (ring.direction, ring.number, ring.ddr) == (Direction.INTERNAL, "1001", None)
            failed = await site.wait_for(lambda e: isinstance(e, CommandFailed))  # it rang out
            assert (failed.call_id, failed.reason, failed.target) == (call_id, CommandFailure.TARGET_NO_ANSWER, "1002")
            await back_with_the_customer(driver, call_id)
            rang = await site.wait_for(is_(CallEnded, "1002", call_id=ring.call_id))
            assert rang.direction is Direction.INTERNAL and rang.disposition is Disposition.NO_ANSWER
        finally:
            site.stop()
            await driver.close()
        assert server.errors == []


async def test_a_consultation_that_works_and_is_cancelled_reports_nothing(server: SimAmi, driver: AsteriskDriver,
                                                                         site: Reader) -> None:
    _, call_id = await answered_inbound(server, site)
    await driver.consult("1001", call_id, "1002")
    ring = await site.wait_for(is_(CallRinging, "1002"))
    await server.sim.answer("1002", await sim_call_at(server, "1002"))
    await site.wait_for(is_(CallAnswered, "1002", call_id=ring.call_id))
    await driver.cancel_transfer("1001", call_id)
    ended = await site.wait_for(is_(CallEnded, "1002", call_id=ring.call_id))
    assert ended.disposition is Disposition.ANSWERED and ended.recording_ref is None
    await site.wait_for(is_(CallResumed, "1001", call_id=call_id))
    await server.sim.remote_hangup(await sim_call_at(server, "1001"))
    await site.wait_for(is_(CallEnded, "1001", call_id=call_id))
    assert failures(site) == []
    assert CUSTOMER not in {e.number for e in site.calls("1002")}


async def test_the_agent_is_told_through_the_gateway_in_both_languages(server: SimAmi, store: CrmStore,
                                                                       tmp_path: Path) -> None:
    """Driver → gateway → the agent's session (and over the wire, as a remote console gets it) →
    the console's model → the sentence the console shows."""
    driver = make_driver(server, atxfer_enabled=True, confirm_timeout_s=CONFIRM)
    gateway = Gateway(driver, store, Outbox(tmp_path / "outbox.sqlite3"), clock=ManualClock(datetime.now(UTC)))
    await gateway.start()
    session = LocalSession(gateway, Principal(Role.AGENT, "1001", "Vendedor 1001"))
    model = ConsoleModel(extension="1001")
    try:
        await asyncio.wait_for(gateway.wait_connected(), 5)
        await server.sim.ring("1001", CUSTOMER, ddr=DDR)
        await server.sim.answer("1001", await sim_call_at(server, "1001"))

        changed = asyncio.Event()

        async def read() -> None:
            async for message in session.messages():
                if isinstance(message, PbxUpdate):
                    message = decode_message(encode_message(message))  # as a remote console gets it
                model.apply(message)
                changed.set()

        async def until(done: Callable[[], bool]) -> None:
            while not done():
                changed.clear()
                await changed.wait()

        reader = asyncio.create_task(read())
        await asyncio.wait_for(until(lambda: any(c.state is CallState.ACTIVE for c in model.my_calls())), 5)
        call_id = model.my_calls()[0].call_id
        await session.consult(call_id, "1999")
        await asyncio.wait_for(until(lambda: bool(model.failures)), 5)
        reader.cancel()
    finally:
        await session.close()
        await gateway.stop()
    (failed,) = model.failures
    assert (failed.call_id, failed.reason, failed.target) == (call_id, CommandFailure.TRANSFER_ABORTED, "1999")
    i18n.set_language("pt_BR")
    assert failure_notice(failed).startswith("A transferência para 1999 não foi concluída")
    i18n.set_language("en")
    assert failure_notice(failed).startswith("The transfer to 1999 did not happen")
    for reason in CommandFailure:  # every reason has its sentence in both languages
        for language in ("pt_BR", "en"):
            i18n.set_language(language)
            assert "{" not in failure_notice(replace(failed, reason=reason))
    i18n.set_language("pt_BR")


async def test_a_hold_the_phone_ignored_is_reported_as_not_confirmed(server: SimAmi, driver: AsteriskDriver,
                                                                     site: Reader) -> None:
    server.phones_ignoring_notify.add("1001")  # Asterisk sends the NOTIFY; the phone does nothing
    _, call_id = await answered_inbound(server, site)
    await driver.hold("1001", call_id)  # "NOTIFY sent": the command itself succeeded
    failed = await site.wait_for(lambda e: isinstance(e, CommandFailed), timeout=CONFIRM + 3)
    assert (failed.extension, failed.call_id, failed.command, failed.reason) == (
        "1001", call_id, Capability.HOLD, CommandFailure.HOLD_NOT_CONFIRMED)
    assert not [e for e in site.calls("1001") if isinstance(e, CallHeld)]
    assert [c.state for c in (await driver.snapshot()).calls if c.extension == "1001"] == [CallState.ACTIVE]


async def test_a_hold_the_phone_obeyed_is_not_reported_and_an_ignored_resume_is(server: SimAmi,
                                                                               driver: AsteriskDriver,
                                                                               site: Reader) -> None:
    _, call_id = await answered_inbound(server, site)
    await driver.hold("1001", call_id)
    await site.wait_for(is_(CallHeld, "1001", call_id=call_id))
    server.phones_ignoring_notify.add("1001")
    await driver.resume("1001", call_id)  # checked after the hold's own check: reports come in that order
    failed = await site.wait_for(lambda e: isinstance(e, CommandFailed), timeout=CONFIRM + 3)
    assert failed.reason is CommandFailure.RESUME_NOT_CONFIRMED
    assert failures(site) == [failed]  # the hold itself was confirmed by its Hold event
