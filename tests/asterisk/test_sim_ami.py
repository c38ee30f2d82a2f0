"""The product's AsteriskDriver against SimAmi: a fake Asterisk 20 whose calls the simulator makes.

Each test drives the simulator (a customer calls, a phone answers, the far end hangs up) or the
driver (click-to-call, transfer), and checks what the driver reports over a real TCP AMI session.
The last tests feed the very AMI bytes SimAmi sent through a fresh AmiMapper and compare its
domain events with the ones the simulator emitted itself: the AMI translation loses nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr

from tests.asterisk.sim_ami import EXTENSIONS, SimAmi
from tui_caa.domain.events import (
    CallAnswered,
    CallConsulting,
    CallDialing,
    CallEnded,
    CallEvent,
    CallHeld,
    CallParked,
    CallResumed,
    CallRinging,
    CallTransferred,
    DriverConnected,
    DriverResynced,
    ExtensionStateChanged,
    PbxEvent,
)
from tui_caa.domain.telephony import CallState, Capability, Direction, Disposition, ExtensionState
from tui_caa.pbx.asterisk import AmiLoginFailed
from tui_caa.pbx.asterisk.driver import AsteriskDriver
from tui_caa.pbx.asterisk.mapping import AmiMapper
from tui_caa.pbx.asterisk.packets import Packet, PacketReader
from tui_caa.pbx.base import PbxError

SECRET = "lab-secret"
CUSTOMER = "5133334444"
DDR = "5121010001"


def make_driver(server: SimAmi, secret: str = SECRET, **options) -> AsteriskDriver:
    options.update(ping_interval=0, action_timeout=2.0, connect_timeout=2.0, reconnect_delay=0.01,
                   reconnect_max_delay=0.05)
    return AsteriskDriver("127.0.0.1", server.port, "ctiuser", SecretStr(secret), **options)


@pytest.fixture
async def server() -> AsyncIterator[SimAmi]:
    async with SimAmi(secret=SECRET) as srv:
        yield srv
        assert srv.errors == []


@pytest.fixture
async def driver(server: SimAmi) -> AsyncIterator[AsteriskDriver]:
    drv = make_driver(server)
    await drv.connect()
    yield drv
    await drv.close()


class Reader:
    """The driver's events, read in the background, waited for by condition (never by sleeping)."""

    def __init__(self, driver: AsteriskDriver) -> None:
        self.events: list[PbxEvent] = []
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read(driver))

    async def _read(self, driver: AsteriskDriver) -> None:
        async for event in driver.events():
            self.events.append(event)
            self._changed.set()

    async def wait_for(self, predicate: Callable[[PbxEvent], bool], timeout: float = 3.0) -> PbxEvent:
        async def scan() -> PbxEvent:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(scan(), timeout)

    def calls(self, extension: str) -> list[CallEvent]:
        return [e for e in self.events if isinstance(e, CallEvent) and e.extension == extension]

    def stop(self) -> None:
        self._task.cancel()


@pytest.fixture
async def reader(driver: AsteriskDriver) -> AsyncIterator[Reader]:
    r = Reader(driver)
    await r.wait_for(lambda e: isinstance(e, DriverResynced))
    yield r
    r.stop()


def is_(cls: type, extension: str, **fields) -> Callable[[PbxEvent], bool]:
    return lambda e: isinstance(e, cls) and e.extension == extension and all(
        getattr(e, k) == v for k, v in fields.items())


async def sim_call_at(server: SimAmi, extension: str) -> str:
    snapshot = await server.sim.snapshot()
    return next(c.call_id for c in snapshot.calls if c.extension == extension)


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)
    await asyncio.wait_for(poll(), timeout)


# ---- the session --------------------------------------------------------------------------------

async def test_login_plain_and_md5_and_wrong_secret(server: SimAmi) -> None:
    for use_md5 in (False, True):
        drv = make_driver(server, use_md5=use_md5)
        await drv.connect()
        snapshot = await drv.snapshot()
        assert {ext: snapshot.extensions.get(ext) for ext in EXTENSIONS} == dict.fromkeys(EXTENSIONS,
                                                                                          ExtensionState.IDLE)
        await drv.close()
    assert [a.get("AuthType", "plain") for a in server.actions if a.get("Action") == "Login"] == ["plain", "MD5"]
    with pytest.raises(AmiLoginFailed, match="Authentication failed"):
        await make_driver(server, secret="wrong").connect()


async def test_driver_connects_and_resyncs_from_the_simulator(server: SimAmi) -> None:
    call_id = await server.sim.ring("1002", CUSTOMER, ddr=DDR)
    await server.sim.answer("1002", call_id)
    drv = make_driver(server)
    await drv.connect()
    try:
        snapshot = await drv.snapshot()
        assert snapshot.extensions["1002"] is ExtensionState.IN_CALL
        (call,) = snapshot.calls
        assert (call.extension, call.direction, call.state, call.number) == (
            "1002", Direction.INBOUND, CallState.ACTIVE, CUSTOMER)
        asked = [a.get("Action") for a in server.actions]
        assert "CoreShowChannels" in asked and "DeviceStateList" in asked
    finally:
        await drv.close()


async def test_raw_session_reply_comes_before_the_events_it_causes(server: SimAmi) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    parser = PacketReader()
    received: list[Packet] = []

    async def until_packet(predicate: Callable[[Packet], bool]) -> Packet:
        async def read() -> Packet:
            while True:
                for p in received:
                    if predicate(p):
                        return p
                received.extend(parser.feed(await reader.read(65536)))
        return await asyncio.wait_for(read(), 3.0)

    try:
        writer.write(b"Action: FooBar\r\nActionID: a0\r\n\r\n")
        refused = await until_packet(lambda p: p.get("ActionID") == "a0")
        assert (parser.banner, refused["Message"]) == ("Asterisk Call Manager/9.0.0", "Authentication Required")
        writer.write(b"Action: Challenge\r\nActionID: a1\r\nAuthType: MD5\r\n\r\n")
        challenge = (await until_packet(lambda p: p.get("ActionID") == "a1"))["Challenge"]
        key = hashlib.md5((challenge + SECRET).encode()).hexdigest()
        writer.write(f"Action: Login\r\nActionID: a2\r\nAuthType: MD5\r\nUsername: ctiuser\r\nKey: {key}\r\n"
                     "Events: on\r\n\r\n".encode())
        await until_packet(lambda p: p.get("Event") == "FullyBooted")
        assert [p.get("Message") for p in received if p.get("ActionID") == "a2"] == ["Authentication accepted"]
        writer.write(b"Action: Ping\r\nActionID: a3\r\n\r\n")
        assert (await until_packet(lambda p: p.get("ActionID") == "a3"))["Ping"] == "Pong"
        writer.write(b"Action: Originate\r\nActionID: a4\r\nChannel: PJSIP/1001\r\nContext: from-internal\r\n"
                     b"Exten: 5199998888\r\nPriority: 1\r\nAsync: true\r\nChannelId: c2c-1\r\n\r\n")
        await until_packet(lambda p: p.get("Event") == "OriginateResponse")
        reply = next(i for i, p in enumerate(received) if p.get("ActionID") == "a4")
        reply_and_after = received[reply:reply + 3]
        assert [p.get("Response") or p.get("Event") for p in reply_and_after] == ["Success", "Newchannel", "DialBegin"]
        assert reply_and_after[0]["Message"] == "Originate successfully queued"
        assert reply_and_after[1]["Uniqueid"] == reply_and_after[1]["Linkedid"] == "c2c-1"  # the ChannelId
        writer.write(b"Action: Logoff\r\nActionID: a5\r\n\r\n")
        goodbye = await until_packet(lambda p: p.get("ActionID") == "a5")
        assert (goodbye["Response"], goodbye["Message"]) == ("Goodbye", "Thanks for all the fish.")
        assert await asyncio.wait_for(reader.read(), 3.0) == b""  # Asterisk closes after Goodbye
    finally:
        writer.close()


# ---- calls ---------------------------------------------------------------------------------------

async def test_inbound_answered_then_customer_hangs_up(server: SimAmi, driver: AsteriskDriver,
                                                       reader: Reader) -> None:
    call_id = await server.sim.ring("1001", CUSTOMER, ddr=DDR, caller_name="João Conceição")
    ringing = await reader.wait_for(is_(CallRinging, "1001"))
    assert (ringing.direction, ringing.number, ringing.ddr) == (Direction.INBOUND, CUSTOMER, DDR)
    assert ringing.caller_name == "João Conceição"
    assert server.ringing("1001")
    trunk = next(c for c in server.channels() if c.name.startswith("PJSIP/trunk-"))
    assert (trunk.context, trunk.exten, trunk.did) == ("from-trunk", DDR, DDR)
    await reader.wait_for(is_(ExtensionStateChanged, "1001", state=ExtensionState.RINGING))

    await server.sim.answer("1001", call_id)
    answered = await reader.wait_for(is_(CallAnswered, "1001"))
    assert answered.call_id == ringing.call_id and answered.ddr == DDR
    await reader.wait_for(is_(ExtensionStateChanged, "1001", state=ExtensionState.IN_CALL))
    snapshot = await driver.snapshot()
    assert [(c.extension, c.state) for c in snapshot.calls] == [("1001", CallState.ACTIVE)]

    recording = server.sim.call(call_id).recording_ref
    await server.sim.remote_hangup(call_id)
    ended = await reader.wait_for(is_(CallEnded, "1001"))
    assert (ended.disposition, ended.number, ended.ddr, ended.recording_ref) == (
        Disposition.ANSWERED, CUSTOMER, DDR, recording)
    await reader.wait_for(is_(ExtensionStateChanged, "1001", state=ExtensionState.IDLE))
    assert server.channels() == []
    assert (await driver.snapshot()).calls == ()


async def test_inbound_missed_caller_gives_up(server: SimAmi, driver: AsteriskDriver, reader: Reader) -> None:
    call_id = await server.sim.ring("1002", CUSTOMER, ddr=DDR)
    await reader.wait_for(is_(CallRinging, "1002", ddr=DDR, number=CUSTOMER))
    await server.sim.remote_hangup(call_id)
    ended = await reader.wait_for(is_(CallEnded, "1002"))
    assert (ended.disposition, ended.direction, ended.ddr) == (Disposition.ABANDONED, Direction.INBOUND, DDR)
    assert not server.ringing("1002")
    # as Asterisk reports a CANCELled inbound call (ami-inbound-missed.txt)
    packets = server.sent_packets()
    assert [p["DialStatus"] for p in packets if p.get("Event") == "DialEnd"] == ["CANCEL"]
    assert {p["Cause"] for p in packets if p.get("Event") == "Hangup"} == {"127"}


async def test_extension_refuses_a_ringing_call(server: SimAmi, driver: AsteriskDriver, reader: Reader) -> None:
    call_id = await server.sim.ring("1003", CUSTOMER, ddr=DDR)
    await reader.wait_for(is_(CallRinging, "1003"))
    await server.sim.hangup("1003", call_id)  # the seller presses "reject"
    ended = await reader.wait_for(is_(CallEnded, "1003"))
    assert ended.disposition is Disposition.BUSY


async def test_click_to_call_through_driver_dial(server: SimAmi, driver: AsteriskDriver, reader: Reader) -> None:
    call_id = await driver.dial("1001", "5199998888")
    originate = next(a for a in server.actions if a.get("Action") == "Originate")
    assert (originate["Channel"], originate["Exten"], originate["ChannelId"]) == ("PJSIP/1001", "5199998888", call_id)
    dialing = await reader.wait_for(is_(CallDialing, "1001"))
    assert (dialing.call_id, dialing.direction, dialing.number) == (call_id, Direction.OUTBOUND, "5199998888")
    phone = server.channel_of("1001")
    assert phone is not None and phone.uniqueid == phone.linkedid == call_id
    responses = [p for p in server.sent_packets() if p.get("Event") == "OriginateResponse"]
    assert [(p["Response"], p["Reason"], p["ActionID"]) for p in responses] == [
        ("Success", "4", originate["ActionID"])]

    sim_id = await sim_call_at(server, "1001")
    await server.sim.remote_answer(sim_id)
    await reader.wait_for(is_(CallAnswered, "1001", call_id=call_id))
    await driver.hangup("1001", call_id)
    ended = await reader.wait_for(is_(CallEnded, "1001"))
    assert ended.disposition is Disposition.ANSWERED
    assert server.sim.call(sim_id) is None
    assert [p["Channel"] for p in server.sent_packets() if p.get("Event") == "HangupRequest"] == [phone.name]


async def test_click_to_call_to_a_busy_phone_fails_cleanly(server: SimAmi, driver: AsteriskDriver,
                                                           reader: Reader) -> None:
    sim_id = await server.sim.ring("1002", CUSTOMER, ddr=DDR)
    await server.sim.answer("1002", sim_id)
    call_id = await driver.dial("1002", "5199998888")  # Async: queued, then OriginateResponse Failure
    await until(lambda: any(p.get("Event") == "OriginateResponse" for p in server.sent_packets()))
    failure = next(p for p in server.sent_packets() if p.get("Event") == "OriginateResponse")
    assert (failure["Response"], failure["Reason"], failure["Uniqueid"]) == ("Failure", "5", call_id)
    ended = await reader.wait_for(is_(CallEnded, "1002", call_id=call_id))
    assert ended.disposition is Disposition.BUSY
    assert server.sim.call(sim_id) is not None  # the call under way is untouched


async def test_internal_call_between_two_extensions(server: SimAmi, driver: AsteriskDriver,
                                                    reader: Reader) -> None:
    call_id = await driver.dial("1001", "1002")
    ringing = await reader.wait_for(is_(CallRinging, "1002"))
    assert ringing.call_id == call_id  # one Linkedid for the call, its consultation and the transfer
    await reader.wait_for(is_(CallDialing, "1001", direction=Direction.INTERNAL, number="1002"))
    await server.sim.answer("1002", await sim_call_at(server, "1002"))
    await reader.wait_for(is_(CallAnswered, "1002"))
    await reader.wait_for(is_(CallAnswered, "1001"))
    await driver.hangup("1002", call_id)
    assert (await reader.wait_for(is_(CallEnded, "1001"))).disposition is Disposition.ANSWERED
    assert (await reader.wait_for(is_(CallEnded, "1002"))).disposition is Disposition.ANSWERED


async def test_blind_transfer_of_an_inbound_call(server: SimAmi, driver: AsteriskDriver, reader: Reader) -> None:
    sim_id = await server.sim.ring("1001", CUSTOMER, ddr=DDR)
    ringing = await reader.wait_for(is_(CallRinging, "1001"))
    await server.sim.answer("1001", sim_id)
    await reader.wait_for(is_(CallAnswered, "1001"))

    await driver.blind_transfer("1001", ringing.call_id, "1003")
    transferred = await reader.wait_for(is_(CallTransferred, "1001"))
    assert (transferred.target, transferred.attended) == ("1003", False)
    target = await reader.wait_for(is_(CallRinging, "1003"))
    assert (target.call_id, target.direction, target.number, target.ddr) == (
        ringing.call_id, Direction.INBOUND, CUSTOMER, DDR)
    await server.sim.answer("1003", sim_id)
    await reader.wait_for(is_(CallAnswered, "1003"))
    await server.sim.remote_hangup(sim_id)
    assert (await reader.wait_for(is_(CallEnded, "1003"))).disposition is Disposition.ANSWERED
    assert not [e for e in reader.calls("1001") if isinstance(e, CallEnded)]  # 1001 left by the transfer
    blind = [p for p in server.sent_packets() if p.get("Event") == "BlindTransfer"]
    assert [(p["TransfererChannel"].startswith("PJSIP/1001-"), p["Extension"]) for p in blind] == [(True, "1003")]


async def test_blind_transfer_falls_back_to_redirect(server: SimAmi, driver: AsteriskDriver,
                                                     reader: Reader) -> None:
    server.refuse["BlindTransfer"] = "Invalid/unknown command: BlindTransfer. Use Action: ListCommands to show " \
                                     "available commands."  # an Asterisk 11
    sim_id = await server.sim.ring("1001", CUSTOMER, ddr=DDR)
    ringing = await reader.wait_for(is_(CallRinging, "1001"))
    await server.sim.answer("1001", sim_id)
    await reader.wait_for(is_(CallAnswered, "1001"))
    await driver.blind_transfer("1001", ringing.call_id, "1002")
    await reader.wait_for(is_(CallRinging, "1002", call_id=ringing.call_id, number=CUSTOMER))
    await reader.wait_for(is_(CallTransferred, "1001", target="1002"))
    assert [a["Action"] for a in server.actions if a["Action"] in ("BlindTransfer", "Redirect", "Hangup")] == [
        "BlindTransfer", "Redirect", "Hangup"]
    assert server.channel_of("1001") is None


async def test_commands_refused_with_asterisks_words(server: SimAmi, driver: AsteriskDriver,
                                                     reader: Reader) -> None:
    with pytest.raises(PbxError, match="not under way"):
        await driver.hangup("1001", "1795646870.0")
    reply = await driver._client.send_action("Hangup", Channel="PJSIP/1001-00000099")
    assert (reply["Response"], reply["Message"]) == ("Error", "No such channel")
    reply = await driver._client.send_action("FooBar")
    assert reply["Message"].startswith("Invalid/unknown command: FooBar.")


# ---- the same AMI bytes through a fresh mapper ----------------------------------------------------

# Asterisk has no DIALING device state (a phone calling out is INUSE), and the holder of a call stays
# INUSE: what the simulator's own states look like through Asterisk's vocabulary
_AS_ASTERISK = {ExtensionState.DIALING: ExtensionState.IN_CALL}


def _comparable(events: list[PbxEvent], extension: str, call_ids: dict[str, str] | None = None) -> list[tuple]:
    rows: list[tuple] = []
    last_state = None
    ids: dict[str, int] = {}
    for e in events:
        if e.extension != extension:
            continue
        if isinstance(e, ExtensionStateChanged):
            state = _AS_ASTERISK.get(e.state, e.state)
            if state is not last_state:
                rows.append(("state", state))
            last_state = state
        elif isinstance(e, CallEvent):
            call = ids.setdefault(e.call_id or "", len(ids))  # ids differ (sim-… vs Linkedid): compare shapes
            rows.append((type(e).__name__, call, e.direction, e.number, e.ddr, getattr(e, "disposition", None),
                         getattr(e, "recording_ref", None), getattr(e, "target", None)))
    return rows


def _mapped(server: SimAmi) -> list[PbxEvent]:
    mapper = AmiMapper()
    return [e for p in server.sent_packets() for e in mapper.feed(p)]


async def _story_inbound_answered(server: SimAmi, driver: AsteriskDriver) -> None:
    call_id = await server.sim.ring("1001", CUSTOMER, ddr=DDR)
    await server.sim.answer("1001", call_id)
    await server.sim.remote_hangup(call_id)


async def _story_inbound_missed(server: SimAmi, driver: AsteriskDriver) -> None:
    call_id = await server.sim.ring("1001", CUSTOMER, ddr=DDR)
    await server.sim.remote_hangup(call_id)


async def _story_declined(server: SimAmi, driver: AsteriskDriver) -> None:
    call_id = await server.sim.ring("1003", CUSTOMER, ddr=DDR)
    await server.sim.hangup("1003", call_id)


async def _story_click_to_call(server: SimAmi, driver: AsteriskDriver) -> None:
    call_id = await driver.dial("1001", "5199998888")
    await until(lambda: server.channel_of("1001") is not None)
    sim_id = await sim_call_at(server, "1001")
    await server.sim.remote_answer(sim_id)
    await driver.hangup("1001", await _when_known(driver, "1001", call_id))


async def _story_blind_transfer(server: SimAmi, driver: AsteriskDriver) -> None:
    sim_id = await server.sim.ring("1001", CUSTOMER, ddr=DDR)
    await server.sim.answer("1001", sim_id)
    linkedid = server.channel_of("1001").linkedid
    await driver.blind_transfer("1001", await _when_known(driver, "1001", linkedid), "1002")
    await server.sim.answer("1002", sim_id)
    await server.sim.remote_hangup(sim_id)


async def _story_internal_call(server: SimAmi, driver: AsteriskDriver) -> None:
    call_id = await driver.dial("1002", "1003")
    await until(lambda: server.ringing("1003"))
    await server.sim.answer("1003", await sim_call_at(server, "1003"))
    await driver.hangup("1002", await _when_known(driver, "1002", call_id))


async def _when_known(driver: AsteriskDriver, extension: str, call_id: str) -> str:
    async def known() -> bool:
        return any(c.call_id == call_id and c.extension == extension for c in (await driver.snapshot()).calls)
    for _ in range(600):
        if await known():
            return call_id
        await asyncio.sleep(0.005)
    raise AssertionError(f"the driver never saw call {call_id} at {extension}")


@pytest.mark.parametrize("story", [_story_inbound_answered, _story_inbound_missed, _story_declined,
                                   _story_click_to_call,
                                   _story_blind_transfer, _story_internal_call],
                         ids=lambda s: s.__name__.removeprefix("_story_"))
async def test_ami_bytes_map_back_to_what_the_simulator_said(server: SimAmi, driver: AsteriskDriver,
                                                             story) -> None:
    await story(server, driver)
    await until(lambda: not server.channels())
    mapped = _mapped(server)
    for ext in EXTENSIONS:
        assert _comparable(mapped, ext) == _comparable(server.sim_events, ext), ext
    assert any(isinstance(e, CallEvent) for e in mapped)


# ---- the other commands -------------------------------------------------------------------------

@pytest.fixture
async def site_driver(server: SimAmi) -> AsyncIterator[AsteriskDriver]:
    """A site with the atxfer feature code and phones that obey remote-control NOTIFY."""
    drv = make_driver(server, atxfer_enabled=True, hold_method="notify", answer_method="notify")
    await drv.connect()
    yield drv
    await drv.close()


@pytest.fixture
async def site(site_driver: AsteriskDriver) -> AsyncIterator[Reader]:
    r = Reader(site_driver)
    await r.wait_for(lambda e: isinstance(e, DriverResynced))
    yield r
    r.stop()


async def answered_inbound(server: SimAmi, reader: Reader, extension: str = "1001") -> tuple[str, str]:
    """(simulator call id, driver call id) of an inbound call answered at `extension`."""
    sim_id = await server.sim.ring(extension, CUSTOMER, ddr=DDR)
    ringing = await reader.wait_for(is_(CallRinging, extension))
    await server.sim.answer(extension, sim_id)
    await reader.wait_for(is_(CallAnswered, extension))
    return sim_id, ringing.call_id


async def test_answer_and_hold_by_notify(server: SimAmi, site_driver: AsteriskDriver, site: Reader) -> None:
    sim_id = await server.sim.ring("1002", CUSTOMER, ddr=DDR)
    ringing = await site.wait_for(is_(CallRinging, "1002"))
    await site_driver.answer("1002", ringing.call_id)
    await site.wait_for(is_(CallAnswered, "1002"))
    assert server.sim.call(sim_id).legs == {"1002": CallState.ACTIVE}
    await site_driver.hold("1002", ringing.call_id)
    await site.wait_for(is_(CallHeld, "1002", call_id=ringing.call_id))
    assert server.sim.call(sim_id).legs == {"1002": CallState.HELD}
    await site_driver.resume("1002", ringing.call_id)
    await site.wait_for(is_(CallResumed, "1002", call_id=ringing.call_id))
    notifies = [a.all("Variable") for a in server.actions if a.get("Action") == "PJSIPNotify"]
    assert notifies == [["Event=talk"], ["Event=hold"], ["Event=talk"]]


async def test_hold_puts_the_held_extension_on_hold_like_asterisk(server: SimAmi, site_driver: AsteriskDriver,
                                                                  site: Reader) -> None:
    call_id = await site_driver.dial("1002", "1003")
    await site.wait_for(is_(CallRinging, "1003"))
    await server.sim.answer("1003", await sim_call_at(server, "1003"))
    await site.wait_for(is_(CallAnswered, "1002", call_id=call_id))
    await site_driver.hold("1003", call_id)  # 1003 holds 1002, as in ami-extension-state.txt
    await site.wait_for(is_(CallHeld, "1003"))
    await site.wait_for(is_(ExtensionStateChanged, "1002", state=ExtensionState.ON_HOLD))
    hold = next(p for p in server.sent_packets() if p.get("Event") == "Hold")
    assert hold["Channel"].startswith("PJSIP/1003-")


async def test_attended_transfer_completed(server: SimAmi, site_driver: AsteriskDriver, site: Reader) -> None:
    sim_id, call_id = await answered_inbound(server, site)
    await site_driver.consult("1001", call_id, "1003")
    consulting = await site.wait_for(is_(CallConsulting, "1001"))
    assert consulting.target == "1003"
    ringing = await site.wait_for(is_(CallRinging, "1003"))
    # the consultation is 1003's own call with 1001 (Asterisk puts it in the customer's Linkedid)
    target = server.channel_of("1003")
    assert target is not None and target.linkedid == call_id
    assert (ringing.call_id, ringing.direction, ringing.number, ringing.ddr) == (target.uniqueid, Direction.INTERNAL,
                                                                                  "1001", None)
    assert any(c.name.startswith("Local/1003@") for c in server.channels())
    await server.sim.answer("1003", await sim_call_at(server, "1003"))
    await site.wait_for(is_(CallAnswered, "1003", call_id=ringing.call_id))
    await site_driver.complete_transfer("1001", call_id)
    transferred = await site.wait_for(is_(CallTransferred, "1001"))
    assert (transferred.target, transferred.attended) == ("1003", True)
    consulted = await site.wait_for(is_(CallEnded, "1003", call_id=ringing.call_id))
    assert consulted.disposition is Disposition.ANSWERED and consulted.recording_ref is None
    joined = await site.wait_for(is_(CallAnswered, "1003", call_id=call_id))  # the customer's call, from now
    assert (joined.direction, joined.number, joined.ddr) == (Direction.INBOUND, CUSTOMER, DDR)
    assert server.sim.call(sim_id).legs == {"1003": CallState.ACTIVE}
    # as recorded: the ;1 half joined the customer's bridge, the target stays bridged with ;2
    one = next(c for c in server.channels() if c.name.startswith("Local/1003@") and c.name.endswith(";1"))
    trunk = next(c for c in server.channels() if c.name.startswith("PJSIP/trunk-"))
    assert one.bridge == trunk.bridge is not None and server.channel_of("1001") is None
    await server.sim.remote_hangup(sim_id)
    ended = await site.wait_for(is_(CallEnded, "1003", call_id=call_id))
    assert ended.disposition is Disposition.ANSWERED
    assert ended.recording_ref is not None and ended.recording_ref == transferred.recording_ref  # the customer's
    await until(lambda: not server.channels())
    attended = [p for p in server.sent_packets() if p.get("Event") == "AttendedTransfer"]
    assert [(p["Result"], p["DestType"]) for p in attended] == [("Success", "Bridge")]


async def test_attended_transfer_cancelled(server: SimAmi, site_driver: AsteriskDriver, site: Reader) -> None:
    sim_id, call_id = await answered_inbound(server, site)
    await site_driver.consult("1001", call_id, "1002")
    await site.wait_for(is_(CallRinging, "1002"))
    await server.sim.answer("1002", await sim_call_at(server, "1002"))
    await site.wait_for(is_(CallAnswered, "1002"))
    await site_driver.cancel_transfer("1001", call_id)
    await site.wait_for(is_(CallEnded, "1002"))
    await site.wait_for(is_(CallResumed, "1001"))
    assert server.sim.call(sim_id).legs == {"1001": CallState.ACTIVE}
    assert {c.ext for c in server.channels()} == {"1001", None}  # 1001 and the customer's trunk leg


async def test_atxfer_refused_without_a_feature_code(server: SimAmi, site_driver: AsteriskDriver,
                                                     site: Reader) -> None:
    server.atxfer = False
    _, call_id = await answered_inbound(server, site)
    with pytest.raises(PbxError, match="No attended transfer feature code found"):
        await site_driver.consult("1001", call_id, "1003")


async def test_park_and_pick_up_from_the_slot(server: SimAmi, site_driver: AsteriskDriver, site: Reader) -> None:
    sim_id, call_id = await answered_inbound(server, site)
    slot = await site_driver.park("1001", call_id)
    assert slot == server.sim.call(sim_id).parked_slot
    parked = await site.wait_for(is_(CallParked, "1001"))
    assert parked.slot == slot
    await site_driver.pickup("1003", slot)
    await until(lambda: server.sim.call(sim_id).legs == {"1003": CallState.ACTIVE})
    phone = server.channel_of("1003")
    assert phone is not None and phone.bridge is not None and phone.linkedid == call_id


async def test_dtmf_reaches_the_call(server: SimAmi, site_driver: AsteriskDriver, site: Reader) -> None:
    sim_id, call_id = await answered_inbound(server, site)
    await site_driver.send_dtmf("1001", call_id, "12#")
    assert server.sim.call(sim_id).dtmf == "12#"
    played = [(p["Digit"], p["Channel"].startswith("PJSIP/trunk-")) for p in server.sent_packets()
              if p.get("Event") == "DTMFEnd"]
    assert played == [("1", True), ("2", True), ("#", True)]


async def test_play_recording_rings_the_phone_and_plays(server: SimAmi, driver: AsteriskDriver,
                                                        reader: Reader) -> None:
    await driver.play_recording(server.recording_ref + ".wav", "1002")
    originate = next(a for a in server.actions if a.get("Action") == "Originate")
    assert (originate["Application"], originate["Data"]) == ("Playback", server.recording_ref)
    await until(lambda: server.ringing("1002"))
    sim_id = await sim_call_at(server, "1002")
    assert server.sim.call(sim_id).kind == "playback"
    await server.sim.answer("1002", sim_id)
    await until(lambda: any(p.get("Event") == "OriginateResponse" for p in server.sent_packets()))


async def test_listen_to_a_colleague_with_chanspy(server: SimAmi, driver: AsteriskDriver, reader: Reader) -> None:
    await answered_inbound(server, reader)
    await driver.monitor(Capability.WHISPER, "1003", "1001")
    originate = next(a for a in server.actions if a.get("Action") == "Originate")
    assert (originate["Application"], originate["Data"]) == ("ChanSpy", "PJSIP/1001,qwE")
    spy_id = await sim_call_at(server, "1003")
    assert server.sim.call(spy_id).monitor_mode is Capability.WHISPER
    assert server.channel_of("1003") is not None


async def test_lists_and_extension_state_like_asterisk(server: SimAmi, driver: AsteriskDriver,
                                                       reader: Reader) -> None:
    await server.sim.ring("1003", CUSTOMER, ddr=DDR)
    await reader.wait_for(is_(CallRinging, "1003"))
    client = driver._client
    state = await client.send_action("ExtensionState", Exten="1003", Context="ext-local")
    assert (state["Message"], state["Status"], state["StatusText"]) == ("Extension Status", "8", "Ringing")
    hints = await client.send_list_action("ExtensionStateList")
    assert [(p["Exten"], p["Status"]) for p in hints.items] == [("1001", "0"), ("1002", "0"), ("1003", "8")]
    assert hints.complete["ListItems"] == "3"
    channels = await client.send_list_action("CoreShowChannels")
    assert sorted(p["Channel"].split("-")[0] for p in channels.items) == ["PJSIP/1003", "PJSIP/trunk"]
    assert {p["Linkedid"] for p in channels.items} == {channels.items[0]["Uniqueid"]}


async def test_reconnect_after_the_connection_drops_resyncs_the_call(server: SimAmi, driver: AsteriskDriver,
                                                                     reader: Reader) -> None:
    sim_id, call_id = await answered_inbound(server, reader, "1002")
    server.drop_all()
    await reader.wait_for(lambda e: isinstance(e, DriverConnected) and reader.events.index(e) > 2)
    snapshot = await driver.snapshot()
    assert [(c.call_id, c.extension, c.state) for c in snapshot.calls] == [(call_id, "1002", CallState.ACTIVE)]
    await server.sim.remote_hangup(sim_id)
    assert (await reader.wait_for(is_(CallEnded, "1002"))).disposition is Disposition.ANSWERED


async def test_click_to_call_rings_the_agent_saying_whom_it_calls(server: SimAmi, driver: AsteriskDriver,
                                                                  reader: Reader) -> None:
    await driver.dial("1001", "5198765432")
    await reader.wait_for(is_(CallDialing, "1001"))
    phone = next(p for p in server.sent_packets() if p.get("Event") == "Newstate"
                 and p.get("Channel", "").startswith("PJSIP/1001-") and p.get("ChannelStateDesc") == "Ringing")
    # what the phone displays: the connected line Asterisk took from the Originate's CallerID
    assert (phone["ConnectedLineName"], phone["ConnectedLineNum"]) == ("5198765432", "1001")


async def test_pickup_of_an_empty_parking_slot_is_refused(server: SimAmi, site_driver: AsteriskDriver,
                                                          site: Reader) -> None:
    with pytest.raises(PbxError, match="parking slot 701 is empty"):
        await site_driver.pickup("1003", "701")
    assert not [a for a in server.actions if a.get("Action") == "Originate"]


async def test_a_consultation_under_way_survives_a_reconnect(server: SimAmi, site_driver: AsteriskDriver,
                                                             site: Reader) -> None:
    """After a resync from CoreShowChannels the consulted phone is still the consultation (not the
    customer's call) and the transferer still consults: cancel works, and nothing is recorded twice."""
    _, call_id = await answered_inbound(server, site)
    await site_driver.consult("1001", call_id, "1002")
    ringing = await site.wait_for(is_(CallRinging, "1002"))
    await server.sim.answer("1002", await sim_call_at(server, "1002"))
    await site.wait_for(is_(CallAnswered, "1002", call_id=ringing.call_id))
    resyncs = sum(isinstance(e, DriverResynced) for e in site.events)
    await server.stop_listening()
    await server.listen()
    await until(lambda: sum(isinstance(e, DriverResynced) for e in site.events) > resyncs)
    calls = {(c.extension, c.call_id): c for c in (await site_driver.snapshot()).calls}
    consult = calls["1002", ringing.call_id]
    assert (consult.direction, consult.number, consult.ddr) == (Direction.INTERNAL, "1001", None)
    assert calls["1001", call_id].state is CallState.CONSULTING
    await site_driver.cancel_transfer("1001", call_id)
    ended = await site.wait_for(is_(CallEnded, "1002", call_id=ringing.call_id))
    assert ended.direction is Direction.INTERNAL and ended.recording_ref is None


async def test_another_ami_session_sees_a_click_to_call_when_the_agents_phone_rings(
        server: SimAmi, driver: AsteriskDriver, reader: Reader) -> None:
    """`pbx events` (a second AMI session) was not told of the Originate; it sees the dial start
    when the agent's phone rings, with the number and the call id the dialling driver has."""
    other = make_driver(server)
    await other.connect()
    seen = Reader(other)
    try:
        await seen.wait_for(lambda e: isinstance(e, DriverResynced))
        call_id = await driver.dial("1001", "5198765432")
        dialing = await seen.wait_for(is_(CallDialing, "1001"))
        assert (dialing.call_id, dialing.number, dialing.direction) == (call_id, "5198765432", Direction.OUTBOUND)
        # it starts with the ring of the agent's phone, not when the phone answered: what a mapper
        # makes of the stream up to that DialBegin
        packets = server.sent_packets()
        ring = next(i for i, p in enumerate(packets) if p.get("Event") == "DialBegin" and "Channel" not in p
                    and p.get("DestChannel", "").startswith("PJSIP/1001-"))
        assert not [p for p in packets[:ring] if p.get("Event") == "DialEnd"]
        early = [e for e in AmiMapper().feed_all(packets[:ring + 1]) if isinstance(e, CallDialing)]
        assert [(e.call_id, e.number) for e in early] == [(call_id, "5198765432")]
    finally:
        seen.stop()
        await other.close()
