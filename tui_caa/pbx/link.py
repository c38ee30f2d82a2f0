"""What every driver with a live link to its PBX shares: the event stream, the link's state and the
reconnect loop with exponential backoff.

The sequence the gateway relies on is kept here, once: `DriverConnected` then `DriverResynced` when
the link is up (the model rebuilt), `DriverDisconnected(reason)` when it is lost, `NotConnected`
for commands in between. What is the family's own stays in its driver: what a reconnect attempt
does (log in, reopen a channel, poll), what a resync rebuilds, and what is down (`_down_message`).
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime

from tui_caa.domain.events import DriverConnected, DriverDisconnected, DriverResynced, PbxEvent
from tui_caa.pbx.base import NotConnected, PbxDriver
from tui_caa.pbx.event_stream import EventStream

#: unread events a driver keeps for its reader before it drops them for a forced resync
EVENT_BACKLOG = 100_000


def _now() -> datetime:
    return datetime.now(UTC)


def backoff(first: float, most: float) -> Iterator[float]:
    """The waits before each reconnect attempt: `first`, then doubled each time up to `most`."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, most)


class LinkedDriver(PbxDriver):
    """A driver whose `connect()` brings a link up and keeps it up (reconnecting) until `close()`."""

    def __init__(self, name: str | None, event_backlog: int = EVENT_BACKLOG, *,
                 reconnect_delay: float, reconnect_max_delay: float) -> None:
        self.name = name or self.label
        self.reconnect_delay = reconnect_delay  # the first wait before a reconnect attempt; it doubles…
        self.reconnect_max_delay = reconnect_max_delay  # …up to this
        self._stream = EventStream(self.name, event_backlog, _now)
        self._link_up = False
        self._closed = False
        self._outage = ""  # why the link is down: NotConnected says it
        self._sleep = asyncio.sleep  # the waits between reconnect attempts (tests watch them)
        self.reconnects = 0  # successful reconnections

    @property
    def connected(self) -> bool:
        return self._link_up

    async def events(self) -> AsyncIterator[PbxEvent]:  # type: ignore[override]
        async for event in self._stream:
            yield event

    async def close(self) -> None:
        if self._closed:
            return
        self._closed, self._link_up = True, False
        await self._shut_down()
        self._stream.close()  # last: the reader gets every event put while shutting down

    async def _shut_down(self) -> None:
        """The driver's own part of `close()`: stop its tasks, close its clients."""

    # ---- the link's state ----

    def _require_open(self) -> None:
        if self._closed:
            raise NotConnected(f"{self.name}: the driver is closed")

    def _require_link(self) -> None:
        """Commands and snapshots need the link up; NotConnected says what is down and why."""
        self._require_open()
        if not self.connected:
            raise NotConnected(f"{self.name}: {self._down_message()}")

    @abstractmethod
    def _down_message(self) -> str:
        """What is down, for NotConnected (e.g. "not connected to the Asterisk manager (reason)")."""

    def _outage_note(self) -> str:
        return f" ({self._outage})" if self._outage else ""

    def _announce_up(self) -> None:
        """After a resync: the reader rebuilds its view from `snapshot()` on DriverResynced."""
        now = _now()
        self._stream.put(DriverConnected(at=now, pbx=self.name))
        self._stream.put(DriverResynced(at=now))

    def _announce_down(self, reason: str) -> None:
        self._stream.put(DriverDisconnected(at=_now(), reason=reason))

    async def _retry(self, attempt: Callable[[], Awaitable[bool]]) -> bool:
        """Runs `attempt` after each backoff wait until it says it worked (True) or the driver is
        closed (False). `attempt` notes and logs its own failures."""
        delays = backoff(self.reconnect_delay, self.reconnect_max_delay)
        while not self._closed:
            await self._sleep(next(delays))
            if await attempt():
                return True
        return False


class PumpedDriver(LinkedDriver):
    """A linked driver with one pump task that reads (or polls) the PBX and, when the link is lost,
    reconnects from inside the pump: Asterisk, Dígitro, Planetfone. (ForIP watches two links with
    tasks of its own and uses `LinkedDriver` directly.)"""

    def __init__(self, name: str | None, event_backlog: int = EVENT_BACKLOG, *,
                 reconnect_delay: float, reconnect_max_delay: float) -> None:
        super().__init__(name, event_backlog, reconnect_delay=reconnect_delay,
                         reconnect_max_delay=reconnect_max_delay)
        self._pump_task: asyncio.Task[None] | None = None

    def _link_established(self) -> None:
        """`connect()` succeeded: the link is up, announced, and the pump (`_pump()`) starts."""
        self._link_up = True
        self._announce_up()
        self._pump_task = asyncio.get_running_loop().create_task(self._pump(), name=f"{self.kind}-pump {self.name}")

    def _link_lost(self, reason: str) -> None:
        """The pump lost the link: DriverDisconnected(reason); then it calls `_reconnect()`."""
        self._link_up, self._outage = False, reason
        self._announce_down(reason)

    @abstractmethod
    async def _pump(self) -> None:
        """The driver's loop (reads or polls the PBX); started by `_link_established()`."""

    @abstractmethod
    async def _try_reconnect(self) -> bool:
        """One reconnect attempt (log in, reopen, resync…): True when the link works again; on
        failure it notes the reason in `_outage` and logs it."""

    async def _reconnect(self) -> bool:
        """After `_link_lost()`: `_try_reconnect()` after each backoff wait until it works (the link
        is up again: one more `reconnects`, DriverConnected, DriverResynced) or the driver is closed."""
        if not await self._retry(self._try_reconnect):
            return False
        self._link_up, self._outage = True, ""
        self.reconnects += 1
        self._announce_up()
        return True

    async def _stop_pump(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump_task
