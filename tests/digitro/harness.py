"""The Dígitro rig: the fake Dígitro API (simulator behind it) and a DigitroDriver connected to it over
real sockets; also the contract harness (`make`, see tests/contract/harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from tests.digitro.fake_digitro import API_KEY, ECR_PASSWORD, ECR_USER, PASSWORDS, RECORDING, FakeDigitro
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import CallState
from tui_caa.pbx.digitro import DigitroDriver
from tui_caa.pbx.registry import driver_class

ACCOUNT, ROUTE = "4321", "0"
# fast enough for tests, slow enough for a loaded 2-core CI machine
FAST = {"heartbeat_timeout": 1.0, "request_timeout": 2.0, "connect_timeout": 2.0, "reconnect_delay": 0.02,
        "reconnect_max_delay": 0.2}


def entry(fake: FakeDigitro, *, api_key: str = API_KEY, ecr: bool = True) -> PbxRegistryEntry:
    fields: dict[str, Any] = dict(name="Lab Dígitro", kind="digitro", address="127.0.0.1", port=fake.port,
                                  account=ACCOUNT, route=ROUTE, secret=SecretStr(api_key))
    if ecr:
        fields.update(ecr_address="127.0.0.1", ecr_port=fake.ecr_port, ecr_user=ECR_USER,
                      ecr_password=SecretStr(ECR_PASSWORD))
    return PbxRegistryEntry(**fields)


def make_driver(fake: FakeDigitro, *, api_key: str = API_KEY, ecr: bool = True,
                passwords: dict[str, str] | None = None, **options: Any) -> DigitroDriver:
    """Built the way the gateway builds it: through the entry point, with the sellers' passwords."""
    options = {**FAST, **options}
    secrets = {ext: SecretStr(pw) for ext, pw in (PASSWORDS if passwords is None else passwords).items()}
    driver = driver_class("digitro").from_entry(entry(fake, api_key=api_key, ecr=ecr), device_passwords=secrets,
                                                **options)
    assert isinstance(driver, DigitroDriver)
    return driver


class DigitroHarness:
    unseen_in_outage = ("Dígitro's API resyncs from each device's live state (the state query) and offers no call "
                        "history: a call that began and ended during the outage is never reported")

    def __init__(self, fake: FakeDigitro, driver: DigitroDriver) -> None:
        self.fake = fake
        self.driver = driver
        self.recording_ref = RECORDING

    async def ring(self, extension: str, number: str, ddr: str) -> None:
        await self.fake.sim.ring(extension, number, ddr=ddr)

    async def pick_up(self, extension: str) -> None:
        await self.fake.sim.answer(extension, await self.fake.sim_call_at(extension, CallState.RINGING))

    async def remote_answer(self, extension: str) -> None:
        await self.fake.sim.remote_answer(await self.fake.sim_call_at(extension, CallState.DIALING))

    async def remote_hangup(self, extension: str) -> None:
        await self.fake.sim.remote_hangup(await self.fake.sim_call_at(extension))

    async def ringing(self, extension: str) -> bool:
        snapshot = await self.fake.sim.snapshot()
        return any(c.extension == extension and c.state is CallState.RINGING for c in snapshot.calls)

    async def cut_link(self) -> None:
        await self.fake.stop_listening()  # the API and the ECR, channels reset; the calls go on

    async def restore_link(self) -> None:
        await self.fake.start(self.fake.port, self.fake.ecr_port)


@asynccontextmanager
async def make(tmp_path: Path, *, connected: bool = True) -> AsyncIterator[DigitroHarness]:
    fake = await FakeDigitro().start()
    driver = make_driver(fake)
    try:
        if connected:
            await driver.connect()
        yield DigitroHarness(fake, driver)
    finally:
        await driver.close()
        await fake.stop()
