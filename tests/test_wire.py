"""The gateway's messages and refusals survive the trip as JSON, and malformed ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tui_caa.domain import Customer, CustomerMatch, ExtensionState, Phone, PhoneLookup, TrafficSource
from tui_caa.domain import events as ev
from tui_caa.domain.errors import NotAllowed, PbxError
from tui_caa.domain.events import ActiveCall, PbxSnapshot
from tui_caa.domain.telephony import CallState, Capability, CommandFailure, Direction, Disposition
from tui_caa.pbx.asterisk.errors import AmiError
from tui_caa.protocol.link_errors import WireError
from tui_caa.protocol.messages import (
    CallsRecorded,
    GatewayProblems,
    LinkState,
    LinkStatus,
    PbxUpdate,
    ScreenPop,
    StateSnapshot,
    Synced,
)
from tui_caa.protocol.wire import decode_message, encode_message, error_from_dict, error_to_dict

AT = datetime(2026, 12, 3, 14, 30, 5, 123000, tzinfo=UTC)
SOURCE = TrafficSource(id=3, name="Jornal", ddr_raw="(51) 2101-0001", ddr_e164="+555121010001")
LOOKUP = PhoneLookup(number="51987654321", e164="+5551987654321", exact=(CustomerMatch(
    customer=Customer(id=7, name="Ana Souza", phones=(Phone(slot="celular", raw="(51) 98765-4321"),)),
    matched_slots=("celular",)),))

EVERY_EVENT = [
    ev.DriverConnected(at=AT, pbx="Asterisk"),
    ev.DriverDisconnected(at=AT, reason="cut"),
    ev.DriverResynced(at=AT),
    ev.ExtensionStateChanged(at=AT, extension="1001", state=ExtensionState.RINGING),
    ev.CallRinging(at=AT, extension="1001", call_id="c1", direction=Direction.INBOUND, number="051987654321",
                   ddr="5121010001", caller_name="Ana"),
    ev.CallDialing(at=AT, extension="1001", call_id="c1", direction=Direction.OUTBOUND, number="0"),
    ev.CallAnswered(at=AT, extension="1001", call_id="c1"),
    ev.CallHeld(at=AT, extension="1001", call_id="c1"),
    ev.CallResumed(at=AT, extension="1001", call_id="c1"),  # same fields as CallHeld: only the tag tells
    ev.CallConsulting(at=AT, extension="1001", call_id="c1", target="1002"),
    ev.CallTransferred(at=AT, extension="1001", call_id="c1", target="1002", attended=True, recording_ref="r"),
    ev.CallParked(at=AT, extension="1001", call_id="c1", slot="701"),
    ev.CallEnded(at=AT, extension="1001", call_id="c1", disposition=Disposition.NO_ANSWER),
    ev.CallEnded(at=AT, extension="1002", call_id="c1", disposition=Disposition.ANSWERED_ELSEWHERE),
    ev.CommandFailed(at=AT, extension="1001", call_id="c1", command=Capability.HOLD,
                     reason=CommandFailure.HOLD_NOT_CONFIRMED),
    ev.CommandFailed(at=AT, extension="1001", call_id="c1", command=Capability.ATTENDED_TRANSFER,
                     reason=CommandFailure.TARGET_BUSY, target="1002"),
]


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: e.type)
def test_every_event_comes_back_as_its_own_class(event: ev.PbxEvent) -> None:
    message = PbxUpdate(event, SOURCE)
    back = decode_message(encode_message(message))
    assert back == message and type(back.event) is type(event)  # type: ignore[union-attr]


def test_every_event_class_is_covered() -> None:
    classes = {cls for cls in vars(ev).values() if isinstance(cls, type) and issubclass(cls, ev.PbxEvent)}
    assert classes - {ev.PbxEvent, ev.CallEvent} == {type(e) for e in EVERY_EVENT}


@pytest.mark.parametrize("message", [
    ScreenPop("1001", "c1", LOOKUP, SOURCE),
    ScreenPop("1001", "c1", None, None, error="CRM down"),
    LinkStatus(LinkState.RECONNECTING, "resync"),
    CallsRecorded("1001", ("c1", "c2")),
    Synced("abc"),
    GatewayProblems(("pbx driver failed (RuntimeError: boom); restarting in 0.5 s", "outbox unavailable")),
    GatewayProblems(()),
    StateSnapshot(PbxSnapshot(at=AT, extensions={"1001": ExtensionState.IN_CALL},
                              calls=(ActiveCall(call_id="c1", extension="1001", direction=Direction.INBOUND,
                                                state=CallState.ACTIVE, number="0519", started_at=AT),)),
                  LinkState.CONNECTED, {"c1": ScreenPop("1001", "c1", LOOKUP, SOURCE)}),
    StateSnapshot(PbxSnapshot(at=AT, extensions={}, calls=()), LinkState.RECONNECTING, {},
                  ("call recorder failed (OSError: disk I/O error); restarting in 1 s",)),
], ids=lambda m: type(m).__name__)
def test_other_messages_round_trip(message: object) -> None:
    assert decode_message(encode_message(message)) == message  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [
    b"not json", b"[]", b'{"type": "nope"}', b'{"type": "pbx", "event": {"type": "call_held"}}',
    b'{"type": "link", "state": "on fire", "reason": ""}', b'{"type": "pbx"}',
])
def test_malformed_messages_are_a_wire_error(raw: bytes) -> None:
    with pytest.raises(WireError):
        decode_message(raw)


def test_refusals_keep_their_kind_message_and_field() -> None:
    back = error_from_dict(error_to_dict(NotAllowed("not yours", field="call_id")), 403)
    assert type(back) is NotAllowed and (back.message, back.field) == ("not yours", "call_id")
    vendor = error_from_dict(error_to_dict(AmiError("Extension does not exist")), 502)
    assert type(vendor) is PbxError  # a vendor's own kind travels as the kind a console knows
    assert type(error_from_dict({"no": "body"}, 500)) is WireError
