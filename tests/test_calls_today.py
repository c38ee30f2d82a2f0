"""The monitor's "Ligações hoje": what the CRM holds for today when the gateway starts, then every
call the gateway sees begin; the next local day starts from zero."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.conftest import T0
from tests.gateway_fixtures import make_rig
from tui_caa.crm import CrmStore
from tui_caa.domain import CallRecord, Direction, Disposition
from tui_caa.gateway.daily_counts import DailyCallCounts, day_start, local_day
from tui_caa.protocol.messages import StateSnapshot
from tui_caa.ui.model import ConsoleModel


def answered(call_id: str, extension: str, hours_before_t0: float) -> CallRecord:
    at = T0 - timedelta(hours=hours_before_t0)
    return CallRecord(pbx_call_id=call_id, extension=extension, direction=Direction.INBOUND, remote_raw="051987654321",
                      started_at=at, answered_at=at, ended_at=at + timedelta(minutes=2), talk_seconds=120,
                      disposition=Disposition.ANSWERED)


async def test_the_store_counts_each_extensions_calls_since_a_moment(store: CrmStore) -> None:
    for record in (answered("a", "1001", 1), answered("b", "1001", 2), answered("c", "1002", 3),
                   answered("d", "1001", 30)):
        await store.record_call(record)
    assert await store.call_counts_since(T0 - timedelta(hours=4)) == {"1001": 2, "1002": 1}
    assert await store.call_counts_since(T0) == {}


async def test_a_supervisor_starts_with_todays_calls_from_the_crm(store: CrmStore, tmp_path: Path) -> None:
    midnight = day_start(local_day(T0))
    hours_since_midnight = (T0 - midnight).total_seconds() / 3600
    for record in (answered("a", "1001", hours_since_midnight / 2), answered("b", "1001", hours_since_midnight / 3),
                   answered("c", "1002", hours_since_midnight / 4), answered("old", "1001", hours_since_midnight + 1)):
        await store.record_call(record)
    rig = await make_rig(store, tmp_path)
    try:
        snapshot = rig.gateway._snapshot_for(None)
        assert snapshot.calls_today == {"1001": 2, "1002": 1}
        assert rig.gateway._snapshot_for("1002").calls_today == {"1002": 1}  # an agent sees its own
        model = ConsoleModel(extension=None)
        model.apply(snapshot)
        assert model.calls_today == {"1001": 2, "1002": 1}
        await rig.ring("1001", "051987654321")
        assert rig.gateway._snapshot_for(None).calls_today["1001"] == 3  # a console that joins now agrees
        messages = await rig.received(rig.supervisor)
        for message in messages:
            model.apply(message)
        assert model.calls_today["1001"] == 3  # and one that was watching counted it too
    finally:
        await rig.gateway.stop()


def test_a_new_day_starts_from_zero() -> None:
    counts = DailyCallCounts(local_day(T0))
    counts.call_began("1001", T0)
    assert counts.counts(T0) == {"1001": 1}
    tomorrow = day_start(local_day(T0) + timedelta(days=1))
    assert counts.counts(tomorrow) == {}
    counts.call_began("1001", tomorrow + timedelta(hours=9))
    assert counts.counts(tomorrow, "1001") == {"1001": 1} and counts.counts(tomorrow, "1002") == {}


def test_the_snapshot_carries_the_counts_over_the_wire() -> None:
    from tui_caa.domain.events import PbxSnapshot
    from tui_caa.protocol.messages import LinkState
    from tui_caa.protocol.wire import decode_message, encode_message

    snapshot = StateSnapshot(PbxSnapshot(at=T0), LinkState.CONNECTED, calls_today={"1001": 7})
    assert decode_message(encode_message(snapshot)).calls_today == {"1001": 7}  # type: ignore[union-attr]
