"""The gateway's state model, event by event (pure: no driver, no database)."""

from datetime import timedelta

from tests.conftest import T0
from tui_caa.domain import Direction, Disposition, ExtensionState
from tui_caa.domain.events import (
    ActiveCall,
    CallAnswered,
    CallDialing,
    CallEnded,
    CallHeld,
    CallParked,
    CallResumed,
    CallRinging,
    CallTransferred,
    ExtensionStateChanged,
    PbxSnapshot,
)
from tui_caa.domain.telephony import CallState
from tui_caa.gateway.state import PbxState


def at(seconds: float):  # type: ignore[no-untyped-def]
    return T0 + timedelta(seconds=seconds)


def ring(call_id: str = "c1", ext: str = "1001", t: float = 0, **kw):  # type: ignore[no-untyped-def]
    return CallRinging(at=at(t), extension=ext, call_id=call_id, direction=Direction.INBOUND,
                       number=kw.pop("number", "051987654321"), ddr=kw.pop("ddr", "5121010001"), **kw)


def test_inbound_answered_call_becomes_a_record_with_talk_time() -> None:
    state = PbxState()
    assert state.apply(ring()) is None
    assert state.call("1001", "c1").state is CallState.RINGING
    state.apply(CallAnswered(at=at(5), extension="1001", call_id="c1"))
    state.apply(CallHeld(at=at(20), extension="1001", call_id="c1"))
    assert state.call("1001", "c1").state is CallState.HELD
    state.apply(CallResumed(at=at(30), extension="1001", call_id="c1"))
    record = state.apply(CallEnded(at=at(65), extension="1001", call_id="c1", disposition=Disposition.ANSWERED,
                                   recording_ref="r1.wav"))
    assert record is not None and state.calls == {}
    assert (record.direction, record.remote_raw, record.ddr_raw) == (Direction.INBOUND, "051987654321", "5121010001")
    assert (record.started_at, record.answered_at, record.ended_at) == (at(0), at(5), at(65))
    assert (record.talk_seconds, record.missed, record.disposition, record.recording_ref) == (
        60, False, Disposition.ANSWERED, "r1.wav")


def test_unanswered_inbound_is_missed_outbound_is_not() -> None:
    state = PbxState()
    state.apply(ring())
    missed = state.apply(CallEnded(at=at(25), extension="1001", call_id="c1", disposition=Disposition.NO_ANSWER))
    assert missed.missed and missed.talk_seconds == 0 and missed.answered_at is None
    state.apply(CallDialing(at=at(30), extension="1001", call_id="c2", direction=Direction.OUTBOUND, number="0519"))
    unanswered = state.apply(CallEnded(at=at(60), extension="1001", call_id="c2", disposition=Disposition.NO_ANSWER))
    assert not unanswered.missed and unanswered.direction is Direction.OUTBOUND


def test_answered_disposition_without_answer_is_corrected() -> None:
    state = PbxState()
    state.apply(ring())
    record = state.apply(CallEnded(at=at(9), extension="1001", call_id="c1", disposition=Disposition.ANSWERED))
    assert record.disposition is Disposition.NO_ANSWER and record.missed


def test_transfer_gives_each_extension_its_record() -> None:
    state = PbxState()
    state.apply(ring())
    state.apply(CallAnswered(at=at(3), extension="1001", call_id="c1"))
    first = state.apply(CallTransferred(at=at(13), extension="1001", call_id="c1", target="1002"))
    assert (first.disposition, first.talk_seconds, first.missed) == (Disposition.TRANSFERRED, 10, False)
    state.apply(ring(ext="1002", t=13))
    state.apply(CallAnswered(at=at(15), extension="1002", call_id="c1"))
    second = state.apply(CallEnded(at=at(75), extension="1002", call_id="c1", disposition=Disposition.ANSWERED))
    assert (second.extension, second.talk_seconds, second.remote_raw) == ("1002", 60, "051987654321")


def test_parked_call_leaves_the_extension() -> None:
    state = PbxState()
    state.apply(ring())
    state.apply(CallAnswered(at=at(2), extension="1001", call_id="c1"))
    record = state.apply(CallParked(at=at(4), extension="1001", call_id="c1", slot="701"))
    assert record.disposition is Disposition.TRANSFERRED and state.calls_of("1001") == []


def test_events_for_a_call_never_seen_start_it_now() -> None:
    state = PbxState()
    state.apply(CallAnswered(at=at(7), extension="1003", call_id="x", direction=Direction.OUTBOUND, number="0519"))
    call = state.call("1003", "x")
    assert (call.started_at, call.answered_at, call.direction, call.state) == (at(7), at(7), Direction.OUTBOUND,
                                                                               CallState.ACTIVE)


def test_extension_states() -> None:
    state = PbxState()
    state.apply(ExtensionStateChanged(at=at(0), extension="1001", state=ExtensionState.RINGING))
    assert state.extensions == {"1001": ExtensionState.RINGING}
    assert state.snapshot(at(1), "1002").extensions == {"1002": ExtensionState.UNKNOWN}


def test_reset_keeps_known_times_and_records_calls_that_vanished() -> None:
    state = PbxState()
    state.apply(ring("c1"))
    state.apply(CallAnswered(at=at(2), extension="1001", call_id="c1"))
    state.apply(ring("c2", ext="1002", t=1))
    snapshot = PbxSnapshot(at=at(100), extensions={"1001": ExtensionState.IN_CALL, "1002": ExtensionState.IDLE},
                           calls=(ActiveCall(call_id="c1", extension="1001", direction=Direction.INBOUND,
                                             state=CallState.ACTIVE, number="051987654321"),))
    records = state.reset(snapshot)
    assert [(r.pbx_call_id, r.disposition, r.missed, r.ended_at) for r in records] == [
        ("c2", Disposition.NO_ANSWER, True, at(100))]
    kept = state.call("1001", "c1")
    assert (kept.started_at, kept.answered_at) == (at(0), at(2))
    assert state.extensions["1002"] is ExtensionState.IDLE


def test_reset_keeps_what_the_events_told_over_a_poorer_snapshot() -> None:
    """A click-to-call seen live: a channel list after a reconnect may not know whom it dials."""
    state = PbxState()
    state.apply(CallDialing(at=at(0), extension="1001", call_id="c1", direction=Direction.OUTBOUND,
                            number="051987654321"))
    snapshot = PbxSnapshot(at=at(30), calls=(ActiveCall(call_id="c1", extension="1001", direction=Direction.INTERNAL,
                                                        state=CallState.ACTIVE, number=None),))
    state.reset(snapshot)
    kept = state.call("1001", "c1")
    assert (kept.direction, kept.number, kept.state) == (Direction.OUTBOUND, "051987654321", CallState.ACTIVE)
    # a call first seen in the snapshot takes the snapshot's word
    fresh = PbxSnapshot(at=at(31), calls=(*snapshot.calls, ActiveCall(
        call_id="c9", extension="1002", direction=Direction.INBOUND, state=CallState.RINGING, number="5133334444",
        ddr="5121010001")))
    state.reset(fresh)
    assert state.call("1002", "c9").ddr == "5121010001"
