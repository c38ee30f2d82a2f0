"""Time as the PBX simulator and the gateway see it: the real clock, or one a test moves by hand
(so that tests of ringing timeouts and call durations never sleep)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """Virtual time: `sleep()` waits until a test calls `advance()` past its deadline."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        self._now = start
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # equal deadlines wake in the order they slept

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + timedelta(seconds=seconds), next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Moves time forward, waking every sleeper whose deadline passes, in deadline order, and
        letting each woken task run (and sleep again) before time moves on."""
        target = self._now + timedelta(seconds=seconds)
        await _settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await _settle()
        self._now = target
        await _settle()

    @property
    def sleepers(self) -> int:
        return sum(1 for *_, future in self._sleepers if not future.done())


async def _settle(rounds: int = 5) -> None:
    """Lets ready tasks run a few steps (each step may make others ready)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
