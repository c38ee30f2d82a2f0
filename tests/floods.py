"""Replies from a broken or hostile server, written on a real socket by the fake PBXs:
- "huge_length": a Content-Length of 10 GiB (the client must refuse before reading);
- "endless_chunked": a chunked body that never ends;
- "huge_close": no length at all, the body ends when the connection does (it never does);
- "endless_line" (SSE): an event stream whose line never ends.
"Never ends" stops at FLOOD_BYTES, far past every cap, so a client without a cap fails the memory
assertion instead of taking the machine down. Memory in tests: `tracemalloc` around the flood."""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc
from collections.abc import Iterator

FLOOD_BYTES = 64 * 1024 * 1024
MODES = ("huge_length", "endless_chunked", "huge_close")
_CHUNK = b" " * 65536  # blanks: a valid start of JSON, XML text and an SSE line alike


async def flood(writer: asyncio.StreamWriter, mode: str, content_type: str) -> None:
    """Writes the fault `mode` as the reply; returns when the client hangs up (or after FLOOD_BYTES)."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
    if mode == "huge_length":
        head += f"Content-Length: {10 * 1024 ** 3}\r\n"
    elif mode in ("endless_chunked", "endless_line"):
        head += "Transfer-Encoding: chunked\r\n"
    elif mode == "huge_close":
        head += "Connection: close\r\n"
    else:
        raise ValueError(mode)
    chunked = "Transfer-Encoding" in head
    with contextlib.suppress(ConnectionError, RuntimeError):
        writer.write(head.encode() + b"\r\n")
        if mode == "endless_line":
            await write_endless_line(writer)
            return
        sent = 0
        while sent < FLOOD_BYTES:
            writer.write(b"%x\r\n%s\r\n" % (len(_CHUNK), _CHUNK) if chunked else _CHUNK)
            await writer.drain()
            sent += len(_CHUNK)
    writer.transport.abort()


async def write_endless_line(writer: asyncio.StreamWriter) -> None:
    """On a chunked event stream already open: `data: ` and then blanks, never a line break."""
    with contextlib.suppress(ConnectionError, RuntimeError):
        writer.write(b"6\r\ndata: \r\n")
        sent = 0
        while sent < FLOOD_BYTES:
            writer.write(b"%x\r\n%s\r\n" % (len(_CHUNK), _CHUNK))
            await writer.drain()
            sent += len(_CHUNK)
    writer.transport.abort()


@contextlib.contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of Python allocations inside the block, in bytes (in the list, once the block ends)."""
    result: list[int] = []
    tracemalloc.start()
    try:
        yield result
    finally:
        result.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        print(f"peak {result[0]:,} bytes")  # shown with -s: the figures in the README
