"""A broken or hostile Planetfone cannot exhaust memory: a SOAP reply with a huge Content-Length, an
endless chunked body or an endless unframed one is refused at MAX_RESPONSE_BYTES while read (a lost
link: counted, reconnect with backoff), memory stays near one cap, and the driver recovers when the
service behaves again. Real sockets; the floods are tests/floods.py."""

from __future__ import annotations

import pytest

from tests.floods import MODES, peak_memory
from tests.planetfone.conftest import Events, until
from tests.planetfone.fake_planetfone import FakePlanetfone
from tui_caa.domain.events import DriverConnected, DriverDisconnected, DriverResynced
from tui_caa.pbx.base import PbxError
from tui_caa.pbx.planetfone import PlanetfoneDriver
from tui_caa.pbx.planetfone.soap import MAX_RESPONSE_BYTES


@pytest.mark.parametrize("mode", MODES)
async def test_a_huge_soap_reply_is_a_lost_link_within_its_cap(mode: str, fake: FakePlanetfone,
                                                               driver: PlanetfoneDriver) -> None:
    events = Events(driver)
    try:
        await events.of(DriverResynced)
        with peak_memory() as peak:
            fake.floods["*"] = mode
            [down] = await events.of(DriverDisconnected)
            await until(lambda: driver.limit_exceeded >= 2)
        assert peak[0] < 4 * MAX_RESPONSE_BYTES, f"{peak[0]:,} bytes for a {mode} reply"
        assert f"larger than {MAX_RESPONSE_BYTES} bytes" in down.reason and "/wenvpabx2" in down.reason
        assert not driver.connected
        fake.floods.clear()
        await events.of(DriverConnected)
        await events.of(DriverResynced, count=2)
        assert driver.connected
    finally:
        events.close()


async def test_a_huge_reply_to_a_dial_is_refused_and_not_sent_again(fake: FakePlanetfone,
                                                                   driver: PlanetfoneDriver) -> None:
    fake.floods["Disca"] = "endless_chunked"
    with peak_memory() as peak, pytest.raises(PbxError, match=f"larger than {MAX_RESPONSE_BYTES}.*sent once and not repeated"):
        await driver.dial("1001", "5133334444")
    assert peak[0] < 4 * MAX_RESPONSE_BYTES
    assert [op for op, _ in fake.requests].count("Disca") == 1
    assert driver.limit_exceeded == 1
