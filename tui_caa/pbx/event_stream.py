"""The events a driver has for its one reader (the gateway), kept in order until read."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from tui_caa.domain.events import DriverConnected, DriverDisconnected, DriverResynced, PbxEvent


class EventStream:
    """A reader that stops reading cannot make the backlog grow without end: past `limit` unread
    events it is dropped and replaced by a forced resync (the driver's snapshot is always current)."""

    def __init__(self, pbx: str, limit: int, now: Callable[[], datetime]) -> None:
        self._pbx, self._limit, self._now = pbx, limit, now
        self._backlog: deque[PbxEvent] = deque()
        self._wake = asyncio.Event()
        self.closed = False

    def put(self, event: PbxEvent) -> None:
        if self.closed:
            return
        if len(self._backlog) >= self._limit:
            dropped = len(self._backlog)
            self._backlog.clear()
            now = self._now()
            self._backlog += (
                DriverDisconnected(at=now, reason=f"{dropped} events were not read in time"),
                DriverConnected(at=now, pbx=self._pbx),
                DriverResynced(at=now),
            )
        self._backlog.append(event)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def __aiter__(self) -> AsyncIterator[PbxEvent]:
        while True:
            while self._backlog:
                yield self._backlog.popleft()
            if self.closed:
                return
            self._wake.clear()
            await self._wake.wait()
