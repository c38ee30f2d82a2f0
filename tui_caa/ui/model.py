"""What the console knows, rebuilt from the gateway's messages (no textual here: tested alone).

`apply()` returns what changed, so widgets refresh only that; the monitor reads `dirty_extensions`
on its own rhythm, which coalesces bursts of changes into one update per row."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from tui_caa.domain import CallState, Direction, ExtensionState, TrafficSource
from tui_caa.domain.events import (
    ActiveCall,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallParked,
    CallRinging,
    CallTransferred,
    CommandFailed,
    ExtensionStateChanged,
)
from tui_caa.domain.telephony import MISSED_DISPOSITIONS
from tui_caa.protocol.messages import (
    CallsRecorded,
    GatewayMessage,
    GatewayProblems,
    LinkState,
    LinkStatus,
    PbxUpdate,
    ScreenPop,
    StateSnapshot,
)

CallKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class CallView:
    call_id: str
    extension: str
    direction: Direction
    state: CallState
    number: str | None
    ddr: str | None
    started_at: datetime
    answered_at: datetime | None = None
    traffic_source: TrafficSource | None = None
    target: str | None = None  # who is being consulted

    @classmethod
    def from_active(cls, call: ActiveCall, at: datetime) -> CallView:
        return cls(call.call_id, call.extension, call.direction, call.state, call.number, call.ddr,
                   call.started_at or at, call.answered_at)


@dataclass(frozen=True, slots=True)
class MissedCall:
    call_id: str
    number: str | None
    at: datetime


@dataclass
class ConsoleModel:
    extension: str | None = None  # the console's own extension
    loading: bool = False  # the embedded default's CRM and gateway are still being opened
    link: LinkState = LinkState.DOWN
    link_reason: str = ""
    problems: tuple[str, ...] = ()  # what keeps the gateway from working (shown on the banner)
    extensions: dict[str, ExtensionState] = field(default_factory=dict)
    calls: dict[CallKey, CallView] = field(default_factory=dict)
    pops: dict[str, ScreenPop] = field(default_factory=dict)
    missed: list[MissedCall] = field(default_factory=list)
    failures: list[CommandFailed] = field(default_factory=list)  # commands of ours the PBX did not carry out
    calls_today: dict[str, int] = field(default_factory=dict)
    dirty_extensions: set[str] = field(default_factory=set)

    # ---- reading ----
    def my_calls(self) -> list[CallView]:
        """The console's own calls, the one that needs the agent first (ringing, then talking)."""
        order = {CallState.RINGING: 0, CallState.ACTIVE: 1, CallState.CONSULTING: 2, CallState.DIALING: 3,
                 CallState.HELD: 4}
        mine = [c for (ext, _), c in self.calls.items() if ext == self.extension]
        return sorted(mine, key=lambda c: (order.get(c.state, 9), c.started_at))

    def current_call(self) -> CallView | None:
        mine = self.my_calls()
        return mine[0] if mine else None

    def calls_of(self, extension: str) -> list[CallView]:
        return [c for (ext, _), c in self.calls.items() if ext == extension]

    @property
    def my_state(self) -> ExtensionState:
        return self.extensions.get(self.extension or "", ExtensionState.UNKNOWN)

    # ---- changing ----
    def apply(self, message: GatewayMessage) -> set[str]:
        """Returns the parts that changed: "link", "problems", "extensions", "calls", "pop", "missed",
        "failure" (a command of the console's extension was not carried out), "history"
        (calls of the console's extension reached the CRM), and "mine" when the console's own extension
        is concerned (what agent widgets redraw for: a
        supervisor's console sees every extension change)."""
        match message:
            case StateSnapshot():
                return self._reset(message) | {"mine"}
            case LinkStatus():
                self.link, self.link_reason = message.state, message.reason
                return {"link"}
            case ScreenPop():
                self.pops[message.call_id] = message
                self.dirty_extensions.add(message.extension)
                return {"pop", "mine"} if message.extension == self.extension else {"pop"}
            case GatewayProblems():
                self.problems = message.problems
                return {"problems"}
            case CallsRecorded():
                return {"history"} if message.extension == self.extension else set()
            case PbxUpdate():
                changes = self._event(message)
                if changes and message.event.extension == self.extension:
                    changes.add("mine")
                return changes
        return set()

    def _reset(self, snapshot: StateSnapshot) -> set[str]:
        self.link = snapshot.link
        self.problems = snapshot.problems
        if snapshot.link is LinkState.CONNECTED:
            self.link_reason = ""
        pbx = snapshot.pbx
        self.extensions = dict(pbx.extensions)
        self.calls = {(c.extension, c.call_id): CallView.from_active(c, pbx.at) for c in pbx.calls}
        self.pops = dict(snapshot.pops)
        self.calls_today = dict(snapshot.calls_today)  # the gateway's count includes the CRM's
        self.dirty_extensions |= set(self.extensions)
        # "history": records written while this console lagged behind were announced in what it missed
        return {"link", "problems", "extensions", "calls", "pop", "history"}

    def _event(self, update: PbxUpdate) -> set[str]:
        event = update.event
        if isinstance(event, ExtensionStateChanged) and event.extension:
            self.extensions[event.extension] = event.state
            self.dirty_extensions.add(event.extension)
            return {"extensions"}
        if isinstance(event, CommandFailed):
            if event.extension != self.extension:
                return set()
            self.failures.append(event)
            return {"failure"}
        if not isinstance(event, CallEvent) or not event.extension or not event.call_id:
            return set()
        key = (event.extension, event.call_id)
        self.dirty_extensions.add(event.extension)
        changed = {"calls"}
        if isinstance(event, CallEnded | CallTransferred | CallParked):
            ended = self.calls.pop(key, None)
            if not any(c.call_id == event.call_id for c in self.calls.values()):
                self.pops.pop(event.call_id, None)
            if (isinstance(event, CallEnded) and ended and ended.direction is Direction.INBOUND
                    and ended.answered_at is None and event.disposition in MISSED_DISPOSITIONS
                    and event.extension == self.extension):
                self.missed.append(MissedCall(event.call_id, ended.number, event.at))
                changed.add("missed")
            return changed
        call = self.calls.get(key)
        if call is None:
            call = CallView(event.call_id, event.extension,
                            event.direction or (Direction.INBOUND if isinstance(event, CallRinging) else Direction.OUTBOUND),
                            event.state or CallState.ACTIVE, event.number, event.ddr, event.at,
                            traffic_source=update.traffic_source)
            self.calls_today[event.extension] = self.calls_today.get(event.extension, 0) + 1
        else:
            call = replace(call, state=event.state or call.state, number=event.number or call.number,
                           ddr=event.ddr or call.ddr, traffic_source=update.traffic_source or call.traffic_source)
        if isinstance(event, CallAnswered) and call.answered_at is None:
            call = replace(call, answered_at=event.at)
        if hasattr(event, "target") and getattr(event, "target", None):
            call = replace(call, target=event.target)
        self.calls[key] = call
        return changed

    def take_dirty_extensions(self) -> set[str]:
        dirty, self.dirty_extensions = self.dirty_extensions, set()
        return dirty
