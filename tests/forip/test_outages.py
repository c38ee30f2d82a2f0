"""Calls that began and ended while ForIP's AMI was down come back from the call tickets, once.

The whole stack over real sockets and a real PostgreSQL: the simulator behind the fake Asterisk
manager (SimAmi) and the fake ForIP, which writes the tickets like ForIP does. The AMI is cut
(`stop_listening`: the manager goes away, the calls go on), calls happen, the AMI comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.asterisk.sim_ami import SimAmi
from tests.forip.conftest import Events, db_options, until
from tests.forip.fake_forip import ZONE, FakeForip
from tests.forip.harness import AMI_SECRET, AMI_USER, make_driver
from tui_caa.domain.events import (
    CallAnswered,
    CallDialing,
    CallEnded,
    CallEvent,
    CallRinging,
    DriverDisconnected,
    DriverResynced,
    PbxEvent,
)
from tui_caa.domain.telephony import Direction, Disposition
from tui_caa.pbx.forip import ForipDriver
from tui_caa.pbx.forip.outages import OutageWindow, SeenCalls, events_of, unseen
from tui_caa.pbx.forip.tickets import CallTicket
from tui_caa.pbx.sim import SimulatorDriver

CUSTOMER = "51999887766"
OTHER = "5133334444"
DDR = "5121010005"


@dataclass
class Stack:
    sim_ami: SimAmi
    fake: FakeForip
    drv: ForipDriver
    events: Events
    sim_events: list[PbxEvent]  # what the simulator did, with its times

    @property
    def sim(self) -> SimulatorDriver:
        return self.sim_ami.sim

    def told(self, call_id: str) -> list[CallEvent]:
        """The call's events not yet taken by `events.next`."""
        return [e for e in self.events.seen if isinstance(e, CallEvent) and e.call_id == call_id]

    def sim_event(self, kind: type, extension: str) -> PbxEvent:
        return next(e for e in self.sim_events if isinstance(e, kind) and e.extension == extension)

    async def cut_ami(self) -> None:
        await self.sim_ami.stop_listening()
        await self.events.next(DriverDisconnected)
        assert not self.drv.connected

    async def restore_ami(self) -> None:
        await self.sim_ami.listen()
        await self.events.next(DriverResynced)


@pytest.fixture
async def stack(pg: str) -> AsyncIterator[Stack]:
    sim_ami = await SimAmi(username=AMI_USER, secret=AMI_SECRET).start()
    fake = FakeForip.on_sim_ami(sim_ami, odbc=pg)
    sim_events: list[PbxEvent] = []
    fake.listeners.append(sim_events.append)
    drv = None
    events = None
    try:
        await fake.start()
        drv = make_driver(sim_ami, fake, **db_options(pg), outage_recheck=0.3, outage_retry=0.2)
        events = Events(drv)
        await drv.connect()
        await events.next(DriverResynced)
        yield Stack(sim_ami, fake, drv, events, sim_events)
    finally:
        if events is not None:
            await events.close()
        if drv is not None:
            await drv.close()
        await fake.close()
        await sim_ami.stop()


async def _calls_during_an_outage(stack: Stack) -> tuple[str, str, datetime]:
    """An answered call at 1001 and a missed one at 1002, both inside an AMI outage; their
    call ids (from the tickets, whose linked_id is the AMI Linkedid) and when the AMI came back."""
    sim, drv = stack.sim, stack.drv
    since = datetime.now(UTC) - timedelta(seconds=5)
    await stack.cut_ami()
    answered = await sim.ring("1001", CUSTOMER, ddr=DDR)
    await sim.answer("1001", answered)
    await sim.remote_hangup(answered)
    missed = await sim.ring("1002", OTHER, ddr=DDR)
    await sim.remote_hangup(missed)  # the customer gives up
    await stack.fake.wait_tickets(2)
    assert not [e for e in stack.events.seen if isinstance(e, CallEvent)], "nothing can be told during the outage"

    back = datetime.now(UTC)
    await stack.restore_ami()
    [ticket_1001] = await drv.call_history("1001", since)
    [ticket_1002] = await drv.call_history("1002", since)
    await until(lambda: drv.recoveries >= 2, what="the outage's tickets read, then read again")
    return ticket_1001.linked_id, ticket_1002.linked_id, back


async def test_calls_answered_and_missed_during_an_ami_outage_are_told_once_with_their_times(stack: Stack):
    answered_id, missed_id, back = await _calls_during_an_outage(stack)

    told = stack.told(answered_id)
    assert [type(e) for e in told] == [CallRinging, CallAnswered, CallEnded], told
    ringing, answer, ended = told
    assert all(e.extension == "1001" and e.direction is Direction.INBOUND and e.number == CUSTOMER
               and e.ddr == DDR for e in told), told
    # the ticket's times, not the time the link came back
    rang_at = stack.sim_event(CallRinging, "1001").at
    assert abs((ringing.at - rang_at).total_seconds()) < 1 and ended.at < back, (told, rang_at)
    assert answer.at == ringing.at and ended.at >= answer.at
    assert ended.disposition is Disposition.ANSWERED and ended.recording_ref
    assert ended.recording_ref.startswith(f"GRAVACOES/{ringing.at.astimezone(ZONE):%Y%m%d}/")

    told = stack.told(missed_id)
    assert [type(e) for e in told] == [CallRinging, CallEnded], told
    ringing, ended = told
    assert (ringing.extension, ringing.number, ringing.ddr) == ("1002", OTHER, DDR)
    assert abs((ringing.at - stack.sim_event(CallRinging, "1002").at).total_seconds()) < 1
    assert ended.at == ringing.at and ended.disposition is Disposition.NO_ANSWER and ended.recording_ref is None
    assert stack.drv.recovered_calls == 2 and stack.drv.recovery_failures == 0


async def test_a_second_outage_does_not_tell_them_again(stack: Stack):
    answered_id, missed_id, _ = await _calls_during_an_outage(stack)
    before = len(stack.told(answered_id)) + len(stack.told(missed_id))
    assert before == 5

    # a call under way, seen live, that ends during the next outage: the gateway knows it from the
    # resync, so its ticket tells nothing either
    live = await stack.sim.ring("1003", CUSTOMER, ddr=DDR)
    live_id = (await stack.events.next(CallRinging, extension="1003")).call_id
    await stack.sim.answer("1003", live)
    await stack.events.next(CallAnswered, call_id=live_id)
    reads = stack.drv.recoveries
    await stack.cut_ami()
    await stack.sim.remote_hangup(live)
    await stack.fake.wait_tickets(3)
    await stack.restore_ami()
    await until(lambda: stack.drv.recoveries >= reads + 2, what="the second outage's tickets read twice")

    assert len(stack.told(answered_id)) + len(stack.told(missed_id)) == before
    assert stack.told(live_id) == []  # its live ringing and answer were taken above; nothing from the ticket
    assert stack.drv.recovered_calls == 2


async def test_a_call_still_ringing_when_the_link_returns_is_left_to_the_live_events(stack: Stack):
    await stack.cut_ami()
    ringing = await stack.sim.ring("1001", CUSTOMER, ddr=DDR)
    await until(lambda: stack.sim_ami.ringing("1001"), what="1001 ringing")
    await stack.restore_ami()
    [call] = [c for c in (await stack.drv.snapshot()).calls if c.extension == "1001"]
    await stack.sim.remote_hangup(ringing)
    ended = await stack.events.next(CallEnded, call_id=call.call_id)  # live, from the AMI
    assert ended.disposition is not Disposition.ANSWERED
    await stack.fake.wait_tickets(1)
    await until(lambda: stack.drv.recoveries >= 2, what="the outage's tickets read twice")
    assert stack.told(call.call_id) == []  # its live end was taken above; nothing from the ticket
    assert stack.drv.recovered_calls == 0


async def test_a_database_failure_during_recovery_is_counted_and_the_link_still_comes_back(stack: Stack):
    drv = stack.drv
    assert drv.tickets is not None
    table = drv.tickets.table
    drv.tickets.table = "f_no_such_table"  # the tickets cannot be read for now
    since = datetime.now(UTC) - timedelta(seconds=5)
    await stack.cut_ami()
    answered = await stack.sim.ring("1001", CUSTOMER, ddr=DDR)
    await stack.sim.answer("1001", answered)
    await stack.sim.remote_hangup(answered)
    await stack.fake.wait_tickets(1)
    await stack.restore_ami()

    await until(lambda: drv.recovery_failures >= 2, what="the failed read retried")
    assert drv.connected and drv.errors["database"] >= 2 and drv.errors["outage_recovery"] >= 2
    assert drv.recovered_calls == 0
    # the link works: a new call is told live
    await stack.sim.ring("1002", OTHER, ddr=DDR)
    await stack.events.next(CallRinging, extension="1002")

    # the database answers again: the outage's call is told then, once
    drv.tickets.table = table
    await until(lambda: drv.recovered_calls == 1, what="the outage's call told once the database answers")
    [ticket] = await drv.call_history("1001", since)
    assert [type(e) for e in stack.told(ticket.linked_id)] == [CallRinging, CallAnswered, CallEnded]
    await until(lambda: drv.recoveries >= 2, what="the recheck")
    assert drv.recovered_calls == 1 and len(stack.told(ticket.linked_id)) == 3


# ---- the pieces, without a PBX ----

def _ticket(id_: int, linked_id: str, extension: str = "1001", *, answered: bool = False,
            direction: Direction = Direction.INBOUND, origem: str = CUSTOMER) -> CallTicket:
    start = datetime(2026, 11, 26, 13, 0, tzinfo=UTC) + timedelta(minutes=id_)
    return CallTicket(id=id_, linked_id=linked_id, extension=extension, direction=direction, number=CUSTOMER,
                      started_at=start, talk_seconds=75 if answered else 0, answered=answered,
                      disposition=Disposition.ANSWERED if answered else Disposition.BUSY,
                      status="ANSWERED" if answered else "BUSY", recording_ref="GRAVACOES/20261126/x.WAV" if answered
                      else None, origem=origem, destino=extension)


def test_seen_calls_forget_the_oldest_beyond_their_limit():
    seen = SeenCalls(limit=3)
    for n in range(5):
        seen.add(f"c{n}", "1001")
    assert len(seen) == 3 and ("c0", "1001") not in seen and ("c4", "1001") in seen
    seen.add("c2", "1002")
    assert seen.extensions() == {"1001", "1002"}


def test_one_ticket_per_unseen_leg_the_answered_one_and_none_of_a_call_under_way():
    seen = SeenCalls()
    seen.add("live", "1001")
    tickets = [_ticket(3, "b"), _ticket(1, "a"), _ticket(2, "a", answered=True), _ticket(4, "a"),
               _ticket(5, "live"), _ticket(6, "up"), _ticket(7, "")]
    chosen = unseen(tickets, seen, active={"up"})
    assert [(t.linked_id, t.id) for t in chosen] == [("a", 2), ("b", 3)]


def test_the_events_of_a_ticket_carry_its_times():
    answered = events_of(_ticket(2, "a", answered=True), DDR)
    assert [type(e) for e in answered] == [CallRinging, CallAnswered, CallEnded]
    assert answered[2].at - answered[0].at == timedelta(seconds=75) and answered[1].at == answered[0].at
    assert answered[2].recording_ref == "GRAVACOES/20261126/x.WAV" and answered[0].ddr == DDR
    busy = events_of(_ticket(3, "b"), DDR)
    assert [type(e) for e in busy] == [CallRinging, CallEnded] and busy[1].disposition is Disposition.BUSY
    assert busy[1].at == busy[0].at
    placed = events_of(_ticket(4, "c", direction=Direction.INTERNAL, origem="1001"), DDR)
    assert isinstance(placed[0], CallDialing) and placed[0].ddr is None  # the caller's side of an internal call


def test_the_outage_window_reads_twice_merges_outages_and_retries() -> None:
    window = OutageWindow(margin=60, recheck=10, retry=30)
    assert not window.back(now=0.0)  # nothing was lost
    lost = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    window.lost(lost)
    assert window.back(now=100.0)
    assert window.due(100.0) == lost - timedelta(seconds=60)
    window.failed(100.0)
    assert window.due(129.0) is None and window.wait(129.0) == 1.0
    window.read(130.0)  # the first read worked: once more 10 s later
    assert window.due(135.0) is None and window.due(140.0) == lost - timedelta(seconds=60)
    window.lost(lost + timedelta(minutes=5))  # a second outage before the recheck: one window
    assert window.back(now=141.0)
    assert window.due(141.0) == lost - timedelta(seconds=60)
    window.read(141.0)
    window.read(151.0)
    assert window.due(1000.0) is None and window.wait(1000.0) is None
