"""The gateway never stops recording silently: whatever fails (the outbox file, the disk, the CRM,
its own event processing), it says so on every console and comes back, and every call ends up in
the CRM exactly once."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import T0
from tests.gateway_fixtures import Rig
from tui_caa.clock import ManualClock
from tui_caa.crm import CrmStore, DatabaseUnavailable
from tui_caa.domain.events import CallEnded
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.gateway.state import PbxState
from tui_caa.gateway.supervisor import Supervisor
from tui_caa.pbx.sim import SimScenario, SimulatorDriver
from tui_caa.protocol.messages import GatewayProblems, LinkState, LinkStatus, StateSnapshot


async def missed_calls(rig: Rig, count: int, extension: str = "1001") -> list[str]:
    ids = []
    for _ in range(count):
        ids.append(await rig.ring(extension, "051987654321"))
        await rig.settle(30)  # unanswered: the simulator gives up and the call ends
    return ids


async def recorded_once(rig: Rig, ids: list[str], extension: str = "1001") -> None:
    await rig.recorded()
    rows = (await rig.sessions[extension].call_history()).rows
    assert sorted(r.call.pbx_call_id for r in rows) == sorted(ids)


def problems_told(messages: list[object]) -> list[tuple[str, ...]]:
    return [m.problems for m in messages if isinstance(m, GatewayProblems)]


async def test_outbox_locked_by_another_process_keeps_records_in_memory(rig: Rig) -> None:
    agent = rig.sessions["1001"]
    before = await missed_calls(rig, 1)
    await rig.recorded()
    locker = sqlite3.connect(str(rig.gateway.recorder._outbox.path), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("INSERT INTO refused(record, reason) VALUES ('x', 'held by the test')")
    during = await missed_calls(rig, 3)
    assert rig.gateway.recorder.in_memory == 3 and rig.gateway.link is LinkState.CONNECTED
    told = problems_told(await rig.received(agent))
    assert told and "outbox" in told[0][0] and "locked" in told[0][0]
    assert rig.gateway.problems
    await rig.settle(20)  # still locked: retried with backoff, nothing lost, nothing raised
    locker.execute("ROLLBACK")
    locker.close()
    after = await missed_calls(rig, 1)
    await rig.settle(60)
    await recorded_once(rig, before + during + after)
    assert rig.gateway.problems == () and problems_told(await rig.received(agent))[-1] == ()


async def test_disk_full_keeps_order_and_records_everything_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    outbox = rig.gateway.recorder._outbox
    full = True
    real_add = Outbox.add
    journaled: list[str] = []

    def add(record):  # type: ignore[no-untyped-def]
        if full:
            raise sqlite3.OperationalError("database or disk is full")
        journaled.append(record.pbx_call_id)
        return real_add(outbox, record)

    monkeypatch.setattr(outbox, "add", add)
    ids = await missed_calls(rig, 4)
    assert rig.gateway.recorder.waiting == 4
    assert any("disk is full" in p for p in rig.gateway.problems)
    snapshot = next(m for m in await rig.received(rig.supervisor) if isinstance(m, GatewayProblems))
    assert "disk is full" in snapshot.problems[0]
    full = False
    await rig.settle(60)
    await recorded_once(rig, ids)
    assert journaled == ids  # in the order the calls ended
    assert rig.gateway.problems == ()


async def test_crm_down_then_up_records_every_call_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    down = True
    real_record = rig.store.record_calls

    async def record_calls(records):  # type: ignore[no-untyped-def]
        if down:
            raise DatabaseUnavailable("CRM database crm@db is unavailable: connection refused")
        return await real_record(records)

    monkeypatch.setattr(rig.store, "record_calls", record_calls)
    ids = await missed_calls(rig, 3)
    assert rig.gateway.recorder.waiting == 3
    down = False
    await rig.settle(60)
    await recorded_once(rig, ids)


async def test_driver_task_crashing_restarts_resyncs_and_says_so(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = rig.sessions["1001"]
    real_apply = PbxState.apply
    crashed = []

    def apply(self, event):  # type: ignore[no-untyped-def]
        if isinstance(event, CallEnded) and not crashed:
            crashed.append(event.call_id)
            raise RuntimeError("an event nobody expected")
        return real_apply(self, event)

    monkeypatch.setattr(PbxState, "apply", apply)
    published: list[object] = []  # every console's queue is replaced by the snapshot of the resync
    real_publish = rig.gateway.hub.publish
    monkeypatch.setattr(rig.gateway.hub, "publish", lambda ext, m: (published.append(m), real_publish(ext, m))[1])
    first = await rig.ring("1001", "051987654321")
    await rig.received(agent)
    await rig.settle(30)  # the call ends unanswered: its CallEnded kills event processing
    assert crashed == [first]
    await rig.settle(1)  # the backoff: restarted, resynced from the PBX's snapshot
    assert rig.gateway.link is LinkState.CONNECTED and rig.gateway.problems == ()
    told = problems_told(published)
    assert len(told) == 2 and "pbx driver failed (RuntimeError" in told[0][0] and told[1] == ()
    links = [m.state for m in published if isinstance(m, LinkStatus)]
    assert links == [LinkState.RECONNECTING, LinkState.RECONNECTING, LinkState.CONNECTED]  # failed, resyncing
    got = await rig.received(agent)
    assert any(isinstance(m, StateSnapshot) and m.link is LinkState.CONNECTED and not m.problems for m in got)
    later = await missed_calls(rig, 2)
    await recorded_once(rig, [first, *later])  # the call whose end was lost comes from the resync
    assert rig.gateway.supervisor.restarts == 1


async def test_driver_failing_at_every_start_stays_a_problem_and_backs_off(store: CrmStore, tmp_path: Path) -> None:
    class BadSettings(SimulatorDriver):
        async def connect(self) -> None:
            raise ValueError("AMI line contains a CR or LF")

    clock = ManualClock(T0)
    driver = BadSettings(SimScenario(extensions=("1001",)), seed=1, clock=clock)
    gateway = Gateway(driver, store, Outbox(tmp_path / "outbox.sqlite3"), clock=clock)
    await gateway.start()
    try:
        for seconds in (0, 0.5, 1, 2, 4, 8, 16, 30, 30):
            await clock.advance(seconds)
            assert any("ValueError: AMI line contains a CR or LF" in p for p in gateway.problems)
        assert gateway.supervisor.restarts == 9  # 0.5, 1, 2 … doubling up to 30 s, never given up
        assert gateway.link is LinkState.DOWN and "AMI line contains a CR or LF" in gateway.link_reason
    finally:
        await gateway.stop()


async def test_a_task_that_ran_fine_for_a_while_restarts_with_the_shortest_delay() -> None:
    clock = ManualClock(T0)
    told: list[tuple[str, ...]] = []
    supervisor = Supervisor(clock, told.append, delays=(0.5, 30.0), healthy_after=60.0)
    runs: list[float] = []

    async def task(restarted: bool) -> None:
        runs.append((clock.now() - T0).total_seconds())
        if len(runs) in (1, 2):
            raise RuntimeError("at once")
        if len(runs) == 3:
            await clock.sleep(120)  # ran fine for two minutes, then failed
            raise RuntimeError("later")

    running = asyncio.ensure_future(supervisor.run("worker", task))
    for _ in range(6):
        await clock.advance(61)
    await running
    assert runs == [0, 0.5, 1.5, 122.0]  # 0.5, then 1 s; after two good minutes 0.5 s again
    assert told[-1] == () and supervisor.restarts == 3
