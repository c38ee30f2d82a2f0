"""Fixtures of the ForIP tests: the fake ForIP on the simulator, the real PostgreSQL, the driver."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.contract.harness import EXTENSIONS
from tests.forip.fake_forip import EMAIL, PASSWORD, FakeForip
from tui_caa.domain.events import PbxEvent
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.pbx.forip import ForipDriver
from tui_caa.pbx.registry import driver_class
from tui_caa.pbx.sim import SimScenario, SimulatorDriver

# read at import: .ci/postgres.sh exports it (an ODBC connection string with the password)
PG_ODBC = os.environ.get("TUI_CAA_TEST_PG_ODBC")
SCHEMA = Path(__file__).with_name("schema.sql")
RECORDING = "GRAVACOES/20261102/CRM-1001-51999887766-100000.WAV"


def split_password(odbc: str) -> tuple[str, str | None]:
    """(the connection string without Pwd, the password): the driver takes them apart."""
    match = re.search(r"(?:^|;)\s*(?:pwd|password)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)", odbc, re.IGNORECASE)
    if match is None:
        return odbc, None
    value = match.group(1)
    password = value[1:-1].replace("}}", "}") if value.startswith("{") else value
    rest = (odbc[:match.start()] + odbc[match.end():]).strip(";")
    return rest, password


def create_schema(odbc: str) -> None:
    import pyodbc

    conn = pyodbc.connect(odbc, autocommit=True)
    try:
        sql = "\n".join(line for line in SCHEMA.read_text().splitlines() if not line.startswith("--"))
        for statement in filter(str.strip, sql.split(";")):
            conn.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def pg() -> str:
    """The test database with ForIP's tables, empty; its ODBC connection string."""
    if not PG_ODBC:
        reason = ("TUI_CAA_TEST_PG_ODBC is not set: the ForIP database tests need PostgreSQL with unixODBC "
                  "and psqlODBC; run `source .ci/postgres.sh` first")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip("!!! " + reason)
    create_schema(PG_ODBC)
    return PG_ODBC


def scenario() -> SimScenario:
    return SimScenario(extensions=EXTENSIONS, site_ddd="51")


@pytest.fixture
async def sim() -> SimulatorDriver:
    return SimulatorDriver(scenario(), id_prefix="forip-")


@pytest.fixture
async def fake(sim: SimulatorDriver) -> AsyncIterator[FakeForip]:
    server = FakeForip(sim)
    yield server
    await server.close()


def entry(fake: FakeForip, *, password: str = PASSWORD, email: str = EMAIL) -> PbxRegistryEntry:
    return PbxRegistryEntry(name="ForIP lab", kind="forip", address="127.0.0.1", port=fake.port, login=email,
                            secret=SecretStr(password))


def db_options(odbc: str) -> dict[str, Any]:
    dsn, password = split_password(odbc)
    return {"odbc_dsn": dsn, "db_password": SecretStr(password) if password else None, "db_timeout": 5.0}


DriverFactory = Callable[..., ForipDriver]


@pytest.fixture
async def make_driver(fake: FakeForip) -> AsyncIterator[DriverFactory]:
    made: list[ForipDriver] = []

    def make(**options: Any) -> ForipDriver:
        password = options.pop("password", PASSWORD)
        options.setdefault("request_timeout", 1.0)
        options.setdefault("probe_interval", 0.1)
        options.setdefault("reconnect_delay", 0.02)
        options.setdefault("reconnect_max_delay", 0.1)
        driver = driver_class("forip").from_entry(entry(fake, password=password), **options)
        assert isinstance(driver, ForipDriver)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        await driver.close()


class Events:
    """Reads a driver's events in the background; tests wait for the next one of a kind."""

    def __init__(self, driver: Any) -> None:
        self.seen: list[PbxEvent] = []
        self._cond = asyncio.Condition()
        self._task = asyncio.get_running_loop().create_task(self._read(driver))

    async def _read(self, driver: Any) -> None:
        async for event in driver.events():
            async with self._cond:
                self.seen.append(event)
                self._cond.notify_all()

    async def next(self, kind: type, timeout: float = 5.0, **match: Any) -> Any:
        """The first not yet taken event of `kind` whose attributes equal `match`."""
        async def find() -> Any:
            async with self._cond:
                while True:
                    for i, event in enumerate(self.seen):
                        if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                            return self.seen.pop(i)
                    await self._cond.wait()
        try:
            return await asyncio.wait_for(find(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {kind.__name__} {match} within {timeout} s; seen: {self.seen}") from None

    def types(self) -> list[str]:
        return [event.type for event in self.seen]

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def until(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"{what} not reached within {timeout} s"
        await asyncio.sleep(0.01)
