"""Fan-out of gateway messages to the consoles: an agent gets its own extension, a supervisor all.

The driver reader must never wait for a console. Each subscriber has a bounded mailbox; one that
falls behind loses its backlog and gets a fresh snapshot instead, built when it next reads."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

from tui_caa.protocol.messages import GatewayMessage, StateSnapshot

SnapshotFactory = Callable[[str | None], StateSnapshot]


class Subscription:
    def __init__(self, hub: Hub, extension: str | None, maxsize: int) -> None:
        self.extension = extension  # None: every extension (supervisor)
        self._hub = hub
        self._maxsize = maxsize
        self._items: deque[GatewayMessage] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._needs_snapshot = True  # the first thing a console reads is the whole picture
        self.overflows = 0
        self.closed = False

    def deliver(self, message: GatewayMessage) -> None:
        if self._needs_snapshot:
            return  # the snapshot it will read already includes this
        if len(self._items) >= self._maxsize:
            self._items.clear()
            self._needs_snapshot = True
            self.overflows += 1
        else:
            self._items.append(message)
        self._wake()

    def mark(self, message: GatewayMessage) -> None:
        """Queues `message` after everything published so far, even while a snapshot is due (which
        is read first): how a console learns it has caught up."""
        self._items.append(message)
        self._wake()

    def resync(self) -> None:
        """Drops the backlog: the next read is a snapshot (after a PBX resync)."""
        self._items.clear()
        self._needs_snapshot = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> GatewayMessage | None:
        """The next message; None once the subscription is closed."""
        while True:
            if self.closed:
                return None
            if self._needs_snapshot:
                self._needs_snapshot = False
                return self._hub.snapshot_for(self.extension)
            if self._items:
                return self._items.popleft()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def get_batch(self, limit: int = 500) -> list[GatewayMessage]:
        """Everything waiting (at least one message; empty once closed): fewer wake-ups under load."""
        first = await self.get()
        if first is None:
            return []
        batch = [first]
        while self._items and len(batch) < limit and not self._needs_snapshot:
            batch.append(self._items.popleft())
        return batch

    def drain_nowait(self) -> list[GatewayMessage]:
        """Whatever is waiting, without waiting (a snapshot first if one is due)."""
        batch: list[GatewayMessage] = []
        if self._needs_snapshot and not self.closed:
            self._needs_snapshot = False
            batch.append(self._hub.snapshot_for(self.extension))
        batch.extend(self._items)
        self._items.clear()
        return batch

    def __aiter__(self) -> AsyncIterator[GatewayMessage]:
        return self

    async def __anext__(self) -> GatewayMessage:
        message = await self.get()
        if message is None:
            raise StopAsyncIteration
        return message

    def close(self) -> None:
        self.closed = True
        self._hub.unsubscribe(self)
        self._wake()


class Hub:
    def __init__(self, snapshot: SnapshotFactory, *, maxsize: int = 1000) -> None:
        self._snapshot = snapshot
        self._maxsize = maxsize
        self._by_extension: dict[str, set[Subscription]] = {}
        self._everything: set[Subscription] = set()

    def subscribe(self, extension: str | None, *, maxsize: int | None = None) -> Subscription:
        subscription = Subscription(self, extension, maxsize or self._maxsize)
        if extension is None:
            self._everything.add(subscription)
        else:
            self._by_extension.setdefault(extension, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription.extension is None:
            self._everything.discard(subscription)
        else:
            self._by_extension.get(subscription.extension, set()).discard(subscription)

    def publish(self, extension: str | None, message: GatewayMessage) -> None:
        """To the subscribers of `extension` and to every supervisor; None: to everybody."""
        if extension is None:
            for subscribers in self._by_extension.values():
                for subscription in subscribers:
                    subscription.deliver(message)
        else:
            for subscription in self._by_extension.get(extension, ()):
                subscription.deliver(message)
        for subscription in self._everything:
            subscription.deliver(message)

    def resync_all(self) -> None:
        for subscription in self.subscriptions():
            subscription.resync()

    def subscriptions(self) -> list[Subscription]:
        return [s for subs in self._by_extension.values() for s in subs] + list(self._everything)

    def snapshot_for(self, extension: str | None) -> StateSnapshot:
        return self._snapshot(extension)
