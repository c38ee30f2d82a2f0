"""Server-sent events, read with a byte limit: a line longer than `max_event` is a protocol error,
never memory growth (a broken or hostile server cannot make a console swallow gigabytes)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from tui_caa.protocol.link_errors import WireError

MAX_EVENT_BYTES = 32 * 1024 * 1024  # a supervisor's snapshot of a large site with its screen pops


@dataclass(frozen=True, slots=True)
class ServerEvent:
    event: str  # "message" unless the server named it
    data: bytes


async def server_events(chunks: AsyncIterable[bytes], *, max_event: int = MAX_EVENT_BYTES) -> AsyncIterator[ServerEvent]:
    buffer = bytearray()
    name = "message"
    data: list[bytes] = []
    size = 0
    async for chunk in chunks:
        buffer += chunk
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > max_event:
                    raise WireError(f"the gateway sent a line longer than {max_event} bytes", field="stream")
                break
            line = bytes(buffer[:end]).rstrip(b"\r")
            del buffer[:end + 1]
            if not line:  # a blank line ends the event
                if data:
                    yield ServerEvent(name, b"\n".join(data))
                name, data, size = "message", [], 0
                continue
            if line.startswith(b":"):
                continue  # a comment: the gateway's heartbeat
            field, _, value = line.partition(b":")
            value = value.removeprefix(b" ")
            if field == b"data":
                size += len(value) + 1  # + its line break: endless empty data lines are no free ride
                if size > max_event:
                    raise WireError(f"the gateway sent an event larger than {max_event} bytes", field="stream")
                data.append(value)
            elif field == b"event":
                name = value.decode("utf-8", "replace")[:40]
