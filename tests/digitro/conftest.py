from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.digitro.fake_digitro import FakeDigitro
from tests.digitro.harness import make_driver
from tui_caa.domain.events import PbxEvent
from tui_caa.pbx.digitro import DigitroDriver

WAIT = 5.0


class Events:
    """Reads a driver's events in the background; tests wait for the next one that matches."""

    def __init__(self, driver: DigitroDriver) -> None:
        self.seen: list[PbxEvent] = []
        self.all: list[PbxEvent] = []  # never taken out: for "this never happened" checks
        self._changed = asyncio.Condition()
        self._task = asyncio.get_running_loop().create_task(self._read(driver))

    async def _read(self, driver: DigitroDriver) -> None:
        async for event in driver.events():
            async with self._changed:
                self.seen.append(event)
                self.all.append(event)
                self._changed.notify_all()

    async def next(self, kind: type, extension: str | None = None, call_id: str | None = None,
                   timeout: float = WAIT) -> Any:
        """The first unread event of `kind` (at `extension`, of `call_id`); it and all before it are read."""
        def match(event: PbxEvent) -> bool:
            return isinstance(event, kind) and (extension is None or event.extension == extension) and (
                call_id is None or event.call_id == call_id)

        async def found() -> Any:
            async with self._changed:
                while True:
                    for index, event in enumerate(self.seen):
                        if match(event):
                            del self.seen[:index + 1]
                            return event
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(found(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {kind.__name__} at {extension} within {timeout} s; unread: "
                                 + ", ".join(f"{e.type}@{e.extension}" for e in self.seen)) from None

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDigitro]:
    server = await FakeDigitro().start()
    yield server
    await server.stop()


@pytest.fixture
async def driver(fake: FakeDigitro) -> AsyncIterator[DigitroDriver]:
    drv = make_driver(fake)
    await drv.connect()
    yield drv
    await drv.close()


@pytest.fixture
async def events(driver: DigitroDriver) -> AsyncIterator[Events]:
    watcher = Events(driver)
    yield watcher
    await watcher.close()
