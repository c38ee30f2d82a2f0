"""The ForIP rig for the driver contract suite (tests/contract/harness.py).

ForIP is Asterisk with ForIP Manager in front: here the fake Asterisk manager of tests/asterisk
(`SimAmi`, simulator-backed) and the fake ForIP CRM API share one simulator. The ForipDriver dials
through the CRM API (disca_crm) and, with AMI access configured, gets its events and every other
command from the composed Asterisk driver, all over real sockets. The AMI settings are those of
the fake's dialplan (PJSIP phones in from-internal, FreePBX-style; an atxfer code; phones that obey
hold NOTIFYs), as a site would set them in [pbx.forip.ami]. Without AMI a ForIP driver has no live
events, so the contract's stories need it. With the test PostgreSQL (TUI_CAA_TEST_PG_ODBC, as
.ci/postgres.sh exports it) the fake writes ForIP's call tickets and the driver reads them, so a
call that began and ended during an outage is reported once the link is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import SecretStr

from tests.asterisk.sim_ami import SimAmi
from tests.forip.conftest import PG_ODBC, create_schema, db_options
from tests.forip.fake_forip import EMAIL, PASSWORD, FakeForip
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import CallState
from tui_caa.pbx.forip import ForipDriver
from tui_caa.pbx.options.asterisk import AsteriskOptions
from tui_caa.pbx.registry import driver_class
from tui_caa.pbx.sim import SimulatorDriver

RECORDINGS_PATH = "/var/www/GRAVACOES"  # where the PBX keeps GRAVACOES (recordings_path)
RECORDING = "GRAVACOES/20261102/CRM-1001-51999887766-100000.WAV"
PLAYBACK_MEDIA = f"{RECORDINGS_PATH}/20261102/CRM-1001-51999887766-100000"  # what Playback is given
AMI_USER, AMI_SECRET = "ctiuser", "lab-secret"


class ForipHarness:
    def __init__(self, sim_ami: SimAmi, fake: FakeForip, driver: ForipDriver) -> None:
        self.sim_ami = sim_ami
        self.fake = fake
        self.driver = driver
        self.recording_ref = RECORDING
        # the driver reads the outage's call tickets once the link is back
        self.unseen_in_outage = None if driver.tickets is not None else (
            "without ForIP's database (PostgreSQL: set TUI_CAA_TEST_PG_ODBC, as .ci/postgres.sh does) the AMI "
            "shows live channels only, and a call that began and ended during an outage leaves none")

    @property
    def sim(self) -> SimulatorDriver:
        return self.sim_ami.sim

    async def ring(self, extension: str, number: str, ddr: str) -> None:
        await self.sim.ring(extension, number, ddr=ddr)

    async def pick_up(self, extension: str) -> None:
        await self.sim.answer(extension, await self._call_at(extension, CallState.RINGING))

    async def remote_answer(self, extension: str) -> None:
        await self.sim.remote_answer(await self._call_at(extension, CallState.DIALING))

    async def remote_hangup(self, extension: str) -> None:
        await self.sim.remote_hangup(await self._call_at(extension))

    def ringing(self, extension: str) -> bool:
        return self.sim_ami.ringing(extension)  # a channel of that phone in state Ringing

    async def cut_link(self) -> None:
        """Both doors of the PBX close: the CRM API and the AMI."""
        await self.fake.stop()
        await self.sim_ami.stop_listening()

    async def restore_link(self) -> None:
        await self.sim_ami.listen()
        await self.fake.start()  # on the same port

    async def _call_at(self, extension: str, state: CallState | None = None) -> str:
        snapshot = await self.sim.snapshot()
        for call in snapshot.calls:
            if call.extension == extension and (state is None or call.state is state):
                return call.call_id
        raise AssertionError(f"no {state.value if state else ''} call at extension {extension}: {snapshot.calls}")


def make_driver(sim_ami: SimAmi, fake: FakeForip, **options: object) -> ForipDriver:
    """Built the way the gateway builds it: the registry entry and the [pbx.forip] table."""
    entry = PbxRegistryEntry(name="ForIP lab", kind="forip", address="127.0.0.1", port=fake.port, login=EMAIL,
                             secret=SecretStr(PASSWORD))
    settings: dict[str, object] = {
        "request_timeout": 5.0, "probe_interval": 1.0, "reconnect_delay": 0.05, "reconnect_max_delay": 0.5,
        "ami_host": "127.0.0.1", "ami_port": sim_ami.port, "ami_user": AMI_USER, "ami_secret": SecretStr(AMI_SECRET),
        "ami": AsteriskOptions(technology="PJSIP", dial_context="from-internal", atxfer_enabled=True,
                               hold_method="notify", connect_timeout=5.0, action_timeout=5.0,
                               reconnect_delay=0.05, reconnect_max_delay=0.5),
        "recordings_path": RECORDINGS_PATH,
        **options,
    }
    driver = driver_class("forip").from_entry(entry, **settings)
    assert isinstance(driver, ForipDriver)
    return driver


@asynccontextmanager
async def make(tmp_path: Path, *, connected: bool = True) -> AsyncIterator[ForipHarness]:
    db: dict[str, object] = {}
    if PG_ODBC:
        await asyncio.to_thread(create_schema, PG_ODBC)  # empty tables: only this rig's calls
        db = {**db_options(PG_ODBC), "outage_recheck": 0.5, "outage_retry": 0.5}
    sim_ami = await SimAmi(username=AMI_USER, secret=AMI_SECRET, recording_ref=PLAYBACK_MEDIA).start()
    fake = FakeForip.on_sim_ami(sim_ami, odbc=PG_ODBC or None)
    driver: ForipDriver | None = None
    try:
        await fake.start()
        driver = make_driver(sim_ami, fake, **db)
        if connected:
            await driver.connect()
        yield ForipHarness(sim_ami, fake, driver)
    finally:
        if driver is not None:
            await driver.close()
        await fake.close()
        await sim_ami.stop()
