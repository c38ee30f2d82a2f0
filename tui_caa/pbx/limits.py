"""Byte limits on every reply a PBX sends: a body is streamed and refused as soon as it passes its
cap (a Content-Length above it is refused before anything is read), so a broken or hostile PBX costs
at most one cap of memory, never gigabytes. The error is a NotConnected: the driver resets the link
with its usual backoff and the gateway sees an ordinary link loss and resync."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tui_caa.pbx.base import NotConnected, PbxError

#: a JSON reply of the Dígitro or ForIP API: a state query or a login is a few kB; 4 MiB leaves room
#: for a large site's device list while a runaway body costs at most a few MiB
JSON_REPLY_BYTES = 4 * 1024 * 1024
#: a Planetfone SOAP reply: the largest is a list of the day's calls of a busy site, well under 1 MiB;
#: 4 MiB was already the parser's limit (now enforced while reading, not after)
SOAP_REPLY_BYTES = 4 * 1024 * 1024
#: one SSE line of Dígitro's event channel: an event is a small JSON object; a line longer than
#: one event may be (1 MB of characters, UTF-8: up to 4 bytes each) is a broken stream
SSE_LINE_BYTES = 4 * 1_000_000
#: the body of an error reply: only its first words reach a message
ERROR_REPLY_BYTES = 64 * 1024

# we ask for no compression; a server that compresses anyway is decoded in bounded pieces
# (httpx would inflate each network chunk whole: 64 KiB of a gzip bomb is 64 MiB)
IDENTITY = {"accept-encoding": "identity"}
_INFLATE_PIECE = 64 * 1024
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class ReplyTooLarge(NotConnected):
    """The PBX sent more than the cap: a protocol error, handled as a lost link."""


def too_large_message(pbx: str, path: str, cap: int, what: str = "a reply") -> str:
    return f"{pbx} sent {what} to {path} larger than {cap} bytes: refused, a protocol error (a broken or hostile PBX)"


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer read in full within its cap (what the drivers look at of an httpx.Response)."""

    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


async def read_capped(response: httpx.Response, cap: int, *, pbx: str,
                      error: Callable[[str], PbxError] = ReplyTooLarge) -> bytes:
    """The body of a streamed `response`, refused (`error`) as soon as it would pass `cap` bytes."""
    path = response.request.url.path  # never the query: it may carry a key
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        raise error(too_large_message(pbx, path, cap, f"a reply announced as {length} bytes"))
    parts: list[bytes] = []  # joined once at the end: a growing bytearray would copy itself as it grows
    size = 0
    async for chunk in decoded_chunks(response, pbx=pbx, error=error):
        size += len(chunk)
        if size > cap:
            parts.clear()  # the traceback keeps this frame alive a while: not the body with it
            raise error(too_large_message(pbx, path, cap))
        parts.append(chunk)
    return b"".join(parts)


async def decoded_chunks(response: httpx.Response, *, pbx: str,
                         error: Callable[[str], PbxError] = ReplyTooLarge) -> AsyncIterator[bytes]:
    """The body of a streamed `response`, decoded (gzip, deflate) in pieces of at most 64 KiB."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        async for chunk in response.aiter_raw():
            yield chunk
        return
    path = response.request.url.path
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise error(f"{pbx} sent a reply to {path} in an encoding the driver does not read ({encoding[:20]!r})")
    inflater = zlib.decompressobj(wbits)
    async for chunk in response.aiter_raw():
        while chunk:
            try:
                piece = inflater.decompress(chunk, _INFLATE_PIECE)
            except zlib.error:
                raise error(f"{pbx} sent a reply to {path} that is not valid {encoding}") from None
            if piece:
                yield piece
            chunk = inflater.unconsumed_tail


async def request_capped(client: httpx.AsyncClient, method: str, url: str, *, cap: int, pbx: str,
                         error: Callable[[str], PbxError] = ReplyTooLarge, deadline: float | None = None,
                         **kwargs: Any) -> Reply:
    """One request, its reply read within `cap`. `deadline` bounds the whole exchange (a body that
    trickles in forever is a timeout, httpx.ReadTimeout, like a silent one)."""
    request = client.build_request(method, url, **kwargs)
    request.headers.update(IDENTITY)
    try:
        async with asyncio.timeout(deadline):
            response = await client.send(request, stream=True)
            try:
                content = await read_capped(response, cap, pbx=pbx, error=error)
            finally:
                await response.aclose()
    except TimeoutError:
        raise httpx.ReadTimeout(f"no complete reply within {deadline:g} s", request=request) from None
    return Reply(response.status_code, response.reason_phrase, response.headers, content)


class LineTooLong(NotConnected):
    """A stream sent a line longer than its cap."""


async def capped_lines(chunks: AsyncIterator[bytes], cap: int, *, pbx: str, path: str) -> AsyncIterator[str]:
    """The lines of a byte stream (LF, CRLF or CR ends one, as SSE says), each without its break;
    the unfinished line is never held beyond `cap` bytes: LineTooLong instead."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        start = 0
        while True:
            lf, cr = buffer.find(b"\n", start), buffer.find(b"\r", start)
            if cr >= 0 and (lf < 0 or cr < lf):
                if cr + 1 == len(buffer):
                    break  # a CR at the end: its LF may come in the next chunk
                end, skip = cr, 2 if buffer[cr + 1] == 0x0A else 1
            elif lf >= 0:
                end, skip = lf, 1
            else:
                break
            if end - start > cap:
                raise LineTooLong(too_large_message(pbx, path, cap, "a line"))
            yield buffer[start:end].decode("utf-8", "replace")
            start = end + skip
        del buffer[:start]
        if len(buffer) - buffer.endswith(b"\r") > cap:  # only a CR at the end is held: it is no content
            raise LineTooLong(too_large_message(pbx, path, cap, "a line"))
    if buffer:  # the last line, unfinished or ended by the CR held back
        yield buffer.removesuffix(b"\r").decode("utf-8", "replace")


class LimitLog:
    """Logs a broken limit once, then at most once per `every` seconds with the count since (a PBX
    that floods on every reconnect must not flood the log too)."""

    def __init__(self, log: logging.Logger, every: float = 300.0) -> None:
        self._log, self._every = log, every
        self.count = 0  # every time a limit was broken
        self._last = -every
        self._since = 0

    def __call__(self, name: str, message: str) -> None:
        self.count += 1
        self._since += 1
        now = time.monotonic()
        if now - self._last >= self._every:
            extra = f" ({self._since} times since the last message)" if self._since > 1 else ""
            self._log.warning("%s: %s%s", name, message, extra)
            self._last, self._since = now, 0
