"""From polled channel lists to domain events: Planetfone pushes nothing, so the driver compares
each poll with the one before and says what changed, once.

`read_view` turns one `CanaisAtivos` (+ `SituacaoAgente`) answer into a `View`: the extension legs
(one per extension channel, keyed by extension and call id), the parked calls, every channel of each
call. `Tracker.diff` compares a view with what it knows and returns a `Plan` (new legs, vanished
legs, changes); the driver looks up what a plan needs from the PBX (the DDR of a new inbound call,
the CDR of a call that ended), then `Tracker.commit` emits the events and keeps the new view.

What happened to a leg that vanished is said by what the driver asked the PBX to do with it
(`Intent`: a transfer, a park, a pickup) or else by the CDR, or else by its last state.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

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
from tui_caa.pbx.planetfone.cdr import CdrLeg

AGENT_STATES = {  # SituacaoAgente IdtStatus
    "L": ExtensionState.IDLE, "N": ExtensionState.OFFLINE, "A": ExtensionState.IN_CALL,
    "P": ExtensionState.DND, "T": ExtensionState.RINGING, "D": ExtensionState.DIALING,
}


@dataclass(frozen=True, slots=True)
class ChannelRow:
    name: str
    call_id: str
    uniqueid: str
    state: str
    caller_num: str
    caller_name: str
    exten: str
    context: str
    ext: str | None


@dataclass(frozen=True, slots=True)
class LegView:
    extension: str
    call_id: str
    channel: str
    state: CallState  # RINGING, DIALING, ACTIVE or HELD as polled
    direction: Direction
    number: str | None
    caller_name: str | None
    outgoing: bool  # the extension placed this call (else it was called)


@dataclass(slots=True)
class View:
    legs: dict[tuple[str, str], LegView] = field(default_factory=dict)
    channels: dict[str, list[ChannelRow]] = field(default_factory=dict)  # call id -> its channels
    parked: dict[str, ChannelRow] = field(default_factory=dict)  # slot -> the parked channel
    agents: dict[str, ExtensionState] = field(default_factory=dict)  # extension -> SituacaoAgente


@dataclass(frozen=True, slots=True)
class ViewRules:
    channel_pattern: re.Pattern[str]
    call_id_field: str
    ringing_states: frozenset[str]
    dialing_states: frozenset[str]
    held_contexts: frozenset[str]
    park_context: str


def read_view(channel_rows: Iterable[Mapping[str, str]], agent_rows: Iterable[Mapping[str, str]] | None,
              rules: ViewRules) -> View:
    view = View()
    for agent in agent_rows or ():
        ext = (agent.get("NroRamal") or "").strip()
        if ext:
            view.agents[ext] = AGENT_STATES.get((agent.get("IdtStatus") or "").strip().upper()[:1],
                                                ExtensionState.UNKNOWN)
    rows = []
    for raw in channel_rows:
        name = (raw.get("Channel") or "").strip()
        if not name:
            continue
        found = rules.channel_pattern.match(name)
        uniqueid = (raw.get("Uniqueid") or "").strip()
        call_id = (raw.get(rules.call_id_field) or "").strip() or uniqueid or name
        rows.append(ChannelRow(name=name, call_id=call_id, uniqueid=uniqueid, state=(raw.get("State") or "").strip(),
                               caller_num=(raw.get("CallerIDNum") or "").strip(),
                               caller_name=(raw.get("CallerIDName") or "").strip(),
                               exten=(raw.get("Extension") or "").strip(), context=(raw.get("Context") or "").strip(),
                               ext=found.group("ext") if found else None))
    extensions = set(view.agents) | {row.ext for row in rows if row.ext}
    for row in rows:
        view.channels.setdefault(row.call_id, []).append(row)
        if row.ext is None:
            if row.context == rules.park_context and row.exten:
                view.parked[row.exten] = row
            continue
        leg = _leg(row, rules, extensions)
        view.legs[(leg.extension, leg.call_id)] = leg
    return view


def _leg(row: ChannelRow, rules: ViewRules, extensions: set[str]) -> LegView:
    ext = row.ext or ""
    if row.state in rules.ringing_states:
        state, remote, outgoing = CallState.RINGING, row.caller_num, False
    elif row.state in rules.dialing_states:
        state, remote, outgoing = CallState.DIALING, row.exten, True
    else:
        state = CallState.HELD if row.context in rules.held_contexts else CallState.ACTIVE
        outgoing = row.caller_num == ext or not row.caller_num
        remote = row.exten if outgoing else row.caller_num
    if remote in extensions:
        direction = Direction.INTERNAL
    else:
        direction = Direction.OUTBOUND if outgoing else Direction.INBOUND
    return LegView(extension=ext, call_id=row.call_id, channel=row.name, state=state, direction=direction,
                   number=remote or None, caller_name=None if outgoing else (row.caller_name or None),
                   outgoing=outgoing)


@dataclass(frozen=True, slots=True)
class Intent:
    """What the driver asked the PBX to do with a leg, so its disappearance is read right."""

    kind: str  # "transfer", "consult", "park", "pickup"
    target: str = ""
    attended: bool = False


@dataclass(slots=True)
class Leg:
    extension: str
    call_id: str
    channel: str
    state: CallState
    direction: Direction
    number: str | None
    ddr: str | None
    caller_name: str | None
    started_at: datetime
    answered_at: datetime | None = None
    intent: Intent | None = None


@dataclass(slots=True)
class Plan:
    view: View
    new: list[LegView]
    gone: list[Leg]
    changed: list[tuple[Leg, LegView]]

    @property
    def new_inbound(self) -> list[LegView]:
        return [leg for leg in self.new if leg.direction is Direction.INBOUND]


class Tracker:
    def __init__(self) -> None:
        self.legs: dict[tuple[str, str], Leg] = {}
        self.view = View()
        self.extensions: dict[str, ExtensionState] = {}
        self.seen: dict[tuple[str, str], datetime] = {}  # (call id, extension) -> when last seen

    # ---- reading ----
    def leg(self, extension: str, call_id: str) -> Leg | None:
        return self.legs.get((extension, call_id))

    def other_channel(self, leg: Leg) -> str:
        """The channel on the far side of `leg` (the one a transfer or park moves), if polled."""
        for row in self.view.channels.get(leg.call_id, []):
            if row.name != leg.channel:
                return row.name
        return ""

    def active_calls(self) -> tuple[ActiveCall, ...]:
        return tuple(ActiveCall(call_id=leg.call_id, extension=leg.extension, direction=leg.direction,
                                state=leg.state, number=leg.number, ddr=leg.ddr, started_at=leg.started_at,
                                answered_at=leg.answered_at) for leg in self.legs.values())

    # ---- comparing ----
    def diff(self, view: View) -> Plan:
        new = [leg for key, leg in view.legs.items() if key not in self.legs]
        gone = [leg for key, leg in self.legs.items() if key not in view.legs]
        changed = [(leg, view.legs[key]) for key, leg in self.legs.items()
                   if key in view.legs and _polled_state(leg) is not view.legs[key].state]
        return Plan(view=view, new=new, gone=gone, changed=changed)

    def reset(self, view: View, now: datetime, ddrs: Mapping[tuple[str, str], str | None]) -> None:
        """After a (re)connect: the view is the truth, nothing is announced (DriverResynced says it)."""
        previous = self.legs
        self.legs = {}
        for key, polled in view.legs.items():
            before = previous.get(key)
            leg = _new_leg(polled, ddrs.get(key), now)
            if before is not None:
                leg.started_at, leg.answered_at, leg.ddr = before.started_at, before.answered_at, before.ddr or leg.ddr
            if polled.state in (CallState.ACTIVE, CallState.HELD) and leg.answered_at is None:
                leg.answered_at = now
            self.legs[key] = leg
            self.seen[(polled.call_id, polled.extension)] = now
        self.view = view
        self.extensions = self._extension_states(view)

    def commit(self, plan: Plan, now: datetime, *, ddrs: Mapping[tuple[str, str], str | None],
               ended: Mapping[str, list[CdrLeg]]) -> list[PbxEvent]:
        events: list[PbxEvent] = []
        known_calls = {leg.call_id for leg in self.legs.values()} | {row.call_id for row in self.view.parked.values()}
        for leg in plan.gone:
            events.append(self._gone(leg, now, ended.get(leg.call_id, [])))
            del self.legs[(leg.extension, leg.call_id)]
        for leg, polled in plan.changed:
            events += self._change(leg, polled, now)
        for polled in plan.new:
            key = (polled.extension, polled.call_id)
            leg = _new_leg(polled, ddrs.get(key), now)
            self.legs[key] = leg
            self.seen[(polled.call_id, polled.extension)] = now
            events += self._first_sight(leg, polled, now, continued=polled.call_id in known_calls)
        for key in plan.view.legs:
            self.seen[(key[1], key[0])] = now
        self.view = plan.view
        events += self._extension_changes(now)
        return events

    def missed(self, cdr_legs: Iterable[CdrLeg]) -> list[PbxEvent]:
        """Calls the polls never saw (they began and ended in between): their events from the CDR,
        once. Only for extensions this PBX reports."""
        events: list[PbxEvent] = []
        for cdr in cdr_legs:
            row = cdr.row
            key = (row.call_id, cdr.extension)
            if key in self.seen or (cdr.extension, row.call_id) in self.legs:
                continue
            if self.extensions and cdr.extension not in self.extensions:
                continue
            self.seen[key] = row.ended_at
            common = dict(extension=cdr.extension, call_id=row.call_id, direction=cdr.direction,
                          number=cdr.number or None, ddr=cdr.ddr)
            if cdr.direction is Direction.OUTBOUND:
                events.append(CallDialing(at=row.calldate, **common))
            else:
                events.append(CallRinging(at=row.calldate, **common))
            if row.answered_at is not None:
                events.append(CallAnswered(at=row.answered_at, **common))
            disposition = Disposition.ANSWERED if row.answered_at else _missed(row.disposition)
            events.append(CallEnded(at=row.ended_at, disposition=disposition, recording_ref=row.recordingfile,
                                    **common))
        return events

    def forget_before(self, moment: datetime) -> None:
        for key in [key for key, when in self.seen.items() if when < moment]:
            del self.seen[key]

    # ---- the events of one leg ----
    def _first_sight(self, leg: Leg, polled: LegView, now: datetime, *, continued: bool) -> list[CallEvent]:
        if leg.state is CallState.RINGING:
            return [self._event(CallRinging, leg, now, caller_name=leg.caller_name)]
        if leg.state is CallState.DIALING:
            return [self._event(CallDialing, leg, now)]
        events: list[CallEvent] = []
        if not continued:  # it rang (or dialled) and was answered between two polls: say both
            events.append(self._event(CallDialing, leg, now) if polled.outgoing
                          else self._event(CallRinging, leg, now, caller_name=leg.caller_name))
        leg.answered_at = now
        events.append(self._event(CallAnswered, leg, now))
        if polled.state is CallState.HELD:
            events.append(self._event(CallHeld, leg, now))
        return events

    def _change(self, leg: Leg, polled: LegView, now: datetime) -> list[CallEvent]:
        events: list[CallEvent] = []
        was = leg.state
        if was in (CallState.RINGING, CallState.DIALING) and polled.state in (CallState.ACTIVE, CallState.HELD):
            leg.state, leg.answered_at = CallState.ACTIVE, leg.answered_at or now
            events.append(self._event(CallAnswered, leg, now))
            was = CallState.ACTIVE
        if polled.state is CallState.HELD and was is CallState.ACTIVE:
            leg.state = CallState.HELD
            events.append(self._event(CallHeld, leg, now))
        elif polled.state is CallState.ACTIVE and was in (CallState.HELD, CallState.CONSULTING):
            leg.state = CallState.ACTIVE
            if leg.intent is not None and leg.intent.kind == "consult":
                leg.intent = None
            events.append(self._event(CallResumed, leg, now))
        leg.channel = polled.channel
        return events

    def consulting(self, leg: Leg, target: str, now: datetime) -> CallEvent:
        """The driver started an attended transfer: the leg waits while `target` is called."""
        leg.state = CallState.CONSULTING
        leg.intent = Intent("consult", target)
        return self._event(CallConsulting, leg, now, target=target)

    def _gone(self, leg: Leg, now: datetime, cdr: list[CdrLeg]) -> CallEvent:
        mine = [c for c in cdr if c.extension == leg.extension]
        recording = next((c.row.recordingfile for c in reversed(mine) if c.row.recordingfile), None)
        ddr = leg.ddr or next((c.ddr for c in mine if c.ddr), None)
        if ddr and not leg.ddr:
            leg.ddr = ddr
        intent = leg.intent
        if intent is not None and intent.kind in ("transfer", "pickup") and (leg.answered_at or intent.kind == "pickup"):
            return self._event(CallTransferred, leg, now, target=intent.target, attended=intent.attended,
                               recording_ref=recording)
        if intent is not None and intent.kind == "park":
            return self._event(CallParked, leg, now, slot=intent.target, recording_ref=recording)
        if leg.answered_at is not None:
            return self._event(CallEnded, leg, now, disposition=Disposition.ANSWERED, recording_ref=recording)
        disposition = _missed(mine[-1].row.disposition) if mine else Disposition.NO_ANSWER
        return self._event(CallEnded, leg, now, disposition=disposition)

    @staticmethod
    def _event(cls: type[CallEvent], leg: Leg, now: datetime, **extra: object) -> CallEvent:
        return cls(at=now, extension=leg.extension, call_id=leg.call_id, direction=leg.direction,
                   number=leg.number, ddr=leg.ddr, **extra)  # type: ignore[arg-type]

    # ---- extension states ----
    def _extension_states(self, view: View) -> dict[str, ExtensionState]:
        """From the legs (like a device state), and from SituacaoAgente for what legs cannot say
        (offline, paused) and for which extensions exist."""
        states: dict[str, ExtensionState] = {}
        by_ext: dict[str, set[CallState]] = {}
        for leg in self.legs.values():
            by_ext.setdefault(leg.extension, set()).add(leg.state)
        for ext in set(view.agents) | set(by_ext) | set(self.extensions):
            legs = by_ext.get(ext, set())
            if legs & {CallState.ACTIVE, CallState.CONSULTING}:
                states[ext] = ExtensionState.IN_CALL
            elif CallState.DIALING in legs:
                states[ext] = ExtensionState.DIALING
            elif CallState.RINGING in legs:
                states[ext] = ExtensionState.RINGING
            elif CallState.HELD in legs:
                states[ext] = ExtensionState.ON_HOLD
            else:
                agent = view.agents.get(ext)
                states[ext] = agent if agent in (ExtensionState.OFFLINE, ExtensionState.DND) else ExtensionState.IDLE
        return states

    def _extension_changes(self, now: datetime) -> list[PbxEvent]:
        states = self._extension_states(self.view)
        events: list[PbxEvent] = [ExtensionStateChanged(at=now, extension=ext, state=state)
                                  for ext, state in sorted(states.items()) if self.extensions.get(ext) is not state]
        self.extensions = states
        return events


def _polled_state(leg: Leg) -> CallState:
    """A leg's state as a poll would show it (CONSULTING looks held on the PBX)."""
    return CallState.HELD if leg.state is CallState.CONSULTING else leg.state


def _new_leg(polled: LegView, ddr: str | None, now: datetime) -> Leg:
    return Leg(extension=polled.extension, call_id=polled.call_id, channel=polled.channel, state=polled.state,
               direction=polled.direction, number=polled.number,
               ddr=ddr if polled.direction is Direction.INBOUND else None,
               caller_name=polled.caller_name, started_at=now)


def _missed(disposition: Disposition) -> Disposition:
    return Disposition.NO_ANSWER if disposition is Disposition.ANSWERED else disposition


__all__ = ["ChannelRow", "Intent", "Leg", "LegView", "Plan", "Tracker", "View", "ViewRules", "read_view"]
