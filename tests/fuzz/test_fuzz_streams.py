"""Fuzz: the readers of endless streams (AMI packets, Dígitro's SSE channel, the remote console's
SSE) fed arbitrary bytes in arbitrary pieces. Each gives a clear error (a PbxError or WireError) or
the same result however the stream is cut, holds no more than its cap, and never hangs."""

from __future__ import annotations

import asyncio
import re

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.strategies import FUZZ, chunks_of, split, stream_bytes
from tui_caa.pbx.asterisk.errors import ProtocolError
from tui_caa.pbx.asterisk.packets import PacketReader, encode_action
from tui_caa.pbx.base import PbxError
from tui_caa.pbx.digitro.sse import OversizedEvent, SseParser
from tui_caa.pbx.limits import LineTooLong, capped_lines
from tui_caa.protocol.link_errors import WireError
from tui_caa.remote.sse import server_events

CAP = 64  # small caps, so arbitrary input breaks them often


# ---- AMI ------------------------------------------------------------------------------------------

@FUZZ
@given(st.data(), stream_bytes(b"\r\n: Event: Response: ActionID\x00\xff"))
def test_ami_reader_never_raises_and_holds_at_most_its_cap(data: st.DataObject, raw: bytes) -> None:
    reader = PacketReader(max_packet_size=CAP, expect_banner=False, on_error=lambda exc: errors.append(exc))
    errors: list[ProtocolError] = []
    for piece in data.draw(split(raw)):
        reader.feed(piece)
        assert reader.pending <= CAP
    assert all(isinstance(e, PbxError) for e in errors)


_HEADER = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij-_"), min_size=1, max_size=12)
_VALUE = st.text(st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\r\n"), max_size=30)


@FUZZ
@given(st.data(), st.lists(st.dictionaries(_HEADER, _VALUE, min_size=1, max_size=5), min_size=1, max_size=6))
def test_ami_packets_come_back_whole_however_the_stream_is_cut(data: st.DataObject,
                                                               packets: list[dict[str, str]]) -> None:
    wire = b"".join(encode_action(f"A{i}", str(i), dict(headers)) for i, headers in enumerate(packets))
    reader = PacketReader(expect_banner=False)
    got = [packet for piece in data.draw(split(wire)) for packet in reader.feed(piece)]
    assert [p["ActionID"] for p in got] == [str(i) for i in range(len(packets))]
    for packet, headers in zip(got, packets, strict=True):
        for name, value in headers.items():
            if name.lower() not in ("action", "actionid"):
                assert packet.get(name) == value.strip() or packet.get(name) == value


# ---- Dígitro's SSE channel ------------------------------------------------------------------------

def _reference_lines(raw: bytes, cap: int) -> tuple[list[str], bool]:
    """What any cut of `raw` must give: its lines (LF, CRLF or CR), up to the first one past `cap`."""
    parts = re.split(rb"\r\n|\r|\n", raw)
    if parts[-1] == b"":
        parts.pop()
    lines = []
    for part in parts:
        if len(part) > cap:
            return lines, True
        lines.append(part.decode("utf-8", "replace"))
    return lines, False


async def _lines(pieces: list[bytes], cap: int) -> tuple[list[str], bool]:
    out: list[str] = []
    try:
        async for line in capped_lines(chunks_of(pieces), cap, pbx="Dígitro", path="/canal-de-eventos"):
            out.append(line)
    except LineTooLong as exc:
        assert f"larger than {cap} bytes" in str(exc)
        return out, True
    return out, False


@FUZZ
@given(st.data(), stream_bytes(b"\r\n:data event id x\xc3\xa9"))
@example(None, b"\r\r")
@example(None, b"x" * (CAP + 1))
def test_sse_lines_are_cut_the_same_however_the_stream_arrives(data: st.DataObject | None, raw: bytes) -> None:
    pieces = data.draw(split(raw)) if data is not None else [raw]
    assert asyncio.run(_lines(pieces, CAP)) == _reference_lines(raw, CAP)


@FUZZ
@given(st.data(), stream_bytes(b"\r\n:data: event: id: x\x00"))
def test_sse_events_are_a_result_or_a_clear_error(data: st.DataObject, raw: bytes) -> None:
    lines, _ = asyncio.run(_lines(data.draw(split(raw)), CAP))
    parser = SseParser()
    for line in lines:
        try:
            event = parser.feed(line)
        except OversizedEvent:
            continue
        if event is not None:
            assert isinstance(event.data, str) and event.event


async def test_an_endless_sse_line_is_refused_at_its_cap() -> None:
    async def endless():  # type: ignore[no-untyped-def]
        while True:
            yield b"data: " + b"x" * 4096

    lines = capped_lines(endless(), 100_000, pbx="Dígitro", path="/canal-de-eventos")
    try:
        async with asyncio.timeout(5):
            async for _ in lines:
                raise AssertionError("no line ends")
    except LineTooLong as exc:
        assert "/canal-de-eventos" in str(exc)


# ---- the remote console's SSE reader --------------------------------------------------------------

async def _server_events(pieces: list[bytes]) -> tuple[list[tuple[str, bytes]], bool]:
    out: list[tuple[str, bytes]] = []
    try:
        async for event in server_events(chunks_of(pieces), max_event=CAP):
            out.append((event.event, event.data))
    except WireError:
        return out, True
    return out, False


@FUZZ
@given(st.data(), stream_bytes(b"\r\n:data: event: x"))
@example(None, b"data:\n" * 200 + b"\n")  # empty data lines: each costs a list entry
def test_remote_sse_gives_events_or_a_wire_error_however_cut(data: st.DataObject | None, raw: bytes) -> None:
    whole = asyncio.run(_server_events([raw]))
    cut = asyncio.run(_server_events(data.draw(split(raw)) if data is not None else [raw[:7], raw[7:]]))
    if not whole[1] and not cut[1]:
        assert cut == whole
    for _, payload in whole[0] + cut[0]:
        assert len(payload) <= CAP  # the data lines, joined: never more than the cap
