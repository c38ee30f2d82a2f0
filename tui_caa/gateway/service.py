"""The integration service's core: one per PBX, whatever the PBX.

It runs the driver, keeps the picture of extensions and calls (`PbxState`), fans the events out
to the consoles (`Hub`), identifies every inbound caller once (`ScreenPop`), routes the consoles'
commands with authorization, and records every finished call (`CallRecorder`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tui_caa.clock import Clock, SystemClock
from tui_caa.crm import CrmStore
from tui_caa.domain import CallRecord, DomainError, TrafficSource
from tui_caa.domain.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallRinging,
    DriverConnected,
    DriverDisconnected,
    DriverResynced,
    PbxEvent,
)
from tui_caa.domain.telephony import Capability, Direction
from tui_caa.gateway.daily_counts import DailyCallCounts, local_day
from tui_caa.gateway.hub import Hub, Subscription
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.recorder import CallRecorder
from tui_caa.gateway.state import PbxState, TrackedCall
from tui_caa.gateway.supervisor import Supervisor
from tui_caa.pbx.base import PbxDriver, PbxError
from tui_caa.phones import CallerIdRules, DialRules, InvalidPhoneNumber, dial_string, normalize
from tui_caa.protocol.messages import (
    CallsRecorded,
    GatewayProblems,
    LinkState,
    LinkStatus,
    PbxUpdate,
    ScreenPop,
    StateSnapshot,
)
from tui_caa.protocol.principal import NotAllowed, Principal, Reconnecting

log = logging.getLogger(__name__)
T = TypeVar("T")

LOOKUPS_AT_ONCE = 8  # a burst of rings must not open every CRM connection at the same time
SCREEN_POP_TASK = "screen pop"
DRIVER_TASK = "pbx driver"
RECORDER_TASK = "call recorder"
OUTBOX_PROBLEM = "outbox"


class Gateway:
    def __init__(
        self,
        driver: PbxDriver,
        store: CrmStore,
        outbox: Outbox,
        *,
        clock: Clock | None = None,
        dial_rules: DialRules | None = None,
        caller_id_rules: CallerIdRules | None = None,
        backoff: tuple[float, float] = (1.0, 30.0),
        subscriber_backlog: int = 1000,
    ) -> None:
        self.driver = driver
        self.store = store
        self.clock = clock or SystemClock()
        self.dial_rules = dial_rules or DialRules()
        self.caller_id_rules = caller_id_rules or store.rules
        self.state = PbxState()
        self.calls_today = DailyCallCounts(local_day(self.clock.now()))
        self.hub = Hub(self._snapshot_for, maxsize=subscriber_backlog)
        self.supervisor = Supervisor(self.clock, self._problems_changed)
        self.recorder = CallRecorder(store, outbox, self.clock, on_written=self._recorded,
                                     on_problem=lambda problem: self.supervisor.report(OUTBOX_PROBLEM, problem))
        self.link = LinkState.DOWN
        self.link_reason = "not connected yet"
        self.pops: dict[str, ScreenPop] = {}
        self.bad_events = 0
        # told how long each screen pop took, ring to publish (the service's metrics listen here)
        self.on_screen_pop: Callable[[float], None] | None = None
        self._backoff = backoff
        self._sources_by_ddr: dict[str, TrafficSource] = {}
        self._lookups = asyncio.Semaphore(LOOKUPS_AT_ONCE)
        self._tasks: set[asyncio.Task[None]] = set()
        self._connected = asyncio.Event()
        self._driver_started = False  # connected once: from then on the driver reconnects by itself

    # ---- life cycle ----
    async def start(self) -> None:
        await self.refresh_traffic_sources()
        await self.calls_today.load(self.store)
        # supervised: an unexpected error restarts the task (with backoff) and shows as a problem
        self._spawn(self.supervisor.run(DRIVER_TASK, self._drive, clear_at_start=False), DRIVER_TASK)
        self._spawn(self.supervisor.run(RECORDER_TASK, lambda _restarted: self.recorder.run()), RECORDER_TASK)

    @property
    def problems(self) -> tuple[str, ...]:
        return self.supervisor.problems

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscription in self.hub.subscriptions():
            subscription.close()
        await self.driver.close()

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def lookups_done(self) -> None:
        """Waits for the screen pops being looked up now (tests; orderly shutdown)."""
        pending = [t for t in self._tasks if t.get_name().startswith(SCREEN_POP_TASK)]
        await asyncio.gather(*pending, return_exceptions=True)

    def _spawn(self, coroutine: Awaitable[None], name: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("gateway task %s failed", task.get_name(), exc_info=task.exception())

    async def refresh_traffic_sources(self) -> None:
        """The DDR → traffic source table, kept in memory so that a ring shows its source at once."""
        try:
            sources = await self.store.traffic_sources()
        except DomainError as exc:
            log.warning("traffic sources not refreshed: %s", exc)
            return
        self._sources_by_ddr = {s.ddr_e164: s for s in sources if s.ddr_e164 and s.active}

    # ---- the PBX side ----
    async def _drive(self, restarted: bool = False) -> None:
        """Connects once (retrying with backoff while the PBX is down), then follows the driver's
        events for good: after that first connect the driver reconnects by itself and says so
        (DriverDisconnected … DriverResynced), so the gateway never closes it before `stop()`.
        Restarted after an unexpected error (by the supervisor), it resyncs before trusting its
        state again, as after a reconnect: the event that failed, and any dial, is never replayed."""
        try:
            if restarted and self._driver_started:
                await self._resync_or_wait()
            else:
                await self._connect()
            async for event in self.driver.events():
                await self._on_event(event)
        except Exception as exc:
            # the link is not "connected" while nobody follows its events: commands wait for the resync
            if self._driver_started:
                self._set_link(LinkState.RECONNECTING, f"event processing failed ({type(exc).__name__}); restarting")
            else:  # settings that cannot work, a driver bug: retried, but said as it is
                self._set_link(LinkState.DOWN, f"cannot connect ({type(exc).__name__}: {exc})"[:200])
            raise
        log.error("the PBX driver stopped sending events")
        self._set_link(LinkState.DOWN, "the PBX driver stopped sending events; restart the gateway")

    async def _connect(self) -> None:
        delay, longest = self._backoff
        while True:
            try:
                await self.driver.connect()
                break
            except (PbxError, OSError) as exc:
                self._set_link(LinkState.DOWN, str(exc))
                await self.clock.sleep(delay)
                delay = min(delay * 2, longest)
        self._driver_started = True
        await self._resync_or_wait()

    async def _resync_or_wait(self) -> None:
        try:
            await self._resync()
        except (PbxError, OSError) as exc:
            # the link dropped again before the snapshot: the driver reconnects and resyncs again
            self._set_link(LinkState.RECONNECTING, str(exc))

    async def _on_event(self, event: PbxEvent) -> None:
        match event:
            case DriverDisconnected():
                self._set_link(LinkState.RECONNECTING, event.reason)
            case DriverConnected():
                pass  # not trusted until the driver says it resynced
            case DriverResynced():
                await self._resync_or_wait()
            case _:
                self._apply(event)

    def _apply(self, event: PbxEvent) -> None:
        # a call that reaches an extension already answered (the target of an attended transfer)
        # gets its DDR's source and the screen pop as a ringing one does
        joined = (isinstance(event, CallAnswered) and event.direction is Direction.INBOUND and bool(event.extension)
                  and bool(event.call_id) and self.state.call(event.extension or "", event.call_id or "") is None)
        began = (isinstance(event, CallEvent) and bool(event.extension) and bool(event.call_id)
                 and self.state.call(event.extension or "", event.call_id or "") is None)
        try:
            record = self.state.apply(event)
        except ValueError as exc:  # an event no call can explain (bad times from a PBX): skip it
            self.bad_events += 1
            log.warning("event skipped: %s (%s)", event, exc)
            return
        if began and not isinstance(event, CallEnded):  # counted as the consoles' models count
            self.calls_today.call_began(event.extension or "", event.at)
        source = None
        if isinstance(event, CallRinging) or (joined and isinstance(event, CallAnswered)):
            source = self._source_of(event.ddr)
            self._identify(event, source)
        self.hub.publish(event.extension, PbxUpdate(event, source))
        if record is not None:
            self.recorder.record(record)
            self._forget_pop_if_gone(record.pbx_call_id)

    async def _resync(self) -> None:
        self._set_link(LinkState.RECONNECTING, "resynchronising with the PBX")
        self._connected.clear()
        snapshot = await self.driver.snapshot()
        for record in self.state.reset(snapshot):
            self.recorder.record(record)
        active = {call.call_id for call in self.state.calls.values()}
        self.pops = {call_id: pop for call_id, pop in self.pops.items() if call_id in active}
        self._set_link(LinkState.CONNECTED, "")
        self.supervisor.clear(DRIVER_TASK)  # before the snapshots: they carry the problems
        self.hub.resync_all()
        self._connected.set()

    def _problems_changed(self, problems: tuple[str, ...]) -> None:
        self.hub.publish(None, GatewayProblems(problems))

    def _recorded(self, records: list[CallRecord]) -> None:
        by_extension: dict[str, list[str]] = {}
        for record in records:
            by_extension.setdefault(record.extension, []).append(record.pbx_call_id)
        for extension, call_ids in by_extension.items():
            self.hub.publish(extension, CallsRecorded(extension, tuple(call_ids)))

    def _set_link(self, state: LinkState, reason: str) -> None:
        if (state, reason) == (self.link, self.link_reason):
            return
        if state is not LinkState.CONNECTED:
            self._connected.clear()
        self.link, self.link_reason = state, reason
        log.info("PBX link %s %s", state.value, reason)
        self.hub.publish(None, LinkStatus(state, reason))

    # ---- screen pop ----
    def _source_of(self, ddr: str | None) -> TrafficSource | None:
        if not ddr:
            return None
        try:
            e164 = normalize(ddr, self.caller_id_rules).e164
        except InvalidPhoneNumber:
            return None
        return self._sources_by_ddr.get(e164) if e164 else None

    def _identify(self, event: CallRinging | CallAnswered, source: TrafficSource | None) -> None:
        assert event.extension and event.call_id
        known = self.pops.get(event.call_id)
        if known is not None:  # the same call ringing elsewhere (a transfer): same pop, no lookup
            pop = ScreenPop(event.extension, event.call_id, known.lookup, known.traffic_source, known.error)
            self.hub.publish(event.extension, pop)
            return
        if event.direction is not Direction.INBOUND:
            return
        self._spawn(self._look_up(event, source), f"{SCREEN_POP_TASK} {event.call_id}")

    async def _look_up(self, event: CallRinging | CallAnswered, source: TrafficSource | None) -> None:
        assert event.extension and event.call_id
        started = time.perf_counter()
        async with self._lookups:
            try:
                pop = ScreenPop(event.extension, event.call_id, await self.store.lookup_by_phone(event.number or ""), source)
            except DomainError as exc:
                pop = ScreenPop(event.extension, event.call_id, None, source, error=str(exc))
        if not any(call.call_id == event.call_id for call in self.state.calls.values()):
            return  # the call ended while we looked: nobody needs the pop any more
        self.pops[event.call_id] = pop
        for call in self.state.calls.values():
            if call.call_id == event.call_id:
                self.hub.publish(call.extension, ScreenPop(call.extension, call.call_id, pop.lookup, source, pop.error))
        if self.on_screen_pop is not None:
            self.on_screen_pop(time.perf_counter() - started)

    def _forget_pop_if_gone(self, call_id: str) -> None:
        if call_id in self.pops and not any(c.call_id == call_id for c in self.state.calls.values()):
            del self.pops[call_id]

    # ---- consoles ----
    def subscribe(self, principal: Principal, *, backlog: int | None = None) -> Subscription:
        """An agent gets its own extension; a supervisor every extension."""
        extension = None if principal.sees_everything else principal.own_extension()
        return self.hub.subscribe(extension, maxsize=backlog)

    def _snapshot_for(self, extension: str | None) -> StateSnapshot:
        snapshot = self.state.snapshot(self.clock.now(), extension)
        pops = {c.call_id: self.pops[c.call_id] for c in snapshot.calls if c.call_id in self.pops}
        return StateSnapshot(snapshot, self.link, pops, self.supervisor.problems,
                             self.calls_today.counts(self.clock.now(), extension))

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.driver.capabilities

    # ---- commands, each checked against who asks ----
    async def dial(self, principal: Principal, number: str) -> str:
        """Calls `number` (as typed, normalised and turned into the PBX's dial string) from the
        principal's extension. Never retried by the gateway: a dial is never replayed."""
        extension = principal.own_extension()
        try:
            digits = dial_string(number, self.dial_rules, caller_id_rules=self.caller_id_rules)
        except InvalidPhoneNumber as exc:
            raise NotAllowed(f"cannot dial: {exc}", field="number") from exc
        return await self._command(lambda: self.driver.dial(extension, digits))

    async def answer(self, principal: Principal, call_id: str) -> None:
        call = self._own_call(principal, call_id)
        await self._command(lambda: self.driver.answer(call.extension, call_id))

    async def hangup(self, principal: Principal, call_id: str) -> None:
        call = self._own_call(principal, call_id)
        await self._command(lambda: self.driver.hangup(call.extension, call_id))

    async def hold(self, principal: Principal, call_id: str) -> None:
        call = self._own_call(principal, call_id)
        await self._command(lambda: self.driver.hold(call.extension, call_id))

    async def resume(self, principal: Principal, call_id: str) -> None:
        call = self._own_call(principal, call_id)
        await self._command(lambda: self.driver.resume(call.extension, call_id))

    async def blind_transfer(self, principal: Principal, call_id: str, target: str) -> None:
        call = self._own_call(principal, call_id)
        digits = self._target(target)
        await self._command(lambda: self.driver.blind_transfer(call.extension, call_id, digits))

    async def consult(self, principal: Principal, call_id: str, target: str) -> None:
        call = self._own_call(principal, call_id)
        digits = self._target(target)
        await self._command(lambda: self.driver.consult(call.extension, call_id, digits))

    async def complete_transfer(self, principal: Principal, call_id: str) -> None:
        call = self._own_call(principal, call_id)
        await self._command(lambda: self.driver.complete_transfer(call.extension, call_id))

    async def cancel_transfer(self, principal: Principal, call_id: str) -> None:
        call = self._own_call(principal, call_id)
        await self._command(lambda: self.driver.cancel_transfer(call.extension, call_id))

    async def send_dtmf(self, principal: Principal, call_id: str, digits: str) -> None:
        call = self._own_call(principal, call_id)
        await self._command(lambda: self.driver.send_dtmf(call.extension, call_id, digits))

    async def park(self, principal: Principal, call_id: str) -> str:
        call = self._own_call(principal, call_id)
        return await self._command(lambda: self.driver.park(call.extension, call_id))

    async def pickup(self, principal: Principal, slot_or_extension: str) -> None:
        extension = principal.own_extension()
        await self._command(lambda: self.driver.pickup(extension, slot_or_extension))

    async def monitor(self, principal: Principal, mode: Capability, target_extension: str) -> None:
        if not principal.sees_everything:
            raise NotAllowed("only supervisors may listen to, whisper to or barge into calls", field="role")
        extension = principal.own_extension()
        if target_extension not in self.state.extensions:
            raise NotAllowed(f"extension {target_extension} is not on this PBX", field="extension")
        await self._command(lambda: self.driver.monitor(mode, extension, target_extension))

    async def play_recording(self, principal: Principal, record: CallRecord, number: str | None = None) -> str:
        """Has the PBX call `number` (default: the principal's own extension) and play the call's
        recording on answer. Agents may play only their own extension's calls."""
        if not principal.sees_everything and record.extension != principal.extension:
            raise NotAllowed(f"the call was on extension {record.extension}, not yours", field="extension")
        if not record.recording_ref:
            raise NotAllowed("this call has no recording", field="recording_ref")
        target = self._target(number) if number else principal.own_extension()
        ref = record.recording_ref
        return await self._command(lambda: self.driver.play_recording(ref, target))

    def _own_call(self, principal: Principal, call_id: str) -> TrackedCall:
        extension = principal.own_extension()
        call = self.state.call(extension, call_id)
        if call is None:
            elsewhere = next((c.extension for c in self.state.calls.values() if c.call_id == call_id), None)
            if elsewhere:
                raise NotAllowed(f"call {call_id} is on extension {elsewhere}, not on yours ({extension})",
                                 field="call_id")
            raise NotAllowed(f"call {call_id} is not under way on extension {extension}", field="call_id")
        return call

    def _target(self, number: str) -> str:
        try:
            return dial_string(number, self.dial_rules, caller_id_rules=self.caller_id_rules)
        except InvalidPhoneNumber as exc:
            raise NotAllowed(f"cannot call {number!r}: {exc.reason}", field="target") from exc

    async def _command(self, command: Callable[[], Awaitable[T]]) -> T:
        if self.link is not LinkState.CONNECTED:
            raise Reconnecting(f"the PBX link is {self.link.value}"
                               + (f" ({self.link_reason})" if self.link_reason else "")
                               + "; try again when it is connected", field="link")
        return await command()

