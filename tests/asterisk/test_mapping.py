"""AmiMapper against the real Asterisk 20 recordings (see fixtures/asterisk/scenarios.md).

The recordings carry no `EventTV`/`Timestamp` headers (timestampevents = no), so event times come
from the `now` we pass; times from EventTV are checked on a recorded packet with the header added.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

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
    ExtensionStateChanged,
    PbxEvent,
)
from tui_caa.domain.telephony import CallRecord, Direction, Disposition, ExtensionState
from tui_caa.gateway.state import PbxState
from tui_caa.pbx.asterisk.mapping import AmiMapper, MapperConfig
from tui_caa.pbx.asterisk.packets import Packet, PacketReader

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
MONITOR = "/var/spool/asterisk/monitor/"


def packets(name: str) -> list[Packet]:
    return PacketReader().feed((FIXTURES / name).read_bytes())


def run(name: str, mapper: AmiMapper | None = None) -> list[PbxEvent]:
    """Every packet of a recording through a fresh mapper; packet i happens at T0 + i seconds."""
    mapper = mapper or AmiMapper(MapperConfig())
    out: list[PbxEvent] = []
    for i, packet in enumerate(packets(name)):
        out.extend(mapper.feed(packet, now=T0 + timedelta(seconds=i)))
    return out


def call_events(events: list[PbxEvent]) -> list[CallEvent]:
    return [e for e in events if isinstance(e, CallEvent)]


def summary(events: list[PbxEvent]) -> list[tuple[str, str | None]]:
    return [(type(e).__name__, e.extension) for e in call_events(events)]


def records(events: list[PbxEvent]) -> list[CallRecord]:
    state = PbxState()
    out = [r for e in events if (r := state.apply(e)) is not None]
    assert state.calls == {}  # every call the mapper opened, it also closed
    return out


# ---- (a) inbound, answered ----

def test_inbound_answered_events() -> None:
    events = call_events(run("ami-inbound-answered.txt"))
    assert summary(events) == [("CallRinging", "1001"), ("CallAnswered", "1001"), ("CallEnded", "1001")]
    ringing, answered, ended = events
    for e in events:
        assert e.call_id == "1795646870.0"  # the Linkedid
        assert e.direction is Direction.INBOUND
        assert e.number == "5133334444"
        assert e.ddr == "5121010001"
    assert isinstance(ringing, CallRinging) and ringing.caller_name == "Ext Caller"
    assert isinstance(answered, CallAnswered)
    assert isinstance(ended, CallEnded)
    assert ended.disposition is Disposition.ANSWERED
    assert ended.recording_ref == MONITOR + "20261125-224750-5133334444-5121010001-1795646870.0.wav"


def test_inbound_answered_record() -> None:
    [rec] = records(run("ami-inbound-answered.txt"))
    assert rec.extension == "1001"
    assert rec.pbx_call_id == "1795646870.0"
    assert rec.direction is Direction.INBOUND
    assert rec.remote_raw == "5133334444"
    assert rec.ddr_raw == "5121010001"
    assert rec.disposition is Disposition.ANSWERED
    assert not rec.missed
    assert rec.answered_at is not None and rec.answered_at > rec.started_at
    assert rec.recording_ref and rec.recording_ref.endswith("-1795646870.0.wav")


def test_did_from_trunk_exten_without_varset() -> None:
    """Without the FROM_DID VarSet (VarSet filtered out) the trunk leg's Exten still gives the DDR."""
    mapper = AmiMapper(MapperConfig())
    events = []
    for p in packets("ami-inbound-answered.txt"):
        if p.get("Event") != "VarSet":
            events.extend(mapper.feed(p, now=T0))
    ringing = call_events(events)[0]
    assert isinstance(ringing, CallRinging)
    assert ringing.ddr == "5121010001"
    assert ringing.number == "5133334444"


# ---- (b) inbound, caller abandons while ringing ----

def test_inbound_missed() -> None:
    events = call_events(run("ami-inbound-missed.txt"))
    assert summary(events) == [("CallRinging", "1001"), ("CallEnded", "1001")]
    ended = events[-1]
    assert isinstance(ended, CallEnded)
    assert ended.call_id == "1795646879.2"
    assert ended.direction is Direction.INBOUND
    assert ended.number == "5133334444" and ended.ddr == "5121010001"
    assert ended.disposition is Disposition.ABANDONED  # the caller hung up (CANCEL) first
    [rec] = records(events)
    assert rec.missed
    assert rec.answered_at is None
    assert rec.talk_seconds == 0
    assert rec.direction is Direction.INBOUND
    assert rec.remote_raw == "5133334444" and rec.ddr_raw == "5121010001"


# ---- (c) click-to-call (Originate 1001 → 5199998888) ----

def test_click_to_call() -> None:
    events = call_events(run("ami-click-to-call.txt"))
    # the Originate rings 1001's own phone first: that is not an inbound call, no CallRinging
    assert summary(events) == [("CallDialing", "1001"), ("CallAnswered", "1001"), ("CallEnded", "1001")]
    for e in events:
        assert e.call_id == "1795646910.6"
        assert e.direction is Direction.OUTBOUND
        assert e.number == "5199998888"
        assert e.ddr is None
    ended = events[-1]
    assert isinstance(ended, CallEnded) and ended.disposition is Disposition.ANSWERED
    assert ended.recording_ref == MONITOR + "20261125-224832-1001-5199998888-1795646910.6.wav"
    [rec] = records(events)
    assert rec.direction is Direction.OUTBOUND and not rec.missed
    assert rec.remote_raw == "5199998888" and rec.answered_at is not None


# ---- (d) internal 1001 → 1002, blind transfer to 1003 ----

def test_blind_transfer() -> None:
    events = call_events(run("ami-blind-transfer.txt"))
    assert {e.call_id for e in events} == {"1795646921.8"}  # one call id through the transfer
    assert all(e.direction is Direction.INTERNAL for e in events)
    assert summary(events) == [
        ("CallRinging", "1002"), ("CallDialing", "1001"),
        ("CallAnswered", "1002"), ("CallAnswered", "1001"),
        ("CallTransferred", "1001"),
        ("CallRinging", "1003"), ("CallAnswered", "1003"),
        ("CallEnded", "1003"), ("CallEnded", "1002"),
    ]
    by = {(type(e).__name__, e.extension): e for e in events}
    assert by[("CallDialing", "1001")].number == "1002"
    assert by[("CallRinging", "1002")].number == "1001"
    assert by[("CallRinging", "1003")].number == "1002"  # the transferee now calls 1003
    transferred = by[("CallTransferred", "1001")]
    assert isinstance(transferred, CallTransferred)
    assert transferred.target == "1003" and not transferred.attended
    assert transferred.recording_ref == MONITOR + "20261125-224841-1001-1002-1795646921.8.wav"
    # the Unhold Asterisk sends before the BlindTransfer is not a resume of a held call
    assert not any(isinstance(e, CallHeld | CallResumed) for e in events)

    recs = {r.extension: r for r in records(events)}
    assert set(recs) == {"1001", "1002", "1003"}
    assert recs["1001"].disposition is Disposition.TRANSFERRED
    assert recs["1002"].disposition is Disposition.ANSWERED
    assert recs["1003"].disposition is Disposition.ANSWERED
    assert all(r.direction is Direction.INTERNAL and not r.missed for r in recs.values())


def test_blind_transfer_by_phone_sip_refer() -> None:
    events = call_events(run("ami-blind-transfer-sip-refer.txt"))
    transfers = [e for e in events if isinstance(e, CallTransferred)]
    assert [(t.extension, t.target, t.attended) for t in transfers] == [("1001", "1003", False)]
    ended = {e.extension: e.disposition for e in events if isinstance(e, CallEnded)}
    assert ended == {"1002": Disposition.ANSWERED, "1003": Disposition.ANSWERED}


# ---- (e) internal 1001 → 1002, attended transfer (Atxfer) to 1003 ----

def test_attended_transfer() -> None:
    """1003 is consulted by 1001 (a call of its own, with 1001), then talks with 1002 from the
    transfer on: Asterisk's CDR has the same two rows for 1003 (the Local;2 → 1003 dial, then ;1 ↔ 1002)."""
    events = call_events(run("ami-attended-transfer.txt"))
    call, consultation = "1795646954.17", "1795646958.21"  # the target channel's Uniqueid
    assert {e.call_id for e in events} == {call, consultation}
    assert summary(events) == [
        ("CallDialing", "1001"), ("CallRinging", "1002"),
        ("CallAnswered", "1002"), ("CallAnswered", "1001"),
        ("CallHeld", "1001"), ("CallConsulting", "1001"),  # 1001 holds 1002 and consults 1003
        ("CallRinging", "1003"), ("CallAnswered", "1003"),
        ("CallTransferred", "1001"),  # 1001 hangs up: 1002 and 1003 are joined
        ("CallEnded", "1003"), ("CallAnswered", "1003"),  # the consultation ends, the transferred call starts
        ("CallEnded", "1003"), ("CallEnded", "1002"),
    ]
    consulting = next(e for e in events if isinstance(e, CallConsulting))
    assert consulting.target == "1003" and consulting.number == "1002"
    ring = next(e for e in events if isinstance(e, CallRinging) and e.extension == "1003")
    assert (ring.call_id, ring.direction, ring.number) == (consultation, Direction.INTERNAL, "1001")
    joined = [e for e in events if isinstance(e, CallAnswered) and e.extension == "1003"][-1]
    assert (joined.call_id, joined.direction, joined.number) == (call, Direction.INTERNAL, "1002")
    transferred = next(e for e in events if isinstance(e, CallTransferred))
    assert transferred.attended and transferred.target == "1003"
    recs = {(r.extension, r.pbx_call_id): r for r in records(events)}
    assert recs["1001", call].disposition is Disposition.TRANSFERRED
    assert recs["1002", call].disposition is Disposition.ANSWERED
    consult, after = recs["1003", consultation], recs["1003", call]
    assert (consult.direction, consult.remote_raw, consult.disposition) == (Direction.INTERNAL, "1001",
                                                                             Disposition.ANSWERED)
    assert consult.recording_ref is None  # 1001's recording is of the call with 1002, not of this talk
    assert (after.direction, after.remote_raw, after.disposition) == (Direction.INTERNAL, "1002", Disposition.ANSWERED)
    assert after.started_at == after.answered_at == consult.ended_at  # it starts at the transfer


@pytest.mark.parametrize("unhold_first", [True, False])
def test_consultation_cancelled_resumes(unhold_first: bool) -> None:
    """The consulted party hangs up: Asterisk puts the transferer back in the call's bridge."""
    mapper = AmiMapper(MapperConfig())
    packets_ = packets("ami-attended-transfer.txt")
    cut = next(i for i, p in enumerate(packets_) if p.get("Event") == "HangupRequest")
    events = mapper.feed_all(packets_[:cut], now=T0)
    assert isinstance(call_events(events)[-1], CallAnswered)  # 1003 answered the consultation
    back = [Packet({"Event": "Unhold", "Channel": "PJSIP/1001-00000011", "Uniqueid": "1795646954.17",
                    "Linkedid": "1795646954.17"}),
            Packet({"Event": "BridgeLeave", "Channel": "PJSIP/1001-00000011", "Uniqueid": "1795646954.17",
                    "BridgeUniqueid": "c1d91c07-f905-4687-aa88-03dafb969926"}),
            Packet({"Event": "BridgeEnter", "Channel": "PJSIP/1001-00000011", "Uniqueid": "1795646954.17",
                    "Linkedid": "1795646954.17", "BridgeUniqueid": "5660856c-68d1-47f6-b9ff-44c1c2e5b0d5"})]
    if not unhold_first:
        back = back[1:] + back[:1]
    out = call_events(mapper.feed_all(back, now=T0))
    assert summary(out) == [("CallResumed", "1001")]
    assert not mapper.channels["1795646954.17"].consulting


# ---- (r) on-demand MixMonitor during 1001 → 1002 ----

def test_on_demand_recording() -> None:
    """A record carries one recording reference: the latest MixMonitor file of the leg, here the
    on-demand one the CTI started (the dialplan's own file is the one before it)."""
    events = call_events(run("ami-mixmonitor-action.txt"))
    assert summary(events) == [("CallRinging", "1002"), ("CallDialing", "1001"), ("CallAnswered", "1002"),
                               ("CallAnswered", "1001"), ("CallEnded", "1002"), ("CallEnded", "1001")]
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert {e.recording_ref for e in ended} == {MONITOR + "ondemand-PJSIP-1001-00000016.wav"}
    assert all(e.disposition is Disposition.ANSWERED and e.direction is Direction.INTERNAL for e in ended)


# ---- (h) a recording played to 1002 (Originate into the playback context) ----

def test_recording_playback_is_no_call() -> None:
    """The Originate rings 1002's own phone to play a file: no customer call, nothing to record."""
    mapper = AmiMapper(MapperConfig())
    events = run("ami-recording-playback.txt", mapper)
    assert call_events(events) == []
    states = [(e.extension, e.state) for e in events if isinstance(e, ExtensionStateChanged)]
    assert ("1002", ExtensionState.IN_CALL) in states  # the phone is busy meanwhile all the same


# ---- (a'') inbound call faked with a Local channel ----

def test_inbound_through_a_local_channel() -> None:
    events = call_events(run("ami-inbound-local-originate.txt"))
    assert summary(events) == [("CallRinging", "1001"), ("CallAnswered", "1001"), ("CallEnded", "1001")]
    for e in events:
        assert (e.call_id, e.direction, e.number, e.ddr) == (
            "1795647025.32", Direction.INBOUND, "5133334444", "5121010001")
    ended = events[-1]
    assert isinstance(ended, CallEnded) and ended.disposition is Disposition.ANSWERED
    assert ended.recording_ref == MONITOR + "20261125-225025-5133334444-5121010001-1795647025.33.wav"


# ---- hold (ami-extension-state.txt: 1003 puts 1002 on hold) ----

def test_hold_and_resume() -> None:
    events = call_events(run("ami-extension-state.txt"))
    assert summary(events) == [
        ("CallDialing", "1002"), ("CallRinging", "1003"),
        ("CallAnswered", "1003"), ("CallAnswered", "1002"),
        ("CallHeld", "1003"), ("CallResumed", "1003"),
        ("CallEnded", "1002"), ("CallEnded", "1003"),
    ]
    held = next(e for e in events if isinstance(e, CallHeld))
    assert held.call_id == "1795647001.29" and held.number == "1002"
    recs = records(events)
    assert {(r.extension, r.disposition) for r in recs} == {
        ("1002", Disposition.ANSWERED), ("1003", Disposition.ANSWERED)}


# ---- (g) extension states ----

def test_extension_states() -> None:
    events = [e for e in run("ami-extension-state.txt") if isinstance(e, ExtensionStateChanged)]
    by_ext: dict[str, list[ExtensionState]] = {}
    for e in events:
        by_ext.setdefault(e.extension or "", []).append(e.state)
    S = ExtensionState
    assert by_ext["1001"] == [S.IDLE]
    assert by_ext["1002"] == [S.IDLE, S.IN_CALL, S.ON_HOLD, S.IN_CALL, S.IDLE]  # 1002 is the held one
    assert by_ext["1003"] == [S.IDLE, S.RINGING, S.IN_CALL, S.IDLE, S.OFFLINE, S.IDLE]
    assert "1999" not in by_ext  # its -1 status came only as the reply to an ExtensionState action
    assert "pstn" not in by_ext  # PJSIP/pstn is no extension
    state = PbxState()
    for e in events:
        state.apply(e)
    assert state.extensions["1003"] is S.IDLE


def test_known_extensions_filter() -> None:
    mapper = AmiMapper(MapperConfig(known_extensions=frozenset({"1001", "1002"})))
    events = run("ami-extension-state.txt", mapper)
    assert {e.extension for e in events} <= {"1001", "1002"}
    assert any(isinstance(e, CallDialing) and e.extension == "1002" for e in events)


# ---- times ----

def test_eventtv_gives_the_time() -> None:
    mapper = AmiMapper(MapperConfig())
    out: list[PbxEvent] = []
    for p in packets("ami-inbound-answered.txt"):
        if p.get("Event") in ("DialBegin", "Newstate", "Hangup"):
            p = Packet(p)
            p["EventTV"] = "2026-11-25T22:47:50.250000-0300"
        out.extend(mapper.feed(p))
    ringing = call_events(out)[0]
    assert ringing.at == datetime(2026, 11, 26, 1, 47, 50, 250000, tzinfo=UTC)


def test_now_is_used_without_eventtv() -> None:
    events = call_events(run("ami-inbound-answered.txt"))
    assert all(T0 <= e.at <= T0 + timedelta(hours=1) for e in events)


def test_irrelevant_events_are_ignored() -> None:
    mapper = AmiMapper(MapperConfig())
    for name in ("Newexten", "RTCPSent", "QueueMemberStatus", "Cdr", "SuccessfulAuth"):
        assert mapper.feed(Packet({"Event": name, "Channel": "PJSIP/1001-00000001"}), now=T0) == []
    assert mapper.feed(Packet({"Response": "Success"}), now=T0) == []
    assert mapper.feed(Packet({"Event": "VarSet", "Variable": "RTPAUDIOQOS", "Value": "x",
                               "Uniqueid": "1.1", "Channel": "PJSIP/1001-00000001"}), now=T0) == []
    assert mapper.channels == {}


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("ami-*.txt")))
def test_every_recording_leaves_no_state_behind(name: str) -> None:
    mapper = AmiMapper(MapperConfig())
    events = run(name, mapper)
    assert mapper.channels == {} and mapper.calls == {} and mapper.bridges == {}
    records(events)  # PbxState accepts them and ends every call it opened


# ---- park and retrieve (no recording: events shaped as Asterisk 20 documents them) ----

def test_parked_inbound_call_picked_up_by_another_extension() -> None:
    """(a) up to the answer, then 1001 parks the caller (Park action) and 1003 retrieves slot 701."""
    mapper = AmiMapper(MapperConfig())
    recorded = packets("ami-inbound-answered.txt")
    cut = next(i for i, p in enumerate(recorded) if p.get("Event") == "HangupRequest")
    events = mapper.feed_all(recorded[:cut], now=T0)
    caller = {"Channel": "PJSIP/pstn-00000000", "Uniqueid": "1795646870.0", "Linkedid": "1795646870.0"}
    agent = {"Channel": "PJSIP/1001-00000001", "Uniqueid": "1795646870.1", "Linkedid": "1795646870.0"}
    picker = {"Channel": "PJSIP/1003-00000040", "Uniqueid": "1795646880.64", "Linkedid": "1795646880.64"}
    later = T0 + timedelta(seconds=30)
    events += mapper.feed_all([Packet(p) for p in (
        {"Event": "BridgeLeave", **caller, "BridgeUniqueid": "d62b74cf-624d-43c3-8389-f6789933da96"},
        {"Event": "BridgeEnter", **caller, "BridgeUniqueid": "parking-lot-default"},
        {"Event": "ParkedCall", "ParkeeChannel": caller["Channel"], "ParkeeUniqueid": caller["Uniqueid"],
         "ParkeeLinkedid": caller["Linkedid"], "ParkerDialString": "PJSIP/1001", "Parkinglot": "default",
         "ParkingSpace": "701", "ParkingTimeout": "45", "ParkingDuration": "0"},
        {"Event": "Hangup", **agent, "Cause": "16"},  # Asterisk hangs up the parker
    )], now=T0 + timedelta(seconds=10))
    assert mapper.parked == {"701": "1795646870.0"}
    events += mapper.feed_all([Packet(p) for p in (
        {"Event": "Newchannel", **picker, "Context": "internal", "Exten": "701", "CallerIDNum": "1003"},
        {"Event": "BridgeLeave", **caller, "BridgeUniqueid": "parking-lot-default"},
        {"Event": "UnParkedCall", "ParkeeUniqueid": caller["Uniqueid"], "ParkingSpace": "701"},
        {"Event": "BridgeEnter", **picker, "BridgeUniqueid": "retrieval-bridge"},
        {"Event": "BridgeEnter", **caller, "BridgeUniqueid": "retrieval-bridge"},
    )], now=later)
    events += mapper.feed_all([Packet({"Event": "Hangup", **picker, "Cause": "16"})], now=later + timedelta(seconds=5))
    calls = call_events(events)
    assert summary(calls) == [("CallRinging", "1001"), ("CallAnswered", "1001"), ("CallParked", "1001"),
                              ("CallAnswered", "1003"), ("CallEnded", "1003")]
    parked = calls[2]
    assert isinstance(parked, CallParked) and parked.slot == "701" and parked.call_id == "1795646870.0"
    picked = calls[3]
    assert (picked.direction, picked.number, picked.ddr) == (Direction.INBOUND, "5133334444", "5121010001")
    assert mapper.parked == {}
    state = PbxState()
    recs = {r.extension: r for e in calls if (r := state.apply(e)) is not None}
    assert recs["1001"].disposition is Disposition.TRANSFERRED
    assert recs["1003"].disposition is Disposition.ANSWERED and recs["1003"].talk_seconds == 5
    assert recs["1003"].remote_raw == "5133334444" and not recs["1003"].missed


def test_a_caller_without_a_name_has_no_name_not_the_word_unknown() -> None:
    data = (FIXTURES / "ami-inbound-answered.txt").read_bytes().replace(b"Ext Caller", b"<unknown>")
    assert b"<unknown>" in data
    ringing = [e for e in AmiMapper().feed_all(PacketReader().feed(data)) if isinstance(e, CallRinging)]
    assert len(ringing) == 1 and ringing[0].caller_name is None


def _core_show_channel(**headers: str) -> Packet:
    base = {"Event": "CoreShowChannel", "ActionID": "r1", "ChannelState": "6", "ChannelStateDesc": "Up",
            "CallerIDNum": "1001", "CallerIDName": "", "Language": "en", "AccountCode": "", "Priority": "1",
            "Duration": "00:00:12", "BridgeId": "b1", "Application": "AppDial", "ApplicationData": "(Outgoing Line)"}
    return Packet({**base, **headers})


def test_a_click_to_call_found_by_a_resync_is_outbound_to_the_dialled_number() -> None:
    """An Originate rings the agent's phone first, so its channel is 'connected' to the agent himself:
    the customer's number is the dialplan extension the call runs at (and the trunk's caller side)."""
    agent = _core_show_channel(Channel="PJSIP/1001-00000010", Uniqueid="1795650000.40", Linkedid="1795650000.40",
                               Context="from-internal", Exten="051987654321", ConnectedLineNum="1001",
                               Application="Dial", ApplicationData="PJSIP/051987654321@trunk")
    trunk = _core_show_channel(Channel="PJSIP/trunk-00000011", Uniqueid="1795650001.41", Linkedid="1795650000.40",
                               Context="from-trunk", Exten="s", CallerIDNum="051987654321",
                               ConnectedLineNum="1001")
    mapper = AmiMapper()
    mapper.load_active_channels([agent, trunk])
    [leg] = [c for c in mapper.channels.values() if c.ext == "1001"]
    assert (leg.direction, leg.number, leg.answered) == (Direction.OUTBOUND, "051987654321", True)


def test_a_resynced_call_from_one_extension_to_another_stays_internal() -> None:
    caller = _core_show_channel(Channel="PJSIP/1001-00000020", Uniqueid="1795650100.50", Linkedid="1795650100.50",
                                Context="from-internal", Exten="1002", ConnectedLineNum="1002")
    mapper = AmiMapper()
    mapper.load_active_channels([caller])
    [leg] = [c for c in mapper.channels.values() if c.ext == "1001"]
    assert (leg.direction, leg.number) == (Direction.INTERNAL, "1002")
