"""Events nobody reads are dropped before parsing, and that changes nothing a person would see."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tui_caa.pbx.asterisk.mapping import HANDLED_EVENTS, AmiMapper, MapperConfig, event_filter
from tui_caa.pbx.asterisk.packets import PacketReader

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


def test_the_filter_knows_every_event_the_mapper_handles() -> None:
    assert frozenset(AmiMapper()._dispatch) == HANDLED_EVENTS


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("ami-*.txt")))
def test_filtered_and_unfiltered_streams_give_the_same_domain_events(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    plain = PacketReader()
    filtered = PacketReader(skip_event=event_filter())
    everything, kept = plain.feed(data), filtered.feed(data)
    assert AmiMapper().feed_all(kept, NOW) == AmiMapper().feed_all(everything, NOW)
    assert filtered.skipped + len(kept) == len(everything)
    # list items and the client's own events are never dropped
    for packet in everything:
        if "ActionID" in packet or packet.get("Event") == "FullyBooted":
            assert packet in kept


def test_the_chatty_events_are_the_ones_dropped() -> None:
    data = (FIXTURES / "ami-inbound-answered.txt").read_bytes()
    reader = PacketReader(skip_event=event_filter())
    kept = reader.feed(data)
    names = {p.get("Event") for p in kept}
    assert "Newexten" not in names and "QueueMemberStatus" not in names
    assert reader.skipped > len(kept) / 2  # most of a real stream is noise
    varsets = [p for p in kept if p.get("Event") == "VarSet"]
    assert all(p["Variable"].lstrip("_") in ("FROM_DID", "MIXMONITOR_FILENAME") for p in varsets)


def test_a_configured_did_variable_is_kept() -> None:
    text = "Event: VarSet\r\nChannel: PJSIP/trunk-1\r\nVariable: __DDR_NUM\r\nValue: 5121010005"
    assert event_filter(MapperConfig(did_variable="DDR_NUM"))(text) is False
    assert event_filter()(text) is True
