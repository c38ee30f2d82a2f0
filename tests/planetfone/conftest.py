"""Fixtures for the Planetfone tests: the fake service, the MariaDB, a connected driver, event helpers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.planetfone.fake_planetfone import FakePlanetfone
from tests.planetfone.harness import MYSQL_ENV, make_driver, mysql_dsn, new_fake
from tui_caa.domain.events import PbxEvent
from tui_caa.pbx.planetfone import PlanetfoneDriver


def require_mysql() -> str:
    """The MariaDB of .ci/mariadb.sh. Outside CI a missing server skips loudly; in CI it fails."""
    dsn = mysql_dsn()
    if dsn:
        return dsn
    reason = (f"{MYSQL_ENV} is not set: no MariaDB for the Planetfone CDR tests. "
              "Run `source .ci/mariadb.sh` (as root) to start one.")
    if os.environ.get("CI"):
        pytest.fail(reason + " In CI this is an error: .ci/run must source .ci/mariadb.sh.")
    pytest.skip("SKIPPED LOUDLY: " + reason)
    raise AssertionError  # unreachable


@pytest.fixture
def mysql() -> str:
    return require_mysql()


@pytest.fixture
async def fake() -> AsyncIterator[FakePlanetfone]:
    """With TUI_CAA_TEST_MYSQL, the fake writes CDR rows there; tests that need them ask for `mysql`."""
    server = await new_fake().start()
    yield server
    await server.close()


@pytest.fixture
async def driver(fake: FakePlanetfone) -> AsyncIterator[PlanetfoneDriver]:
    drv = make_driver(fake)
    await drv.connect()
    yield drv
    await drv.close()


class Events:
    """The driver's events, read in the background, waited on by condition (never by sleeping)."""

    def __init__(self, driver: PlanetfoneDriver) -> None:
        self.seen: list[PbxEvent] = []
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read(driver))

    async def _read(self, driver: PlanetfoneDriver) -> None:
        async for event in driver.events():
            self.seen.append(event)
            self._changed.set()

    async def wait(self, predicate: Callable[[PbxEvent], bool], timeout: float = 5.0, count: int = 1) -> list[PbxEvent]:
        async def until() -> list[PbxEvent]:
            while True:
                found = [e for e in self.seen if predicate(e)]
                if len(found) >= count:
                    return found
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(until(), timeout)

    async def of(self, cls: type, timeout: float = 5.0, count: int = 1, **match: Any) -> list[PbxEvent]:
        return await self.wait(lambda e: isinstance(e, cls) and all(getattr(e, k) == v for k, v in match.items()),
                               timeout, count)

    def all(self, cls: type, **match: Any) -> list[PbxEvent]:
        return [e for e in self.seen if isinstance(e, cls) and all(getattr(e, k) == v for k, v in match.items())]

    def close(self) -> None:
        self._task.cancel()


@pytest.fixture
async def events(driver: PlanetfoneDriver) -> AsyncIterator[Events]:
    ev = Events(driver)
    yield ev
    ev.close()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async def loop() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(loop(), timeout)
