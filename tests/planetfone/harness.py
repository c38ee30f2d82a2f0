"""The Planetfone rig for the driver contract suite (tests/contract/harness.py).

A `FakePlanetfone` (SOAP over real sockets, driven by the simulator) and a connected
`PlanetfoneDriver` polling it every 50 ms. With `TUI_CAA_TEST_MYSQL` set, the fake writes its CDR rows
into that MariaDB and the driver reads them; without it the rig runs without the CDR part.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tests.planetfone.fake_planetfone import RECORDING, FakePlanetfone, mysql_params
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import CallState
from tui_caa.pbx.planetfone import PlanetfoneDriver
from tui_caa.pbx.registry import driver_class

MYSQL_ENV = "TUI_CAA_TEST_MYSQL"
TEST_OPTIONS: dict[str, Any] = {
    "poll_interval": 0.05, "request_timeout": 1.0, "connect_timeout": 1.0, "reconnect_delay": 0.05,
    "reconnect_max_delay": 0.2, "cdr_sweep_interval": 0.1, "mysql_timeout": 2.0,
}


def mysql_dsn() -> str | None:
    return os.environ.get(MYSQL_ENV) or None


def entry(fake: FakePlanetfone, *, mysql: bool = True, **overrides: Any) -> PbxRegistryEntry:
    fields: dict[str, Any] = {"name": "Planetfone lab", "kind": "planetfone", "address": "127.0.0.1",
                              "port": fake.port}
    if mysql and fake.mysql_dsn:
        db = mysql_params(fake.mysql_dsn)
        fields.update(mysql_host=db["host"], mysql_port=db["port"], mysql_user=db["user"],
                      mysql_password=SecretStr(db["password"]), mysql_database=db["db"])
    fields.update(overrides)
    return PbxRegistryEntry(**fields)


def make_driver(fake: FakePlanetfone, *, mysql: bool = True, entry_overrides: dict[str, Any] | None = None,
                **options: Any) -> PlanetfoneDriver:
    merged = {**TEST_OPTIONS, "cdr_table": fake.cdr_table, **options}
    driver = driver_class("planetfone").from_entry(entry(fake, mysql=mysql, **(entry_overrides or {})), **merged)
    assert isinstance(driver, PlanetfoneDriver)
    return driver


def new_fake(**kwargs: Any) -> FakePlanetfone:
    return FakePlanetfone(mysql_dsn=mysql_dsn(), cdr_table=f"cdr_{uuid.uuid4().hex[:10]}", **kwargs)


class PlanetfoneHarness:
    recording_ref = RECORDING

    def __init__(self, fake: FakePlanetfone, driver: PlanetfoneDriver) -> None:
        self.fake, self.driver = fake, driver
        # the driver's CDR sweep reports the calls of an outage once the link is back
        self.unseen_in_outage = None if driver.cdr is not None else (
            f"without the PBX's CDR table (MariaDB: set {MYSQL_ENV}, as .ci/mariadb.sh does) Planetfone's SOAP "
            "service only shows live channels (CanaisAtivos)")

    def _calls(self, extension: str, *states: CallState) -> list[str]:
        return [leg.call_id for leg in _sim_calls(self.fake) if leg.extension == extension
                and (not states or leg.state in states)]

    async def ring(self, extension: str, number: str, ddr: str) -> None:
        await self.fake.sim.ring(extension, number, ddr=ddr)

    async def pick_up(self, extension: str) -> None:
        calls = self._calls(extension, CallState.RINGING)
        assert calls, f"nothing rings at {extension}"
        await self.fake.sim.answer(extension, calls[0])

    async def remote_answer(self, extension: str) -> None:
        calls = self._calls(extension, CallState.DIALING)
        assert calls, f"{extension} is not calling out"
        await self.fake.sim.remote_answer(calls[0])

    async def remote_hangup(self, extension: str) -> None:
        calls = [cid for cid in self._calls(extension) if (view := self.fake.sim.call(cid)) and view.external]
        assert calls, f"{extension} has no call with an outside party"
        await self.fake.sim.remote_hangup(calls[0])

    def ringing(self, extension: str) -> bool:
        return bool(self._calls(extension, CallState.RINGING))

    async def cut_link(self) -> None:
        await self.fake.stop()  # the SOAP service; the PBX's calls and its CDR go on

    async def restore_link(self) -> None:
        await self.fake.start()  # on the same port


def _sim_calls(fake: FakePlanetfone) -> list[_Leg]:
    """Every leg the simulator holds now, as ActiveCall-like rows (call_id, extension, state)."""
    sim = fake.sim
    out = []
    for call_id in list(sim._calls):  # test rig: the simulator's own bookkeeping is the truth
        view = sim.call(call_id)
        if view is None:
            continue
        for ext, state in view.legs.items():
            out.append(_Leg(call_id, ext, state))
    return out


class _Leg:
    __slots__ = ("call_id", "extension", "state")

    def __init__(self, call_id: str, extension: str, state: CallState) -> None:
        self.call_id, self.extension, self.state = call_id, extension, state


@asynccontextmanager
async def make(tmp_path: Path, *, connected: bool = True) -> AsyncIterator[PlanetfoneHarness]:
    fake = await new_fake().start()
    driver = make_driver(fake)
    try:
        if connected:
            await driver.connect()
        yield PlanetfoneHarness(fake, driver)
    finally:
        await driver.close()
        await fake.close()
