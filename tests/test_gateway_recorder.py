"""Every finished call reaches the CRM exactly once, also across a database outage or a restart."""

import asyncio
from pathlib import Path

import pytest

from tests.conftest import T0
from tui_caa.clock import ManualClock
from tui_caa.crm import CrmStore, DatabaseUnavailable
from tui_caa.domain import CallRecord, Direction, Disposition
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.recorder import CallRecorder


class FlakyStore:
    """The real store, with a switch that makes the database unreachable."""

    def __init__(self, store: CrmStore) -> None:
        self.store, self.down, self.attempts = store, False, 0

    async def record_call(self, record: CallRecord):  # type: ignore[no-untyped-def]
        return (await self.record_calls([record]))[0]

    async def record_calls(self, records: list[CallRecord]):  # type: ignore[no-untyped-def]
        self.attempts += 1
        if self.down:
            raise DatabaseUnavailable("CRM database is unavailable: connection refused")
        return await self.store.record_calls(records)


def record(n: int) -> CallRecord:
    return CallRecord(pbx_call_id=f"c{n}", extension="1001", direction=Direction.INBOUND, remote_raw="051987654321",
                      started_at=T0, disposition=Disposition.NO_ANSWER, missed=True)


async def test_outage_then_recovery_loses_nothing_and_writes_nothing_twice(store: CrmStore, tmp_path: Path) -> None:
    clock = ManualClock(T0)
    flaky = FlakyStore(store)
    recorder = CallRecorder(flaky, Outbox(tmp_path / "outbox.sqlite3"), clock)  # type: ignore[arg-type]
    task = asyncio.ensure_future(recorder.run())
    flaky.down = True
    for n in range(5):
        recorder.record(record(n))
    await clock.advance(0)
    assert recorder.waiting == 5 and not recorder.crm_available
    await clock.advance(10)  # several retries, all failing
    assert flaky.attempts >= 3 and recorder.waiting == 5
    flaky.down = False
    await clock.advance(30)
    await asyncio.wait_for(recorder.drained(), 5)
    history = await store.call_history("1001")
    assert sorted(r.call.pbx_call_id for r in history.rows) == [f"c{n}" for n in range(5)]
    assert recorder.written == 5 and recorder.crm_available
    task.cancel()


async def test_records_left_by_a_crash_are_written_once_on_restart(store: CrmStore, tmp_path: Path) -> None:
    outbox_path = tmp_path / "outbox.sqlite3"
    left = Outbox(outbox_path)
    left.add(record(1))
    left.add(record(2))
    await store.record_call(record(1))  # reached the CRM just before the crash, still journaled
    left.close()

    recorder = CallRecorder(store, Outbox(outbox_path), ManualClock(T0))
    task = asyncio.ensure_future(recorder.run())
    await asyncio.wait_for(recorder.drained(), 5)
    assert sorted(r.call.pbx_call_id for r in (await store.call_history("1001")).rows) == ["c1", "c2"]
    task.cancel()


async def test_a_record_the_crm_refuses_is_kept_apart_and_does_not_block(store: CrmStore, tmp_path: Path) -> None:
    class Refusing(FlakyStore):
        async def record_calls(self, records: list[CallRecord]):  # type: ignore[no-untyped-def]
            if any(r.pbx_call_id == "c1" for r in records):
                raise ValueError("nonsense from the CRM")
            return await super().record_calls(records)

    outbox = Outbox(tmp_path / "outbox.sqlite3")
    recorder = CallRecorder(Refusing(store), outbox, ManualClock(T0))  # type: ignore[arg-type]
    task = asyncio.ensure_future(recorder.run())
    recorder.record(record(1))
    recorder.record(record(2))
    await asyncio.wait_for(recorder.drained(), 5)
    assert [r.call.pbx_call_id for r in (await store.call_history("1001")).rows] == ["c2"]
    assert [(r.pbx_call_id, reason) for r, reason in outbox.refused()] == [("c1", "nonsense from the CRM")]
    task.cancel()


def test_outbox_folder_is_created(tmp_path: Path) -> None:
    Outbox(tmp_path / "deep" / "outbox.sqlite3").close()
    assert (tmp_path / "deep" / "outbox.sqlite3").exists()


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("CRITICAL", logger="tui_caa.gateway.recorder")
