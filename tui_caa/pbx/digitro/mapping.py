"""Dígitro events (name + JSON data) → domain events, and the live model `snapshot()` is built from.

A call is seen by each device (extension) on its own: a *leg* per (ID_CHAMADA, DISPOSITIVO). Call
ids stay in Dígitro's own format ("08/07/24 10:46:19 010A 0974/00"). Events that change nothing (a
second ringing for a leg already ringing, e.g. between the resync query and the first events) are
dropped, so the gateway never sees a call twice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tui_caa.domain.events import (
    ActiveCall,
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
from tui_caa.domain.telephony import CallState, Direction, Disposition, ExtensionState
from tui_caa.pbx.digitro import protocol as p

log = logging.getLogger(__name__)


class MalformedEvent(ValueError):
    """An event the driver cannot use: bad JSON, a missing field, an unknown code."""


@dataclass(slots=True)
class Leg:
    call_id: str
    extension: str
    direction: Direction
    state: CallState
    number: str | None
    ddr: str | None
    started_at: datetime
    answered_at: datetime | None = None

    def active_call(self) -> ActiveCall:
        return ActiveCall(call_id=self.call_id, extension=self.extension, direction=self.direction, state=self.state,
                          number=self.number, ddr=self.ddr, started_at=self.started_at, answered_at=self.answered_at)


@dataclass(frozen=True, slots=True)
class FieldNames:
    ddr: str = "DDR"
    recording: str = "ID_GRAVACAO"


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    raise MalformedEvent(f"field {name} is {type(value).__name__}, not text")


def _required(data: Mapping[str, Any], name: str, event: str) -> str:
    value = _text(data, name)
    if value is None:
        raise MalformedEvent(f"{event} without {name}")
    return value


class DigitroMapper:
    def __init__(self, event_names: Mapping[str, str], fields: FieldNames, now: Callable[[], datetime]) -> None:
        self._meaning = {name: meaning for meaning, name in event_names.items()}
        self.fields = fields
        self._now = now
        self.legs: dict[tuple[str, str], Leg] = {}
        self.extensions: dict[str, ExtensionState] = {}
        self.slots: set[str] = set()  # parking positions seen in use

    def meaning(self, event_name: str) -> str | None:
        return self._meaning.get(event_name)

    # ---- the resync: one device's state query answer ----
    def load_device(self, extension: str, answer: Mapping[str, Any]) -> None:
        """Fills the model from a state query (`ESTADO`, `CHAMADAS`); raises MalformedEvent."""
        code = _text(answer, p.STATE)
        self.extensions[extension] = p.DEVICE_STATES.get(code or "", ExtensionState.UNKNOWN)
        calls = answer.get(p.CALLS) or []
        if not isinstance(calls, list):
            raise MalformedEvent(f"{p.CALLS} of device {extension} is not a list")
        now = self._now()
        for item in calls:
            if not isinstance(item, dict):
                raise MalformedEvent(f"a call of device {extension} is not an object")
            call_id = _required(item, p.CALL_ID, "a call of the state query")
            state = p.CALL_STATES.get(_text(item, p.STATE) or "")
            if state is None:
                raise MalformedEvent(f"call {call_id} of device {extension} has unknown {p.STATE} {item.get(p.STATE)!r}")
            leg = Leg(call_id, extension, self._direction(item, default=Direction.INBOUND), state,
                      _text(item, p.REMOTE), _text(item, self.fields.ddr), now,
                      answered_at=now if state in (CallState.ACTIVE, CallState.HELD, CallState.CONSULTING) else None)
            self.legs[(call_id, extension)] = leg

    # ---- live events ----
    def feed(self, name: str, data: Any) -> list[PbxEvent]:
        """The domain events of one Dígitro event; [] for events that change nothing or are not
        call events. Raises MalformedEvent for data the driver cannot use."""
        meaning = self._meaning.get(name)
        if meaning is None or meaning == "channel_opened":
            return []
        if not isinstance(data, dict):
            raise MalformedEvent(f"{name}: data is not a JSON object")
        if meaning == "device_state":
            return self._device_state(name, data)
        extension = _required(data, p.DEVICE, name)
        call_id = _required(data, p.CALL_ID, name)
        handler = getattr(self, f"_on_{meaning}")
        return handler(call_id, extension, data)

    def _device_state(self, name: str, data: dict[str, Any]) -> list[PbxEvent]:
        extension = _required(data, p.DEVICE, name)
        code = _required(data, p.STATE, name)
        state = p.DEVICE_STATES.get(code)
        if state is None:
            raise MalformedEvent(f"{name}: unknown {p.STATE} {code!r} of device {extension}")
        if self.extensions.get(extension) is state:
            return []
        self.extensions[extension] = state
        return [ExtensionStateChanged(at=self._now(), extension=extension, state=state)]

    def _direction(self, data: Mapping[str, Any], default: Direction) -> Direction:
        code = _text(data, p.DIRECTION)
        if code is None:
            return default
        direction = p.DIRECTIONS.get(code)
        if direction is None:
            raise MalformedEvent(f"unknown {p.DIRECTION} {code!r}")
        return direction

    def _leg(self, call_id: str, extension: str, data: dict[str, Any], state: CallState, default: Direction) -> Leg:
        """The leg, created from the event's data when it was not seen before (a call transferred in)."""
        leg = self.legs.get((call_id, extension))
        if leg is None:
            number = _text(data, p.REMOTE) or _text(data, p.ORIGINATOR if default is Direction.INBOUND else p.DESTINATION)
            leg = Leg(call_id, extension, self._direction(data, default), state, number,
                      _text(data, self.fields.ddr), self._now())
            self.legs[(call_id, extension)] = leg
        else:  # later events may carry what the first one lacked
            leg.number = leg.number or _text(data, p.REMOTE)
            leg.ddr = leg.ddr or _text(data, self.fields.ddr)
        return leg

    def _event(self, cls: type[CallEvent], leg: Leg, **extra: Any) -> CallEvent:
        return cls(at=self._now(), extension=leg.extension, call_id=leg.call_id, direction=leg.direction,
                   number=leg.number, ddr=leg.ddr, **extra)

    def _on_ringing(self, call_id: str, extension: str, data: dict[str, Any]) -> list[PbxEvent]:
        if (call_id, extension) in self.legs:
            return []
        leg = self._leg(call_id, extension, data, CallState.RINGING, Direction.INBOUND)
        return [self._event(CallRinging, leg, caller_name=_text(data, p.CALLER_NAME))]

    def _on_dialing(self, call_id: str, extension: str, data: dict[str, Any]) -> list[PbxEvent]:
        if (call_id, extension) in self.legs:
            return []
        leg = self._leg(call_id, extension, data, CallState.DIALING, Direction.OUTBOUND)
        return [self._event(CallDialing, leg)]

    def _on_answered(self, call_id: str, extension: str, data: dict[str, Any]) -> list[PbxEvent]:
        leg = self._leg(call_id, extension, data, CallState.ACTIVE, Direction.INBOUND)
        if leg.answered_at is not None and leg.state is CallState.ACTIVE:
            return []
        leg.state, leg.answered_at = CallState.ACTIVE, leg.answered_at or self._now()
        return [self._event(CallAnswered, leg)]

    def _on_held(self, call_id: str, extension: str, data: dict[str, Any]) -> list[PbxEvent]:
        leg = self._known(call_id, extension)
        if leg.state is CallState.HELD:
            return []
        leg.state = CallState.HELD
        return [self._event(CallHeld, leg)]

    def _on_retrieved(self, call_id: str, extension: str, data: dict[str, Any]) -> list[PbxEvent]:
        leg = self._known(call_id, extension)
        if leg.state is CallState.ACTIVE:
            return []
        leg.state = CallState.ACTIVE
        return [self._event(CallResumed, leg)]

    def _on_consulting(self, call_id: str, extension: str, data: dict[str, Any]) -> list[PbxEvent]:
        leg = self._known(call_id, extension)
        target = _required(data, p.TARGET_DEVICE, "a consultation")
        if leg.state is CallState.CONSULTING:
            return []
        leg.state = CallState.CONSULTING
        return [self._event(CallConsulting, leg, target=target)]

    def _on_transferred(self, call_id: str, extension: str, data: dict[str, Any]) -> list[PbxEvent]:
        target = _required(data, p.TARGET_DEVICE, "a transfer")
        leg = self._gone(call_id, extension, data)
        if leg is None:
            return []
        return [self._event(CallTransferred, leg, target=target, attended=bool(data.get(p.CONSULTED)),
                            recording_ref=_text(data, self.fields.recording))]

    def _on_parked(self, call_id: str, extension: str, data: dict[str, Any]) -> list[PbxEvent]:
        slot = _required(data, p.SLOT, "a park")
        leg = self._gone(call_id, extension, data)
        self.slots.add(slot)
        if leg is None:
            return []
        return [self._event(CallParked, leg, slot=slot, recording_ref=_text(data, self.fields.recording))]

    def _on_ended(self, call_id: str, extension: str, data: dict[str, Any]) -> list[PbxEvent]:
        code = _text(data, p.REASON)
        disposition = p.REASONS.get(code or "")
        leg = self._gone(call_id, extension, data)
        if leg is None:
            return []
        if disposition is None:  # no or unknown reason: what the leg itself went through
            if code is not None:
                log.warning("Dígitro: call %s ended with unknown %s %r", call_id, p.REASON, code)
            disposition = Disposition.ANSWERED if leg.answered_at else Disposition.NO_ANSWER
        return [self._event(CallEnded, leg, disposition=disposition, recording_ref=_text(data, self.fields.recording))]

    def _known(self, call_id: str, extension: str) -> Leg:
        leg = self.legs.get((call_id, extension))
        if leg is None:
            raise MalformedEvent(f"call {call_id} is not known at device {extension}")
        return leg

    def _gone(self, call_id: str, extension: str, data: dict[str, Any]) -> Leg | None:
        """The leg leaves. One never seen came and went while the channel was down (or before the
        resync query): the resync already accounted for it, so it says nothing now."""
        return self.legs.pop((call_id, extension), None)

    def active_calls(self) -> tuple[ActiveCall, ...]:
        return tuple(leg.active_call() for leg in self.legs.values())

    def call_at(self, extension: str, states: tuple[CallState, ...]) -> str | None:
        for leg in self.legs.values():
            if leg.extension == extension and leg.state in states:
                return leg.call_id
        return None
