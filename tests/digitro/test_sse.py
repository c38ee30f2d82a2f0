"""The Server-Sent Events parser, line by line, as the W3C standard says."""

from __future__ import annotations

import pytest

from tui_caa.pbx.digitro.sse import MAX_EVENT_CHARS, OversizedEvent, SseEvent, SseParser


def parse(text: str) -> list[SseEvent]:
    parser = SseParser()
    return [event for line in text.split("\n") if (event := parser.feed(line)) is not None]


def test_named_event_with_multiline_data_and_id() -> None:
    assert parse("event: EVENTO_X\nid: 7\ndata: {\"a\":\ndata:  1}\n\n") == [SseEvent("EVENTO_X", '{"a":\n 1}', "7")]


def test_comments_retry_and_unknown_fields_are_ignored() -> None:
    assert parse(": keep-alive\nretry: 1000\nfoo: bar\ndata: x\n\n") == [SseEvent("message", "x")]


def test_an_empty_data_packet_is_a_heartbeat() -> None:
    [event] = parse("data:\n\n")
    assert event.heartbeat and not SseEvent("EVENTO_X", "").heartbeat


def test_blank_lines_and_events_without_data_dispatch_nothing() -> None:
    assert parse("\n\nevent: EVENTO_X\n\n") == []


def test_field_without_colon_and_value_without_space() -> None:
    assert parse("event:EVENTO_Y\ndata:abc\ndata\n\n") == [SseEvent("EVENTO_Y", "abc\n")]


def test_an_oversized_event_is_refused_once_and_the_stream_goes_on() -> None:
    parser = SseParser()
    with pytest.raises(OversizedEvent):
        parser.feed("data: " + "x" * (MAX_EVENT_CHARS + 1))
    assert parser.feed("data: more of the same") is None
    assert parser.feed("") is None
    assert parser.feed("data: next") is None
    assert parser.feed("") == SseEvent("message", "next")
