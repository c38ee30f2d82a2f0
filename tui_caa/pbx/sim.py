"""The built-in PBX simulator: the embedded default of the console and a tool for integrators.

It behaves like a busy dealership PBX, either scripted (a test or an integrator says exactly what
happens: `ring`, `remote_answer`, `drop_link`…) or with random traffic (`SimTraffic`), and it
answers every command a real driver does, with the same events and the same refusals.

The model is small on purpose:
- a `_Call` has up to two extension *legs* (one per extension that sees it) and maybe an outside
  party (`external`); every event is one leg's view: the leg's extension, the call's id;
- an extension's state is derived from its legs (`_derive`), and an ExtensionStateChanged is
  emitted only when the derived state really changes;
- each call has at most one pending timer (ring timeout, auto-answer, far end hangs up…), a task
  that sleeps on the injected clock, so a ManualClock drives everything and tests never sleep;
- all randomness comes from one `random.Random(seed)` (see `sim_traffic`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from tui_caa.clock import Clock, SystemClock
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
    DriverConnected,
    DriverDisconnected,
    DriverResynced,
    ExtensionStateChanged,
    PbxEvent,
    PbxSnapshot,
)
from tui_caa.domain.telephony import ALL_CAPABILITIES, CallState, Capability, Direction, Disposition, ExtensionState
from tui_caa.pbx import sim_traffic
from tui_caa.pbx.base import NotConnected, PbxDriver, PbxError
from tui_caa.pbx.event_stream import EventStream
from tui_caa.pbx.sim_traffic import CallerGenerator, SimTraffic
from tui_caa.phones import check_ddd

if TYPE_CHECKING:
    from tui_caa.domain.pbx import PbxRegistryEntry

__all__ = ["SimScenario", "SimTraffic", "SimulatorDriver", "SimCallView"]

log = logging.getLogger(__name__)

PLAYBACK_NUMBER = "gravação"  # what a phone shows while the PBX plays a recording to it
PARK_SLOTS = tuple(str(n) for n in range(701, 721))
EVENT_BACKLOG = 50_000  # events kept for a reader that does not read; beyond it, a resync is forced
DTMF_DIGITS = frozenset("0123456789*#ABCD")
_DIAL_STRING = re.compile(r"\+?[0-9*#]+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass(frozen=True)
class SimScenario:
    """Plain data the caller builds from the CRM (the driver never reads the database)."""

    extensions: tuple[str, ...]  # e.g. the sellers' extensions 1001..1010
    known_numbers: tuple[str, ...] = ()  # E.164 numbers of existing customers
    shared_numbers: tuple[str, ...] = ()  # E.164 numbers that several customers share
    ddrs: tuple[str, ...] = ()  # E.164 DDRs of traffic sources
    main_number: str | None = None  # the dealership's main number (a DDR with no traffic source)
    site_ddd: str = "51"
    #: recordings the PBX already holds (e.g. of the calls in the CRM's history): (ref, seconds)
    recordings: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("extensions", "known_numbers", "shared_numbers", "ddrs", "recordings"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.extensions:
            raise ValueError("a simulated PBX needs at least one extension")
        for ext in self.extensions:
            if not (isinstance(ext, str) and ext.isdigit() and len(ext) <= 8):
                raise ValueError(f"extension {ext!r} must be up to 8 digits")
        if len(set(self.extensions)) != len(self.extensions):
            raise ValueError("extensions must not repeat")
        numbers = (*self.known_numbers, *self.shared_numbers, *self.ddrs,
                   *((self.main_number,) if self.main_number else ()))
        for number in numbers:
            if not _E164.fullmatch(number):
                raise ValueError(f"{number!r} is not an E.164 number such as +5551987654321")
        check_ddd(self.site_ddd, "site_ddd")


@dataclass(frozen=True, slots=True)
class SimCallView:
    """What the simulator knows about one call (for tests and integrators; not a domain event)."""

    call_id: str
    kind: str
    legs: dict[str, CallState]  # extension -> state of its leg
    external: str | None
    remote_state: str | None  # the outside party: "alerting", "connected" or None
    parked_slot: str | None
    dtmf: str
    recording_ref: str | None
    monitor_mode: Capability | None


class _Kind(Enum):
    CALL = "call"  # a normal call: inbound, outbound or internal
    CONSULT = "consult"  # the leg an attended transfer opens to the target
    PLAYBACK = "playback"  # the PBX plays a recording
    MONITOR = "monitor"  # a supervisor listening / whispering / barging


_RECORDED_KINDS = (_Kind.CALL, _Kind.CONSULT)
_LIVE = (CallState.ACTIVE, CallState.CONSULTING, CallState.DIALING, CallState.RINGING)


@dataclass(slots=True)
class _Leg:
    """One extension's view of a call."""

    extension: str
    state: CallState
    direction: Direction
    number: str | None
    ddr: str | None
    caller_name: str | None
    started_at: datetime
    answered_at: datetime | None = None

    def view(self) -> dict[str, Any]:
        """What a leg that takes this call over (transfer, pickup) inherits."""
        return {"direction": self.direction, "number": self.number, "ddr": self.ddr, "caller_name": self.caller_name}


@dataclass(slots=True, eq=False)
class _Call:
    id: str
    kind: _Kind
    created_at: datetime
    legs: dict[str, _Leg] = field(default_factory=dict)  # in the order they joined
    external: str | None = None  # the outside party's number, if any
    remote_connected: bool = False  # the outside party answered (outbound / playback to a number)
    timer: asyncio.Task[None] | None = None
    first_answered_at: datetime | None = None
    recording_ref: str | None = None
    dtmf: list[str] = field(default_factory=list)
    consult: _Call | None = None  # on the original call: its consult leg
    origin: _Call | None = None  # on a consult leg: the call being transferred
    parked: tuple[str, str, dict[str, Any]] | None = None  # (slot, who parked, the parked leg's view)
    playback: tuple[str, float] | None = None  # (recording ref, seconds)
    monitored: tuple[str, str] | None = None  # (extension, call id) a monitor call watches
    monitor_mode: Capability | None = None
    ended: bool = False

    def leg(self, extension: str) -> _Leg | None:
        return self.legs.get(extension)


class SimulatorDriver(PbxDriver):
    kind = "simulator"
    label = "Simulador"
    capabilities = ALL_CAPABILITIES

    scripted_timing: ClassVar[SimTraffic] = SimTraffic()  # the PBX's timeouts when there is no traffic

    def __init__(
        self,
        scenario: SimScenario,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        traffic: SimTraffic | None = None,
        name: str | None = None,
        id_prefix: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.clock: Clock = clock or SystemClock()
        self.traffic = traffic
        self.name = name or self.label
        self.fail_next_connect: str | None = None
        self._timing = traffic or self.scripted_timing
        self._rng = random.Random(seed)
        self._callers = CallerGenerator(
            self._rng, scenario.site_ddd, scenario.known_numbers, scenario.shared_numbers,
            scenario.ddrs, scenario.main_number,
        )
        # Call ids must not repeat across runs: the CRM keys call records on (call id, extension)
        # and the demo history already holds "sim-000001"…; so the default prefix carries the start time.
        self._id_prefix = id_prefix if id_prefix is not None else f"sim-{self.clock.now():%y%m%d%H%M%S}"
        self._next_id = 0
        self._extensions: dict[str, ExtensionState] = {ext: ExtensionState.IDLE for ext in scenario.extensions}
        self._registered: dict[str, bool] = {ext: True for ext in scenario.extensions}
        self._ext_calls: dict[str, dict[str, None]] = {ext: {} for ext in scenario.extensions}  # ordered sets
        self._calls: dict[str, _Call] = {}
        self._slots: dict[str, _Call] = {}
        self._recordings: dict[str, float] = dict(scenario.recordings)
        self._stream = EventStream(self.name, EVENT_BACKLOG, self.clock.now)
        self._started = False  # connect() succeeded once
        self._link_up = False
        self._outage = ""
        self._closed = False
        self._traffic_task: asyncio.Task[None] | None = None

    @classmethod
    def from_entry(cls, entry: PbxRegistryEntry, **options: Any) -> SimulatorDriver:
        """Builds the simulator for a PBX registry entry; options: scenario= (required), seed=,
        clock=, traffic=, id_prefix=."""
        if str(getattr(entry, "kind", "simulator")) != "simulator":
            raise PbxError(f"registry entry '{entry.name}' is a {entry.kind} PBX, not the simulator", field="kind")
        scenario = options.pop("scenario", None)
        if scenario is None:
            raise PbxError("the simulator needs a scenario (extensions, customers' numbers, DDRs)", field="scenario")
        return cls(scenario, name=getattr(entry, "name", None), **options)

    # ================================================================ the connection

    async def connect(self) -> None:
        if self._closed:
            raise NotConnected("the simulator is closed")
        if self.fail_next_connect is not None:
            reason, self.fail_next_connect = self.fail_next_connect, None
            raise NotConnected(reason)
        if self._started and not self._link_up:
            raise NotConnected(f"the PBX link is down: {self._outage}")
        if self._started:
            return
        self._started = self._link_up = True
        self._emit_resync()
        if self.traffic is not None and self._traffic_task is None:
            self._traffic_task = asyncio.get_running_loop().create_task(self._run_traffic(), name="sim-traffic")
            self._traffic_task.add_done_callback(_log_failure)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._link_up = False
        tasks = [call.timer for call in self._calls.values() if call.timer is not None]
        if self._traffic_task is not None:
            tasks.append(self._traffic_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._stream.close()

    async def events(self) -> AsyncIterator[PbxEvent]:  # type: ignore[override]
        """One reader: the gateway. Events emitted before it starts reading are kept."""
        async for event in self._stream:
            yield event

    async def snapshot(self) -> PbxSnapshot:
        self._require_link()
        calls = tuple(
            ActiveCall(call_id=call.id, extension=leg.extension, direction=leg.direction, state=leg.state,
                       number=leg.number, ddr=leg.ddr, started_at=leg.started_at, answered_at=leg.answered_at)
            for call in self._calls.values() for leg in call.legs.values()
        )
        return PbxSnapshot(at=self.clock.now(), extensions=dict(self._extensions), calls=calls)

    def call(self, call_id: str) -> SimCallView | None:
        """The simulator's own view of a call (None once it is over)."""
        call = self._calls.get(call_id)
        if call is None:
            return None
        remote = None
        if call.external is not None:
            remote = "connected" if call.remote_connected else "alerting"
        return SimCallView(
            call_id=call.id, kind=call.kind.value, legs={ext: leg.state for ext, leg in call.legs.items()},
            external=call.external, remote_state=remote, parked_slot=call.parked[0] if call.parked else None,
            dtmf="".join(call.dtmf), recording_ref=call.recording_ref, monitor_mode=call.monitor_mode,
        )

    @property
    def recordings(self) -> dict[str, float]:
        """Recording refs the PBX holds, with their length in seconds."""
        return dict(self._recordings)

    # ================================================================ scripted happenings

    async def ring(self, extension: str, number: str, *, ddr: str | None = None, caller_name: str | None = None) -> str:
        """An inbound call from `number` (raw caller ID) to `extension`, now; returns its id."""
        self._require_started()
        self._check_extension(extension)
        call = self._new_call(_Kind.CALL, external=number)
        self._offer_or_end(call, extension, direction=Direction.INBOUND, number=number, ddr=ddr, caller_name=caller_name)
        return call.id

    async def ring_random(self, extension: str) -> str:
        """An inbound call now, from a caller of the scenario's kind (a customer, a family's shared
        number, an unknown or withheld number) on one of its DDRs: for demos and integrators."""
        caller = self._callers.caller()
        return await self.ring(extension, caller.raw, ddr=self._callers.ddr(), caller_name=caller.caller_name)

    async def remote_answer(self, call_id: str) -> None:
        """The far end of an outbound call (or of a recording played to a number) answers."""
        self._require_started()
        call = self._find(call_id)
        if call.external is None or call.remote_connected or not self._dialing_out(call):
            raise PbxError(f"call {call_id} is not calling out to a far end that could answer ({self._describe(call)})")
        self._remote_answered(call)

    async def remote_hangup(self, call_id: str) -> None:
        """The outside party hangs up (a caller still ringing: ABANDONED)."""
        self._require_started()
        call = self._find(call_id)
        if call.external is None:
            raise PbxError(f"call {call_id} is internal: there is no outside party to hang up ({self._describe(call)})")
        self._remote_gone(call)

    async def remote_busy(self, call_id: str) -> None:
        """The far end of an outbound call is busy."""
        self._require_started()
        call = self._find(call_id)
        if call.external is None or call.remote_connected or not self._dialing_out(call):
            raise PbxError(f"call {call_id} is not calling out to a far end that could be busy ({self._describe(call)})")
        self._end_call(call, ringing=Disposition.BUSY, dialing=Disposition.BUSY)

    async def set_registered(self, extension: str, registered: bool) -> None:
        """The phone registers (IDLE) or drops off (OFFLINE: its calls end as if it hung up)."""
        self._require_started()
        self._check_extension(extension)
        if self._registered[extension] == registered:
            return
        self._registered[extension] = registered  # first: the calls ending below leave it OFFLINE, not IDLE
        if not registered:
            for call in self._calls_at(extension):
                if call.ended or extension not in call.legs:
                    continue
                if call.consult is not None:  # its consultation goes too, without putting the call on hold
                    consult, call.consult = call.consult, None
                    consult.origin = None
                    self._end_call(consult, ringing=Disposition.ABANDONED, dialing=Disposition.NO_ANSWER)
                self._hangup_leg(call, call.legs[extension])
        self._refresh(extension)

    async def drop_link(self, reason: str = "conexão com a central perdida (simulação)") -> None:
        """The PBX link is lost: DriverDisconnected now, commands refused until `restore_link()`.
        The PBX itself goes on (calls ring, end…); what happens meanwhile is not replayed."""
        self._require_link()
        self._emit(DriverDisconnected(at=self.clock.now(), reason=reason))
        self._link_up = False
        self._outage = reason

    async def restore_link(self) -> None:
        """The link is back: DriverConnected, DriverResynced; `snapshot()` is the truth now."""
        self._require_started()
        if self._link_up:
            raise PbxError("the PBX link is not down")
        self._link_up = True
        self._outage = ""
        self._emit_resync()

    # ================================================================ commands

    async def _dial(self, extension: str, number: str) -> str:
        self._require_link()
        self._check_can_start(extension, "dial")
        number = number.strip()
        if number in self._registered:
            if number == extension:
                raise PbxError(f"extension {extension} cannot call itself")
            call = self._new_call(_Kind.CALL)
            self._add_leg(call, extension, CallState.DIALING, direction=Direction.INTERNAL, number=number)
            self._offer_or_end(call, number, direction=Direction.INTERNAL, number=extension)
            return call.id
        self._check_dial_string(number)
        call = self._new_call(_Kind.CALL, external=number)
        self._add_leg(call, extension, CallState.DIALING, direction=Direction.OUTBOUND, number=number)
        self._plan_far_end(call)
        return call.id

    async def _answer(self, extension: str, call_id: str) -> None:
        self._require_link()
        call, leg = self._leg_for(extension, call_id)
        if leg.state is not CallState.RINGING:
            raise PbxError(f"call {call_id} at extension {extension} is {self._leg_state(call, leg)}: only a ringing call can be answered")
        self._answered(call, leg)

    async def _hangup(self, extension: str, call_id: str) -> None:
        self._require_link()
        call, leg = self._leg_for(extension, call_id)
        if leg.state is CallState.CONSULTING:
            raise PbxError(f"call {call_id} at extension {extension} is waiting on a consultation: complete or cancel the transfer first")
        self._hangup_leg(call, leg)

    async def _hold(self, extension: str, call_id: str) -> None:
        self._require_link()
        call, leg = self._leg_for(extension, call_id)
        if leg.state is not CallState.ACTIVE:
            raise PbxError(f"call {call_id} at extension {extension} is {self._leg_state(call, leg)}: only a call in conversation can be put on hold")
        leg.state = CallState.HELD
        self._call_event(CallHeld, call, leg)

    async def _resume(self, extension: str, call_id: str) -> None:
        self._require_link()
        call, leg = self._leg_for(extension, call_id)
        if leg.state is not CallState.HELD:
            raise PbxError(f"call {call_id} at extension {extension} is {self._leg_state(call, leg)}: only a held call can be resumed")
        busy = [c.id for c in self._calls_at(extension) if c is not call and c.legs[extension].state in _LIVE]
        if busy:
            raise PbxError(f"extension {extension} is busy on call {busy[0]}: put it on hold or hang it up before resuming {call_id}")
        leg.state = CallState.ACTIVE
        self._call_event(CallResumed, call, leg)

    async def _blind_transfer(self, extension: str, call_id: str, target: str) -> None:
        self._require_link()
        call, leg = self._leg_for(extension, call_id)
        self._check_transferable(call, leg, "transferred")
        target = target.strip()
        internal = target in self._registered
        if internal:
            self._check_target(call, extension, target)
        else:
            self._check_dial_string(target)
        view = leg.view()
        self._remove_leg(call, extension, CallTransferred, target=target, recording_ref=call.recording_ref)
        if internal:
            self._offer_or_end(call, target, **view)
        elif not call.legs:
            self._forget(call)  # it left for the outside: the PBX no longer sees it
        else:
            call.external = target  # an internal call handed to an outside number: the other leg stays

    async def _consult(self, extension: str, call_id: str, target: str) -> None:
        self._require_link()
        call, leg = self._leg_for(extension, call_id)
        if leg.state not in (CallState.ACTIVE, CallState.HELD) or call.kind is not _Kind.CALL:
            raise PbxError(f"call {call_id} at extension {extension} is {self._leg_state(call, leg)}: only a call in conversation or on hold can be transferred")
        target = target.strip()
        if target not in self._registered:
            raise PbxError(f"the simulator consults extensions only; {target!r} is not one (use a blind transfer to call an outside number)")
        self._check_target(call, extension, target)
        leg.state = CallState.CONSULTING
        self._call_event(CallConsulting, call, leg, target=target)
        consult = self._new_call(_Kind.CONSULT)
        consult.origin, call.consult = call, consult
        self._offer_or_end(consult, target, direction=Direction.INTERNAL, number=extension)

    async def _complete_transfer(self, extension: str, call_id: str) -> None:
        self._require_link()
        call, leg = self._consulting(extension, call_id)
        consult = call.consult
        assert consult is not None
        consulted = next(iter(consult.legs.values()))
        if consulted.state is not CallState.ACTIVE:
            raise PbxError(f"extension {consulted.extension} has not answered the consultation yet ({consulted.state.value}): wait, or cancel the transfer")
        target, view = consulted.extension, leg.view()
        self._remove_leg(call, extension, CallTransferred, target=target, attended=True,
                         recording_ref=call.recording_ref)
        # the customer goes on talking, now with the target: same call id, already answered. The leg
        # joins before the consultation ends so that the target never looks IDLE in between.
        new = self._add_leg(call, target, CallState.ACTIVE, **view, silent=True)
        new.answered_at = self.clock.now()
        call.consult = consult.origin = None
        self._end_call(consult, ringing=Disposition.ABANDONED, dialing=Disposition.NO_ANSWER)
        self._call_event(CallAnswered, call, new)

    async def _cancel_transfer(self, extension: str, call_id: str) -> None:
        self._require_link()
        call, leg = self._consulting(extension, call_id)
        consult = call.consult
        assert consult is not None
        call.consult = consult.origin = None
        self._end_call(consult, ringing=Disposition.ABANDONED, dialing=Disposition.NO_ANSWER)
        leg.state = CallState.ACTIVE
        self._call_event(CallResumed, call, leg)

    async def _send_dtmf(self, extension: str, call_id: str, digits: str) -> None:
        self._require_link()
        call, leg = self._leg_for(extension, call_id)
        if not digits:
            raise PbxError("no DTMF digits to send")
        for char in digits:
            if char.upper() not in DTMF_DIGITS:
                raise PbxError(f"{char!r} is not a DTMF digit (use 0-9, *, # and A-D)", field="digits")
        if leg.state is not CallState.ACTIVE:
            raise PbxError(f"call {call_id} at extension {extension} is {self._leg_state(call, leg)}: DTMF needs a call in conversation")
        call.dtmf.append(digits.upper())

    async def _park(self, extension: str, call_id: str) -> str:
        self._require_link()
        call, leg = self._leg_for(extension, call_id)
        self._check_transferable(call, leg, "parked", allow_held=True)
        slot = next((s for s in PARK_SLOTS if s not in self._slots and s not in self._registered), None)
        if slot is None:
            raise PbxError("every parking slot is taken")
        view = leg.view()
        self._remove_leg(call, extension, CallParked, slot=slot, recording_ref=call.recording_ref)
        call.parked = (slot, extension, view)
        self._slots[slot] = call
        self._set_timer(call, self._timing.park_timeout, lambda: self._park_timeout(call))
        return slot

    async def _pickup(self, extension: str, slot_or_extension: str) -> None:
        self._require_link()
        self._check_can_start(extension, "pick up a call")
        where = slot_or_extension.strip()
        if where in self._slots:
            call = self._slots.pop(where)
            assert call.parked is not None
            view = call.parked[2]
            call.parked = None
            new = self._add_leg(call, extension, CallState.ACTIVE, **view, silent=True)
            self._answered(call, new)
            return
        if where not in self._registered:
            raise PbxError(f"nothing is parked at {where!r} and it is not an extension")
        if where == extension:
            raise PbxError(f"extension {extension} cannot pick up its own calls: answer them")
        ringing = [(c, c.legs[where]) for c in self._calls_at(where) if c.legs[where].state is CallState.RINGING]
        if not ringing:
            raise PbxError(f"no call is ringing at extension {where}")
        call, leg = ringing[0]
        view = leg.view()
        self._remove_leg(call, where, CallTransferred, target=extension)
        new = self._add_leg(call, extension, CallState.ACTIVE, **view, silent=True)
        self._answered(call, new)

    async def _play_recording(self, recording_ref: str, number: str) -> str:
        self._require_link()
        length = self._recordings.get(recording_ref)
        if length is None:
            raise PbxError(f"recording {recording_ref!r} not found on the PBX", field="recording_ref")
        number = number.strip()
        call = self._new_call(_Kind.PLAYBACK)
        call.playback = (recording_ref, length)
        if number in self._registered:
            self._offer_or_end(call, number, direction=Direction.INTERNAL, number=PLAYBACK_NUMBER, caller_name=recording_ref)
        else:
            self._check_dial_string(number)
            call.external = number  # no extension sees it: it exists only on the trunk
            self._plan_far_end(call)
        return call.id

    async def _monitor(self, mode: Capability, supervisor_extension: str, target_extension: str) -> None:
        self._require_link()
        self._check_extension(target_extension)
        if supervisor_extension == target_extension:
            raise PbxError(f"extension {supervisor_extension} cannot monitor itself")
        self._check_can_start(supervisor_extension, mode.value)
        watched = [c for c in self._calls_at(target_extension)
                   if c.kind is not _Kind.MONITOR and c.legs[target_extension].answered_at is not None]
        if not watched:
            raise PbxError(f"extension {target_extension} has no call in progress to {mode.value} to")
        call = self._new_call(_Kind.MONITOR)
        call.monitored, call.monitor_mode = (target_extension, watched[0].id), mode
        leg = self._add_leg(call, supervisor_extension, CallState.ACTIVE, direction=Direction.INTERNAL,
                            number=target_extension, silent=True)
        self._answered(call, leg)

    # ================================================================ the state machine

    def _new_call(self, kind: _Kind, *, external: str | None = None) -> _Call:
        self._next_id += 1
        call = _Call(id=f"{self._id_prefix}-{self._next_id:06d}", kind=kind, created_at=self.clock.now(), external=external)
        self._calls[call.id] = call
        return call

    def _add_leg(self, call: _Call, extension: str, state: CallState, *, direction: Direction, number: str | None,
                 ddr: str | None = None, caller_name: str | None = None, silent: bool = False) -> _Leg:
        """A leg joins the call. Unless `silent` (the caller emits its own event), the extension
        hears of it at once: CallRinging or CallDialing."""
        leg = _Leg(extension, state, direction, number, ddr, caller_name, self.clock.now())
        call.legs[extension] = leg
        self._ext_calls[extension][call.id] = None
        if not silent:
            if state is CallState.RINGING:
                self._call_event(CallRinging, call, leg, caller_name=caller_name)
            else:
                self._call_event(CallDialing, call, leg)
        return leg

    def _remove_leg(self, call: _Call, extension: str, event: type[CallEvent], **extra: Any) -> None:
        """A leg leaves the call (ended, transferred, parked): its last event, then its state."""
        leg = call.legs.pop(extension)
        self._ext_calls[extension].pop(call.id, None)
        self._emit_call(event, call, leg, **extra)
        self._refresh(extension)
        for other in list(self._calls.values()):  # a supervisor watching this leg has nothing left to watch
            if other.monitored == (extension, call.id) and not other.ended:
                self._end_call(other, ringing=Disposition.ABANDONED, dialing=Disposition.NO_ANSWER)

    def _offer_or_end(self, call: _Call, extension: str, *, direction: Direction, number: str | None,
                      ddr: str | None = None, caller_name: str | None = None) -> None:
        """Rings `extension`. A busy or unregistered phone still shows the call (so the seller has a
        missed call to return): CallRinging then at once CallEnded(BUSY / FAILED), and the call ends."""
        free = self._registered[extension] and not self._ext_calls[extension]
        if not free:
            disposition = Disposition.BUSY if self._registered[extension] else Disposition.FAILED
            now = self.clock.now()
            common = dict(at=now, extension=extension, call_id=call.id, direction=direction, number=number, ddr=ddr)
            self._emit(CallRinging(**common, caller_name=caller_name))
            self._emit(CallEnded(**common, disposition=disposition))
            self._end_call(call, ringing=disposition, dialing=disposition)
            return
        leg = self._add_leg(call, extension, CallState.RINGING, direction=direction, number=number, ddr=ddr,
                            caller_name=caller_name)
        self._plan_ringing(call, leg)

    def _answered(self, call: _Call, leg: _Leg) -> None:
        """`leg` takes the call: CallAnswered there, and at a waiting caller's leg (internal calls)."""
        now = self.clock.now()
        leg.state, leg.answered_at = CallState.ACTIVE, leg.answered_at or now
        if call.first_answered_at is None:
            call.first_answered_at = now
            if call.kind in _RECORDED_KINDS:  # every conversation is recorded
                call.recording_ref = f"sim/{call.created_at:%Y/%m/%d}/{call.id}.wav"
        self._call_event(CallAnswered, call, leg)
        for other in call.legs.values():
            if other is not leg and other.state is CallState.DIALING:
                other.state, other.answered_at = CallState.ACTIVE, now
                self._call_event(CallAnswered, call, other)
        self._plan_talk(call)

    def _hangup_leg(self, call: _Call, leg: _Leg) -> None:
        """The extension hangs up: declining a ringing call ends it BUSY (the PBX answers 486);
        hanging up an outbound call that still alerts leaves it NO_ANSWER."""
        if leg.state is CallState.RINGING:
            self._end_call(call, ringing=Disposition.BUSY, dialing=Disposition.BUSY)
        else:
            self._end_call(call, ringing=Disposition.ABANDONED, dialing=Disposition.NO_ANSWER)

    def _remote_gone(self, call: _Call) -> None:
        """The outside party hangs up: a ringing leg was abandoned; a far end alerting rejected it."""
        self._end_call(call, ringing=Disposition.ABANDONED, dialing=Disposition.BUSY)

    def _end_call(self, call: _Call, *, ringing: Disposition, dialing: Disposition) -> None:
        """The whole call ends: each leg gets CallEnded with its own disposition (ANSWERED if it
        talked, else `ringing` or `dialing` by its state) and the recording."""
        if call.ended:
            return
        call.ended = True
        self._cancel_timer(call)
        if call.consult is not None:  # the customer left during a consultation: it has no purpose left
            consult, call.consult = call.consult, None
            consult.origin = None
            self._end_call(consult, ringing=Disposition.ABANDONED, dialing=Disposition.NO_ANSWER)
        for extension, leg in list(call.legs.items()):
            if leg.answered_at is not None:
                self._remove_leg(call, extension, CallEnded, disposition=Disposition.ANSWERED, recording_ref=call.recording_ref)
            else:
                disposition = ringing if leg.state is CallState.RINGING else dialing
                self._remove_leg(call, extension, CallEnded, disposition=disposition)
        if call.recording_ref is not None and call.first_answered_at is not None:
            seconds = (self.clock.now() - call.first_answered_at).total_seconds()
            self._recordings[call.recording_ref] = max(1.0, round(seconds, 1))
        if call.parked is not None:
            self._slots.pop(call.parked[0], None)
        self._forget(call)
        origin = call.origin
        if origin is not None and not origin.ended:  # a consultation ended: the customer waits on hold
            origin.consult = None
            for leg in origin.legs.values():
                if leg.state is CallState.CONSULTING:
                    leg.state = CallState.HELD
                    self._call_event(CallHeld, origin, leg)

    def _forget(self, call: _Call) -> None:
        call.ended = True
        self._cancel_timer(call)
        self._calls.pop(call.id, None)

    def _remote_answered(self, call: _Call) -> None:
        call.remote_connected = True
        dialing = [leg for leg in call.legs.values() if leg.state is CallState.DIALING]
        if dialing:
            self._answered(call, dialing[0])
        else:  # a recording played to an outside number: only the trunk sees it
            call.first_answered_at = self.clock.now()
            self._plan_talk(call)

    # ---- timers: one per call, on the injected clock ----

    def _plan_ringing(self, call: _Call, leg: _Leg) -> None:
        ext = leg.extension
        if self.traffic is None:
            action, delay = "timeout", self._timing.ring_timeout
        else:
            action, delay = sim_traffic.ringing_plan(
                self._rng, self.traffic,
                auto_answer=ext not in self.traffic.human_extensions,
                caller_may_abandon=call.kind is _Kind.CALL and call.external is not None,
            )

        def fire() -> None:
            current = call.legs.get(ext)
            if current is not leg or leg.state is not CallState.RINGING:
                return
            if action == "answer":
                self._answered(call, leg)
            elif action == "abandon":
                self._remote_gone(call)
            else:
                self._end_call(call, ringing=Disposition.NO_ANSWER, dialing=Disposition.NO_ANSWER)

        self._set_timer(call, delay, fire)

    def _plan_far_end(self, call: _Call) -> None:
        """An outbound call alerts outside: answered, busy or not answered (scripted: only the
        PBX's no-answer timeout; `remote_answer`/`remote_busy` say the rest)."""
        if self.traffic is None:
            action, delay = "timeout", self._timing.outbound_timeout
        else:
            action, delay = sim_traffic.far_end_plan(self._rng, self.traffic)

        def fire() -> None:
            if call.remote_connected:
                return
            if action == "answer":
                self._remote_answered(call)
            else:
                disposition = Disposition.BUSY if action == "busy" else Disposition.NO_ANSWER
                self._end_call(call, ringing=disposition, dialing=disposition)

        self._set_timer(call, delay, fire)

    def _plan_talk(self, call: _Call) -> None:
        """After an answer: a recording plays for its length; with random traffic, the far end (or a
        simulated seller) hangs up after a while. Scripted calls last until someone hangs up."""
        if call.playback is not None:
            self._set_timer(call, call.playback[1], lambda: self._end_call(
                call, ringing=Disposition.ABANDONED, dialing=Disposition.NO_ANSWER))
            return
        self._cancel_timer(call)
        if self.traffic is None or call.kind is not _Kind.CALL:
            return
        humans = self.traffic.human_extensions
        if call.external is None and all(ext in humans for ext in call.legs):
            return  # people talking to each other: they hang up themselves
        human = any(ext in humans for ext in call.legs)
        seconds = sim_traffic.talk_time(self._rng, self.traffic, human=human)
        self._set_timer(call, seconds, lambda: self._end_call(
            call, ringing=Disposition.ABANDONED, dialing=Disposition.NO_ANSWER))

    def _park_timeout(self, call: _Call) -> None:
        """Nobody picked the parked call up: it rings back where it was parked."""
        if call.parked is None or call.ended:
            return
        slot, parker, view = call.parked
        call.parked = None
        self._slots.pop(slot, None)
        self._offer_or_end(call, parker, **view)

    def _set_timer(self, call: _Call, seconds: float, action: Callable[[], None]) -> None:
        self._cancel_timer(call)
        deadline = self.clock.now() + timedelta(seconds=seconds)
        task = asyncio.get_running_loop().create_task(self._timer(call, deadline, action), name=f"sim-timer-{call.id}")
        task.add_done_callback(_log_failure)
        call.timer = task

    async def _timer(self, call: _Call, deadline: datetime, action: Callable[[], None]) -> None:
        # the deadline is fixed when the timer is set, even if this task starts a little later
        await self.clock.sleep((deadline - self.clock.now()).total_seconds())
        if call.timer is asyncio.current_task():
            call.timer = None
        if not call.ended:
            action()

    @staticmethod
    def _cancel_timer(call: _Call) -> None:
        if call.timer is not None and call.timer is not asyncio.current_task():
            call.timer.cancel()
        call.timer = None

    # ---- random traffic: one task ----

    async def _run_traffic(self) -> None:
        traffic = self.traffic
        assert traffic is not None
        rate = (traffic.calls_per_minute + traffic.outbound_calls_per_minute) / 60.0
        if rate <= 0:
            return
        inbound_share = traffic.calls_per_minute / 60.0 / rate
        next_at = self.clock.now()
        while not self._closed:
            next_at += timedelta(seconds=self._rng.expovariate(rate))
            await self.clock.sleep((next_at - self.clock.now()).total_seconds())
            if self._rng.random() < inbound_share:
                self._random_inbound()
            else:
                self._random_outbound()

    def _random_inbound(self) -> None:
        traffic = self.traffic
        assert traffic is not None
        extensions = self.scenario.extensions
        idle = [ext for ext in extensions if self._extensions[ext] is ExtensionState.IDLE]
        # most DDRs end in a hunt group (an idle seller rings); the rest dial one seller directly
        pool = idle if idle and self._rng.random() < traffic.hunt_group_share else extensions
        extension = self._rng.choice(pool)
        caller = self._callers.caller()
        call = self._new_call(_Kind.CALL, external=caller.raw)
        self._offer_or_end(call, extension, direction=Direction.INBOUND, number=caller.raw,
                           ddr=self._callers.ddr(), caller_name=caller.caller_name)

    def _random_outbound(self) -> None:
        traffic = self.traffic
        assert traffic is not None
        idle = [ext for ext in self.scenario.extensions
                if ext not in traffic.human_extensions and self._extensions[ext] is ExtensionState.IDLE]
        if not idle:
            return
        extension = self._rng.choice(idle)
        number = sim_traffic.dial_string_for(self._callers.outbound_number(), self.scenario.site_ddd)
        call = self._new_call(_Kind.CALL, external=number)
        self._add_leg(call, extension, CallState.DIALING, direction=Direction.OUTBOUND, number=number)
        self._plan_far_end(call)

    # ================================================================ events and states

    def _emit(self, event: PbxEvent) -> None:
        if self._link_up:  # during an outage nothing reaches the gateway, and nothing is replayed
            self._stream.put(event)

    def _emit_resync(self) -> None:
        now = self.clock.now()
        self._emit(DriverConnected(at=now, pbx=self.name))
        self._emit(DriverResynced(at=now))

    def _emit_call(self, event: type[CallEvent], call: _Call, leg: _Leg, **extra: Any) -> None:
        self._emit(event(at=self.clock.now(), extension=leg.extension, call_id=call.id, direction=leg.direction,
                         number=leg.number, ddr=leg.ddr, **extra))

    def _call_event(self, event: type[CallEvent], call: _Call, leg: _Leg, **extra: Any) -> None:
        """The call event, then the extension's state if it changed because of it."""
        self._emit_call(event, call, leg, **extra)
        self._refresh(leg.extension)

    def _refresh(self, extension: str) -> None:
        state = self._derive(extension)
        if state is not self._extensions[extension]:
            self._extensions[extension] = state
            self._emit(ExtensionStateChanged(at=self.clock.now(), extension=extension, state=state))

    def _derive(self, extension: str) -> ExtensionState:
        if not self._registered[extension]:
            return ExtensionState.OFFLINE
        states = {self._calls[cid].legs[extension].state for cid in self._ext_calls[extension]}
        if states & {CallState.ACTIVE, CallState.CONSULTING}:
            return ExtensionState.IN_CALL
        if CallState.DIALING in states:
            return ExtensionState.DIALING
        if CallState.RINGING in states:
            return ExtensionState.RINGING
        if CallState.HELD in states:
            return ExtensionState.ON_HOLD
        return ExtensionState.IDLE

    # ================================================================ checks

    def _require_started(self) -> None:
        if self._closed:
            raise NotConnected("the simulator is closed")
        if not self._started:
            raise NotConnected("the simulator is not connected: call connect() first")

    def _require_link(self) -> None:
        self._require_started()
        if not self._link_up:
            raise NotConnected(f"the PBX link is down: {self._outage}")

    def _check_extension(self, extension: str) -> None:
        if extension not in self._registered:
            raise PbxError(f"extension {extension!r} does not exist on this PBX", field="extension")

    def _check_can_start(self, extension: str, what: str) -> None:
        """A phone can start something new when registered and not busy (held calls may wait)."""
        self._check_extension(extension)
        if not self._registered[extension]:
            raise PbxError(f"extension {extension} is offline (phone not registered): cannot {what}")
        busy = [c for c in self._calls_at(extension) if c.legs[extension].state is not CallState.HELD]
        if busy:
            raise PbxError(f"extension {extension} is busy with call {busy[0].id} ({self._leg_state(busy[0], busy[0].legs[extension])}): cannot {what}")

    def _check_dial_string(self, number: str) -> None:
        if not _DIAL_STRING.fullmatch(number):
            raise PbxError(f"{number!r} is not a number the PBX can dial (digits, *, # and a leading + only)", field="number")
        if len(number.lstrip("+")) <= 5:
            raise PbxError(f"{number} is not an extension of this PBX", field="number")

    def _check_transferable(self, call: _Call, leg: _Leg, what: str, *, allow_held: bool = False) -> None:
        allowed = (CallState.ACTIVE, CallState.HELD) if allow_held else (CallState.ACTIVE,)
        if leg.state not in allowed or call.kind is not _Kind.CALL:
            detail = self._leg_state(call, leg) if call.kind is _Kind.CALL else f"a {call.kind.value} call"
            needed = "in conversation or on hold" if allow_held else "in conversation"
            raise PbxError(f"call {call.id} at extension {leg.extension} is {detail}: only a call {needed} can be {what}")

    def _check_target(self, call: _Call, extension: str, target: str) -> None:
        if target == extension:
            raise PbxError(f"extension {extension} cannot transfer call {call.id} to itself")
        if target in call.legs:
            raise PbxError(f"extension {target} is already in call {call.id}")

    def _consulting(self, extension: str, call_id: str) -> tuple[_Call, _Leg]:
        call, leg = self._leg_for(extension, call_id)
        if leg.state is not CallState.CONSULTING or call.consult is None:
            raise PbxError(f"call {call_id} at extension {extension} is {self._leg_state(call, leg)}: no attended transfer is under way")
        return call, leg

    def _find(self, call_id: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            raise PbxError(f"no call {call_id!r} on this PBX (unknown or already over)", field="call_id")
        return call

    def _leg_for(self, extension: str, call_id: str) -> tuple[_Call, _Leg]:
        self._check_extension(extension)
        call = self._find(call_id)
        leg = call.leg(extension)
        if leg is None:
            where = ", ".join(call.legs) or ("parked" if call.parked else "no extension")
            raise PbxError(f"call {call_id} is not at extension {extension} (it is at {where})", field="call_id")
        return call, leg

    def _calls_at(self, extension: str) -> list[_Call]:
        return [self._calls[cid] for cid in self._ext_calls[extension]]

    @staticmethod
    def _dialing_out(call: _Call) -> bool:
        return call.kind is _Kind.PLAYBACK and not call.legs or any(
            leg.state is CallState.DIALING for leg in call.legs.values())

    @staticmethod
    def _leg_state(call: _Call, leg: _Leg) -> str:
        if leg.state is CallState.DIALING:
            return "an outbound call still being dialled (dialing)"
        if leg.state is CallState.RINGING:
            return "ringing"
        return {CallState.ACTIVE: "in conversation (active)", CallState.HELD: "on hold (held)",
                CallState.CONSULTING: "waiting on a consultation (consulting)"}.get(leg.state, leg.state.value)

    def _describe(self, call: _Call) -> str:
        legs = ", ".join(f"{ext} {leg.state.value}" for ext, leg in call.legs.items())
        return f"{call.kind.value} call" + (f", {legs}" if legs else "") + (", parked" if call.parked else "")


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("simulator task %s failed", task.get_name(), exc_info=task.exception())
