"""The Asterisk driver's commands over real TCP against the fake manager: the exact AMI action each
one sends, Asterisk's refusal passed on in the error, and what the events that follow mean.

The call under way after the resync is the fake's recorded CoreShowChannels reply: 1002
(`PJSIP/1002-0000001b`, Uniqueid .29) talks to 1003 (`PJSIP/1003-0000001c`, .30) in one bridge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.asterisk.fake_ami import FIXTURES, FakeAmi, split_packets
from tests.asterisk.test_driver import LIVE_CALL, SECRET, actions, make_driver, next_events, until
from tui_caa.domain.events import (
    CallConsulting,
    CallEnded,
    CallHeld,
    CallRinging,
    CallTransferred,
    PbxEvent,
)
from tui_caa.domain.telephony import CallState, Capability, Direction, Disposition
from tui_caa.gateway.state import PbxState
from tui_caa.pbx.asterisk.driver import AsteriskDriver
from tui_caa.pbx.asterisk.packets import Packet
from tui_caa.pbx.base import PbxError

CH_1002 = "PJSIP/1002-0000001b"
HANGUP_MARK = (b"Event: Hangup\r\nChannel: PJSIP/1003-0000001c\r\nUniqueid: 1795647001.30\r\n"
               b"Linkedid: 1795647001.29\r\nCause: 16\r\n\r\n")  # 1003 leaves the call under way
CH_1003 = "PJSIP/1003-0000001c"
OK = {"Originate": "Originate successfully queued", "Hangup": "Channel Hungup", "BlindTransfer": "Transfer succeeded",
      "Redirect": "Redirect successful", "Atxfer": "Atxfer successfully queued", "PJSIPNotify": "NOTIFY sent",
      "Park": "Park successful", "PlayDTMF": "DTMF successfully queued"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = await FakeAmi(secret=SECRET).start()
    server.responses.update(OK)
    yield server
    await server.stop()


@pytest.fixture
async def driver(fake: FakeAmi) -> AsyncIterator[AsteriskDriver]:
    drv = make_driver(fake, atxfer_enabled=True, hold_method="notify", answer_method="notify")
    await drv.connect()
    yield drv
    await drv.close()


async def started(driver: AsteriskDriver) -> AsyncIterator[PbxEvent]:
    stream = driver.events()
    await next_events(stream, 2)  # connected, resynced
    return stream


def event(name: str, **headers: str) -> bytes:
    lines = [f"Event: {name}", "Privilege: call,all", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chan(name: str, uid: str, linkedid: str = LIVE_CALL, **more: str) -> dict[str, str]:
    return {"Channel": name, "Uniqueid": uid, "Linkedid": linkedid, **more}


def parked_call(action: Packet, slot: str = "701") -> bytes:
    """What res_parking sends once the Park action's channel sits in the lot."""
    parker = action["TimeoutChannel"].rsplit("-", 1)[0]
    parkee = {CH_1003: "1795647001.30", CH_1002: "1795647001.29"}[action["Channel"]]
    return event("ParkedCall", ParkeeChannel=action["Channel"], ParkeeUniqueid=parkee, ParkeeLinkedid=LIVE_CALL,
                 ParkerDialString=parker, Parkinglot="default", ParkingSpace=slot, ParkingTimeout="45",
                 ParkingDuration="0")


def only(fake: FakeAmi, name: str) -> Packet:
    (action,) = actions(fake, name)
    return action


def headers(action: Packet, *names: str) -> dict[str, str | None]:
    return {n: action.get(n) for n in names}


async def ring_1001(fake: FakeAmi, stream: AsyncIterator[PbxEvent]) -> str:
    """An inbound call from the trunk starts ringing at 1001; returns its call id."""
    call = "1795647100.40"
    await fake.send(
        event("Newchannel", **chan("PJSIP/pstn-00000030", call, call, Context="from-trunk", Exten="5121010001",
                                   CallerIDNum="5133334444", ChannelStateDesc="Ring"))
        + event("Newchannel", **chan("PJSIP/1001-00000031", "1795647100.41", call, Context="internal", Exten="s",
                                     ChannelStateDesc="Down"))
        + event("DialBegin", **chan("PJSIP/pstn-00000030", call, call), DestChannel="PJSIP/1001-00000031",
                DestUniqueid="1795647100.41", DestLinkedid=call, DestExten="5121010001",
                DialString="PJSIP/1001"))
    (ringing,) = await next_events(stream, 1)
    assert isinstance(ringing, CallRinging) and ringing.extension == "1001" and ringing.call_id == call
    return call


# ---- blind transfer ----------------------------------------------------------------------------

async def test_blind_transfer_sends_blindtransfer(fake: FakeAmi, driver: AsteriskDriver) -> None:
    await driver.blind_transfer("1002", LIVE_CALL, "1001")
    assert headers(only(fake, "BlindTransfer"), "Channel", "Context", "Exten") == {
        "Channel": CH_1002, "Context": "from-internal", "Exten": "1001"}
    assert not actions(fake, "Redirect") and not actions(fake, "Hangup")


async def test_blind_transfer_falls_back_to_redirect(fake: FakeAmi, driver: AsteriskDriver) -> None:
    """Old Asterisk (no BlindTransfer action): the other party is redirected, the agent hung up."""
    stream = await started(driver)
    del fake.responses["BlindTransfer"]  # -> "Invalid/unknown command: BlindTransfer"
    await driver.blind_transfer("1002", LIVE_CALL, "011987654321")
    redirect = only(fake, "Redirect")
    assert headers(redirect, "Channel", "Context", "Exten", "Priority") == {
        "Channel": CH_1003, "Context": "from-internal", "Exten": "011987654321", "Priority": "1"}
    assert only(fake, "Hangup")["Channel"] == CH_1002
    assert [a["Action"] for a in fake.actions[-3:]] == ["BlindTransfer", "Redirect", "Hangup"]
    # the agent's channel then hangs up: for 1002 that is a transfer, not a plain end
    await fake.send(event("Hangup", **chan(CH_1002, "1795647001.29"), Cause="16"))
    (xfer,) = await next_events(stream, 1)
    assert isinstance(xfer, CallTransferred) and xfer.extension == "1002" and xfer.call_id == LIVE_CALL
    assert xfer.target == "011987654321" and not xfer.attended


async def test_blind_transfer_refused_twice_says_both(fake: FakeAmi, driver: AsteriskDriver) -> None:
    fake.errors["BlindTransfer"] = "No such channel"
    fake.errors["Redirect"] = "Redirect failed"
    with pytest.raises(PbxError, match=r"refused to transfer call 1795647001.29 at 1002 to 1001: "
                                       r"BlindTransfer: No such channel; Redirect: Redirect failed"):
        await driver.blind_transfer("1002", LIVE_CALL, "1001")
    assert not actions(fake, "Hangup")


# ---- attended transfer -------------------------------------------------------------------------

async def test_attended_transfer_consult_cancel_complete(fake: FakeAmi, driver: AsteriskDriver) -> None:
    stream = await started(driver)
    with pytest.raises(PbxError, match="no attended transfer is under way"):
        await driver.complete_transfer("1002", LIVE_CALL)
    await driver.consult("1002", LIVE_CALL, "1001")
    assert headers(only(fake, "Atxfer"), "Channel", "Exten", "Context") == {
        "Channel": CH_1002, "Exten": "1001", "Context": "from-internal"}
    # what Asterisk does for Atxfer (as in ami-attended-transfer.txt): hold, a Local channel to the
    # target in a new bridge, the transferer moved into it
    local1, local2 = "Local/1001@from-internal-00000000;1", "Local/1001@from-internal-00000000;2"
    await fake.send(
        event("Hold", **chan(CH_1002, "1795647001.29"))
        + event("Newchannel", **chan(local1, "1795647200.50"), Exten="1001", Context="from-internal")
        + event("Newchannel", **chan(local2, "1795647200.51"), Exten="1001", Context="from-internal")
        + event("BridgeEnter", **chan(local1, "1795647200.50"), BridgeUniqueid="consult-bridge")
        + event("BridgeLeave", **chan(CH_1002, "1795647001.29"), BridgeUniqueid="43179b99-64d9-4d05-ac79-666dd3ede00b")
        + event("BridgeEnter", **chan(CH_1002, "1795647001.29"), BridgeUniqueid="consult-bridge"))
    got = await until(stream, CallConsulting)
    consulting = got[-1]
    assert consulting.extension == "1002" and consulting.call_id == LIVE_CALL and consulting.target == "1001"

    await driver.cancel_transfer("1002", LIVE_CALL)
    assert only(fake, "Hangup")["Channel"] == local1  # the consulted channel, not the agent's
    await driver.complete_transfer("1002", LIVE_CALL)
    assert [a["Channel"] for a in actions(fake, "Hangup")] == [local1, CH_1002]  # the transferer hangs up

    await fake.send(event("AttendedTransfer", Result="Success", DestType="Bridge",
                          OrigTransfererChannel=CH_1002, OrigTransfererUniqueid="1795647001.29",
                          TransferTargetChannel=local1, TransferTargetCallerIDNum="1001"))
    (done,) = await next_events(stream, 1)
    assert isinstance(done, CallTransferred) and done.attended and done.target == "1001"
    assert done.extension == "1002"


async def test_attended_transfer_refused(fake: FakeAmi, driver: AsteriskDriver) -> None:
    fake.errors["Atxfer"] = "No active call to transfer"
    with pytest.raises(PbxError, match="refused to start an attended transfer of call 1795647001.29 at 1002 to "
                                       "1001: No active call to transfer"):
        await driver.consult("1002", LIVE_CALL, "1001")


# ---- hold --------------------------------------------------------------------------------------

async def test_hold_by_notify(fake: FakeAmi, driver: AsteriskDriver) -> None:
    await driver.hold("1002", LIVE_CALL)
    await driver.resume("1002", LIVE_CALL)
    notes = actions(fake, "PJSIPNotify")
    assert [headers(n, "Endpoint", "Variable") for n in notes] == [
        {"Endpoint": "1002", "Variable": "Event=hold"}, {"Endpoint": "1002", "Variable": "Event=talk"}]
    fake.errors["PJSIPNotify"] = "Unable to find endpoint 1002"
    with pytest.raises(PbxError, match="refused to ask phone 1002 to hold call .*: Unable to find endpoint 1002"):
        await driver.hold("1002", LIVE_CALL)


async def test_hold_by_park(fake: FakeAmi) -> None:
    fake.followups["Park"] = parked_call
    drv = make_driver(fake, hold_method="park")
    await drv.connect()
    try:
        stream = await started(drv)
        await drv.hold("1002", LIVE_CALL)
        park = only(fake, "Park")
        assert headers(park, "Channel", "TimeoutChannel", "Timeout") == {
            "Channel": CH_1003, "TimeoutChannel": CH_1002, "Timeout": "3600000"}
        (held,) = await next_events(stream, 1)  # for the agent the call is on hold, not parked away
        assert isinstance(held, CallHeld) and (held.extension, held.call_id) == ("1002", LIVE_CALL)
        assert [(c.extension, c.state) for c in (await drv.snapshot()).calls if c.call_id == LIVE_CALL
                and c.extension == "1002"] == [("1002", CallState.HELD)]
        await drv.resume("1002", LIVE_CALL)
        orig = only(fake, "Originate")
        assert headers(orig, "Channel", "Context", "Exten", "Priority", "Async") == {
            "Channel": "PJSIP/1002", "Context": "parkedcalls", "Exten": "701", "Priority": "1", "Async": "true"}
        # the phone did not answer the resume (no bridge yet): the call is still held, the key tries again
        await drv.resume("1002", LIVE_CALL)
        assert [a["Exten"] for a in actions(fake, "Originate")] == ["701", "701"]
        with pytest.raises(PbxError, match="was not put on hold"):
            await drv.resume("1003", LIVE_CALL)
    finally:
        await drv.close()


async def test_hanging_up_a_call_on_hold_by_park_hangs_up_the_parked_party(fake: FakeAmi) -> None:
    fake.followups["Park"] = parked_call
    # Asterisk, for a Hangup of a parked channel: the lot gives it up, the channel hangs up
    fake.followups["Hangup"] = lambda action: (
        event("ParkedCallGiveUp", ParkeeChannel=action["Channel"], ParkeeUniqueid="1795647001.30",
              ParkeeLinkedid=LIVE_CALL, ParkingSpace="701")
        + event("Hangup", Channel=action["Channel"], Uniqueid="1795647001.30", Linkedid=LIVE_CALL, Cause="16"))
    drv = make_driver(fake, hold_method="park")
    await drv.connect()
    try:
        stream = await started(drv)
        await drv.hold("1002", LIVE_CALL)
        (held,) = await next_events(stream, 1)
        assert isinstance(held, CallHeld)
        await drv.hangup("1002", LIVE_CALL)
        assert only(fake, "Hangup")["Channel"] == CH_1003  # the party waiting in the slot
        (ended,) = await next_events(stream, 1)
        assert isinstance(ended, CallEnded) and (ended.extension, ended.call_id) == ("1002", LIVE_CALL)
        assert ended.disposition is Disposition.ANSWERED
        assert not [c for c in (await drv.snapshot()).calls if c.extension == "1002"]
    finally:
        await drv.close()


# ---- park, pickup ------------------------------------------------------------------------------

async def test_park_returns_the_slot(fake: FakeAmi, driver: AsteriskDriver) -> None:
    fake.followups["Park"] = lambda action: parked_call(action, "702")
    assert await driver.park("1002", LIVE_CALL) == "702"
    park = only(fake, "Park")
    assert headers(park, "Channel", "TimeoutChannel", "Timeout") == {
        "Channel": CH_1003, "TimeoutChannel": CH_1002, "Timeout": None}


async def test_park_without_parkedcall_event_times_out(fake: FakeAmi) -> None:
    drv = make_driver(fake, action_timeout=0.3)
    await drv.connect()
    try:
        with pytest.raises(PbxError, match="reported no parking slot within 0.3 s"):
            await drv.park("1002", LIVE_CALL)
        fake.errors["Park"] = "Channel specified does not exist"
        with pytest.raises(PbxError, match="refused to park call .*: Channel specified does not exist"):
            await drv.park("1002", LIVE_CALL)
        assert drv._park_waiters == {}
    finally:
        await drv.close()


def parked_calls_list(*raw_items: bytes) -> list[bytes]:
    """res_parking's reply to `ParkedCalls`, with these ParkedCall events (each gets the ActionID)."""
    items = [raw.replace(b"Event: ParkedCall\r\n", b"Event: ParkedCall\r\nActionID: x\r\n", 1) for raw in raw_items]
    return [b"Response: Success\r\nActionID: x\r\nEventList: start\r\nMessage: Parked calls will follow\r\n\r\n",
            *items, b"Event: ParkedCallsComplete\r\nActionID: x\r\nEventList: Complete\r\n"
                    + f"ListItems: {len(items)}\r\n\r\n".encode()]


# the ParkedCall of slot 701 that a real Asterisk 20 sent (fixtures/live/f_hold_resume_park.ami)
LIVE_PARKED_701 = next(p for p in split_packets((FIXTURES / "live" / "f_hold_resume_park.ami").read_bytes())
                       if p.startswith(b"Event: ParkedCall\r\n"))


async def test_pickup_of_an_empty_slot_is_refused(fake: FakeAmi, driver: AsteriskDriver) -> None:
    fake.list_replies["ParkedCalls"] = parked_calls_list(LIVE_PARKED_701)
    with pytest.raises(PbxError, match="parking slot 702 is empty") as refused:
        await driver.pickup("1003", "702")  # Asterisk would accept the dial and do nothing visible
    assert refused.value.field == "slot"
    assert actions(fake, "Originate") == []
    fake.list_replies["ParkedCalls"] = parked_calls_list()
    with pytest.raises(PbxError, match="parking slot 701 is empty"):
        await driver.pickup("1003", "701")


async def test_pickup_slot_and_ringing_extension(fake: FakeAmi, driver: AsteriskDriver) -> None:
    fake.list_replies["ParkedCalls"] = parked_calls_list(LIVE_PARKED_701)
    stream = await started(driver)
    await driver.pickup("1003", "701")
    slot = only(fake, "Originate")
    assert headers(slot, "Channel", "Context", "Exten", "Priority", "Async") == {
        "Channel": "PJSIP/1003", "Context": "parkedcalls", "Exten": "701", "Priority": "1", "Async": "true"}
    assert slot["ChannelId"].startswith("caa-")
    await ring_1001(fake, stream)
    await driver.pickup("1003", "1001")
    grab = actions(fake, "Originate")[-1]
    assert headers(grab, "Channel", "Application", "Data", "Async") == {
        "Channel": "PJSIP/1003", "Application": "Pickup", "Data": "1001@from-internal", "Async": "true"}
    with pytest.raises(PbxError, match="neither a parking slot nor an extension"):
        await driver.pickup("1003", "70a")


# ---- DTMF, playback, supervision, answer ----------------------------------------------------------

async def test_dtmf_one_playdtmf_per_digit_to_the_other_party(fake: FakeAmi, driver: AsteriskDriver) -> None:
    await driver.send_dtmf("1002", LIVE_CALL, "12#*d")
    assert [headers(a, "Channel", "Digit") for a in actions(fake, "PlayDTMF")] == [
        {"Channel": CH_1003, "Digit": d} for d in "12#*D"]
    n = len(fake.actions)
    for bad in ("12x", "", "1\r\nAction: Hangup"):
        with pytest.raises(PbxError, match="not DTMF digits"):
            await driver.send_dtmf("1002", LIVE_CALL, bad)
    assert len(fake.actions) == n
    fake.errors["PlayDTMF"] = "Channel not found"
    with pytest.raises(PbxError, match="refused to send DTMF 1 in call .* at 1002: Channel not found"):
        await driver.send_dtmf("1002", LIVE_CALL, "1")


async def test_play_recording(fake: FakeAmi, driver: AsteriskDriver) -> None:
    ref = "/var/spool/asterisk/monitor/20261125-224750-5133334444-5121010001-1795646870.0.wav"
    to_ext = await driver.play_recording(ref, "1002")
    to_out = await driver.play_recording("greeting", "011987654321")
    a, b = actions(fake, "Originate")
    assert headers(a, "Channel", "Application", "Data", "Async", "ChannelId") == {
        "Channel": "PJSIP/1002", "Application": "Playback",
        "Data": "/var/spool/asterisk/monitor/20261125-224750-5133334444-5121010001-1795646870.0",
        "Async": "true", "ChannelId": to_ext}
    assert headers(b, "Channel", "Application", "Data", "ChannelId") == {
        "Channel": "Local/011987654321@from-internal", "Application": "Playback", "Data": "greeting",
        "ChannelId": to_out}
    assert to_ext != to_out
    with pytest.raises(PbxError, match="not a recording"):
        await driver.play_recording("a,b", "1002")
    fake.errors["Originate"] = "Originate failed"
    with pytest.raises(PbxError, match="refused to play greeting to 1002: Originate failed"):
        await driver.play_recording("greeting", "1002")


@pytest.mark.parametrize(("mode", "options"), [(Capability.LISTEN, "qE"), (Capability.WHISPER, "qwE"),
                                               (Capability.BARGE, "qBE")])
async def test_monitor_uses_chanspy(fake: FakeAmi, driver: AsteriskDriver, mode: Capability, options: str) -> None:
    await driver.monitor(mode, "1001", "1002")
    assert headers(only(fake, "Originate"), "Channel", "Application", "Data", "Async") == {
        "Channel": "PJSIP/1001", "Application": "ChanSpy", "Data": f"PJSIP/1002,{options}", "Async": "true"}
    with pytest.raises(PbxError, match="not an extension"):
        await driver.monitor(mode, "1001", "PJSIP/1002")


async def test_answer_by_notify(fake: FakeAmi, driver: AsteriskDriver) -> None:
    stream = await started(driver)
    call = await ring_1001(fake, stream)
    await driver.answer("1001", call)
    assert headers(only(fake, "PJSIPNotify"), "Endpoint", "Variable") == {"Endpoint": "1001", "Variable": "Event=talk"}
    with pytest.raises(PbxError, match="already answered"):
        await driver.answer("1002", LIVE_CALL)


# ---- a dial whose Originate fails (OriginateResponse) -----------------------------------------------

@pytest.mark.parametrize(("reason", "disposition"), [
    ("0", Disposition.FAILED), ("1", Disposition.NO_ANSWER), ("3", Disposition.NO_ANSWER),
    ("5", Disposition.BUSY), ("8", Disposition.FAILED)])
async def test_failed_originate_ends_the_call(fake: FakeAmi, driver: AsteriskDriver, reason: str,
                                              disposition: Disposition) -> None:
    stream = await started(driver)
    call_id = await driver.dial("1001", "011987654321")
    await fake.send(event("OriginateResponse", Response="Failure", Channel="PJSIP/1001", Context="from-internal",
                          Exten="011987654321", Reason=reason, Uniqueid=call_id, CallerIDNum="<unknown>",
                          CallerIDName="<unknown>"))
    (ended,) = await next_events(stream, 1)
    assert isinstance(ended, CallEnded)
    assert (ended.extension, ended.call_id, ended.disposition) == ("1001", call_id, disposition)
    assert ended.direction is Direction.OUTBOUND and ended.number == "011987654321"
    record = PbxState().apply(ended)
    assert record is not None and record.pbx_call_id == call_id and record.disposition is disposition
    assert driver._mapper.pending_dials == {}


async def test_failed_originate_without_channel_id_and_success(fake: FakeAmi, driver: AsteriskDriver) -> None:
    stream = await started(driver)
    ok = await driver.dial("1001", "1003")
    failed = await driver.dial("1001", "011987654321")
    # a success says nothing by itself (the channel events tell the call); a failure with no
    # Uniqueid echoed is matched by channel and number
    await fake.send(event("OriginateResponse", Response="Success", Channel="PJSIP/1001-00000040", Exten="1003",
                          Reason="4", Uniqueid=ok)
                    + event("OriginateResponse", Response="Failure", Channel="PJSIP/1001", Exten="011987654321",
                            Reason="5", Uniqueid="<null>"))
    (ended,) = await next_events(stream, 1)
    assert isinstance(ended, CallEnded) and ended.call_id == failed and ended.disposition is Disposition.BUSY
    assert driver._mapper.pending_dials == {}
    # a refused Originate leaves nothing pending
    fake.errors["Originate"] = "Originate failed"
    with pytest.raises(PbxError):
        await driver.dial("1001", "1003")
    assert driver._mapper.pending_dials == {}
    assert fake.count("Originate") == 3


async def test_commands_need_the_capability(fake: FakeAmi) -> None:
    drv = make_driver(fake, parking_enabled=False, spy_enabled=False)
    await drv.connect()
    try:
        for call in (drv.park("1002", LIVE_CALL), drv.pickup("1002", "701"), drv.hold("1002", LIVE_CALL),
                     drv.monitor(Capability.LISTEN, "1001", "1002")):
            with pytest.raises(PbxError, match="not supported by Asterisk"):
                await call
        assert not [a for a in fake.actions if a["Action"] in ("Park", "Originate", "PJSIPNotify")]
    finally:
        await drv.close()


async def test_commands_on_unknown_call_send_nothing(fake: FakeAmi, driver: AsteriskDriver) -> None:
    n = len(fake.actions)
    for call in (driver.send_dtmf("1001", "nope", "1"), driver.park("1001", "nope"), driver.hold("1001", "nope"),
                 driver.consult("1001", "nope", "1002"), driver.blind_transfer("1001", "nope", "1002")):
        with pytest.raises(PbxError, match="call nope is not under way at extension 1001"):
            await call
    assert len(fake.actions) == n


# ---- every command passes Asterisk's refusal on ---------------------------------------------------

async def consulting(fake: FakeAmi, driver: AsteriskDriver) -> None:
    stream = await started(driver)
    local1 = "Local/1001@from-internal-00000000;1"
    await fake.send(event("Newchannel", **chan(local1, "1795647200.50"), Exten="1001", Context="from-internal")
                    + event("BridgeEnter", **chan(local1, "1795647200.50"), BridgeUniqueid="consult-bridge")
                    + event("BridgeEnter", **chan(CH_1002, "1795647001.29"), BridgeUniqueid="consult-bridge"))
    await until(stream, CallConsulting)


@pytest.mark.parametrize(("action", "command", "what"), [
    ("Originate", lambda d: d.dial("1001", "1002"), "call 1002 from 1001"),
    ("Hangup", lambda d: d.hangup("1002", LIVE_CALL), "hang up call 1795647001.29 at 1002"),
    ("Hangup", lambda d: d.complete_transfer("1002", LIVE_CALL), "complete the transfer of call 1795647001.29"),
    ("Hangup", lambda d: d.cancel_transfer("1002", LIVE_CALL), "cancel the transfer of call 1795647001.29"),
    ("PJSIPNotify", lambda d: d.resume("1002", LIVE_CALL), "ask phone 1002 to resume call 1795647001.29"),
    ("Originate", lambda d: d.pickup("1003", "701"), "pick up parking slot 701 from 1003"),
    ("Originate", lambda d: d.monitor(Capability.WHISPER, "1001", "1002"), "whisper to 1002 from 1001"),
])
async def test_refusals_carry_asterisks_message(fake: FakeAmi, driver: AsteriskDriver, action: str, command,
                                                what: str) -> None:
    if "transfer" in what:
        await consulting(fake, driver)
    fake.errors[action] = "Boom from Asterisk"
    with pytest.raises(PbxError, match=f"Asterisk refused to {what}.*: Boom from Asterisk"):
        await command(driver)


async def test_snapshot_shows_the_consultation(fake: FakeAmi, driver: AsteriskDriver) -> None:
    await consulting(fake, driver)
    states = {c.extension: c.state for c in (await driver.snapshot()).calls}
    assert states == {"1002": CallState.CONSULTING, "1003": CallState.ACTIVE}


async def test_own_dial_is_dialing_from_its_first_channel(fake: FakeAmi, driver: AsteriskDriver) -> None:
    """Our Originate rings the agent's phone first: the call is DIALING from then (as the CDR counts
    it), the agent picking up is not an answer, and the number's BUSY is the disposition."""
    stream = await started(driver)
    call_id = await driver.dial("1001", "011987654321")
    agent = chan("PJSIP/1001-00000050", call_id, call_id)
    trunk = chan("PJSIP/pstn-00000051", "1795647300.81", call_id)
    await fake.send(event("Newchannel", **agent, Context="from-internal", Exten="s", ChannelStateDesc="Down"))
    (dialing,) = await next_events(stream, 1)
    assert (type(dialing).__name__, dialing.extension, dialing.call_id, dialing.direction, dialing.number) == (
        "CallDialing", "1001", call_id, Direction.OUTBOUND, "011987654321")
    await fake.send(
        event("DialBegin", DestChannel=agent["Channel"], DestUniqueid=call_id, DestLinkedid=call_id, DialString="1001")
        + event("DialEnd", DestChannel=agent["Channel"], DestUniqueid=call_id, DialStatus="ANSWER")
        + event("OriginateResponse", Response="Success", Channel=agent["Channel"], Exten="011987654321", Reason="4",
                Uniqueid=call_id)
        + event("Newchannel", **trunk, Context="from-internal", Exten="s")
        + event("DialBegin", **agent, DestChannel=trunk["Channel"], DestUniqueid=trunk["Uniqueid"],
                DestLinkedid=call_id, DialString="011987654321@pstn")
        + event("DialEnd", **agent, DestChannel=trunk["Channel"], DestUniqueid=trunk["Uniqueid"], DialStatus="BUSY")
        + event("Hangup", **trunk, Cause="17") + event("Hangup", **agent, Cause="17"))
    (ended,) = await next_events(stream, 1)
    assert isinstance(ended, CallEnded) and ended.call_id == call_id and ended.disposition is Disposition.BUSY
    assert driver._mapper.pending_dials == {}


async def test_own_dial_the_agent_does_not_answer(fake: FakeAmi, driver: AsteriskDriver) -> None:
    stream = await started(driver)
    call_id = await driver.dial("1001", "1003")
    agent = chan("PJSIP/1001-00000052", call_id, call_id)
    await fake.send(
        event("Newchannel", **agent, Context="from-internal", Exten="s")
        + event("DialBegin", DestChannel=agent["Channel"], DestUniqueid=call_id, DestLinkedid=call_id, DialString="1001")
        + event("DialEnd", DestChannel=agent["Channel"], DestUniqueid=call_id, DialStatus="NOANSWER")
        + event("Hangup", **agent, Cause="19")
        + event("OriginateResponse", Response="Failure", Channel="PJSIP/1001", Exten="1003", Reason="3",
                Uniqueid=call_id))
    got = [await asyncio.wait_for(anext(stream), 2.0) for _ in range(2)]
    assert [type(e).__name__ for e in got] == ["CallDialing", "CallEnded"]
    assert got[0].direction is Direction.INTERNAL and got[1].disposition is Disposition.NO_ANSWER
    await fake.send(HANGUP_MARK)
    (mark,) = await next_events(stream, 1)  # nothing else came in between: no second CallEnded
    assert isinstance(mark, CallEnded) and mark.extension == "1003" and mark.call_id == LIVE_CALL


@pytest.mark.parametrize("bad", ["1001\n", "1001\r\nAction: Logoff", " 1001", "PJSIP/1001", "1"])
async def test_trailing_newlines_and_other_junk_are_refused_before_sending(fake: FakeAmi, driver: AsteriskDriver,
                                                                          bad: str) -> None:
    n = len(fake.actions)
    for call in (driver.dial(bad, "1002"), driver.dial("1001", bad + "x" if bad == "1" else bad),
                 driver.monitor(Capability.LISTEN, "1001", bad), driver.pickup(bad, "701"),
                 driver.send_dtmf("1002", LIVE_CALL, bad if bad != "1" else "1\n"),
                 driver.play_recording("greeting\n" if bad == "1" else bad + "\n", "1002")):
        with pytest.raises(PbxError):
            await call
    assert len(fake.actions) == n
