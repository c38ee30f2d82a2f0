"""A broken or hostile ForIP cannot exhaust memory: a CRM API reply with a huge Content-Length, an
endless chunked body or an endless unframed one is refused at its cap while read (the API link is
down: counted, reconnect with backoff), memory stays near one cap, and the driver recovers when the
API behaves again. Real sockets; the floods are tests/floods.py."""

from __future__ import annotations

import pytest

from tests.floods import MODES, peak_memory
from tests.forip.conftest import DriverFactory, Events, until
from tests.forip.fake_forip import FakeForip
from tui_caa.domain.events import DriverConnected, DriverDisconnected, DriverResynced
from tui_caa.pbx.forip.api import ApiDown
from tui_caa.pbx.limits import JSON_REPLY_BYTES

CUSTOMER = "51999887766"


@pytest.mark.parametrize("mode", MODES)
async def test_a_huge_reply_is_a_lost_link_within_its_cap(mode: str, fake: FakeForip, make_driver: DriverFactory,
                                                          caplog: pytest.LogCaptureFixture):
    await fake.start()
    drv = make_driver()
    events = Events(drv)
    await drv.connect()
    await events.next(DriverResynced)
    with peak_memory() as peak:
        fake.fault = mode  # every request, until cleared
        lost = await events.next(DriverDisconnected)
        await until(lambda: drv.limit_exceeded >= 3, what="refused replies")
    assert peak[0] < 4 * JSON_REPLY_BYTES, f"{peak[0]:,} bytes for a {mode} reply"
    assert f"larger than {JSON_REPLY_BYTES} bytes" in lost.reason, lost.reason
    assert not drv.connected
    # logged once (then at most every few minutes), however often the PBX does it again
    assert sum("larger than" in r.getMessage() for r in caplog.records if r.levelname == "WARNING") <= 2, [
        r.getMessage()[:80] for r in caplog.records]
    fake.fault = None
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    assert drv.connected
    await events.close()


async def test_a_huge_reply_to_a_dial_is_never_sent_again(fake: FakeForip, make_driver: DriverFactory):
    await fake.start()
    drv = make_driver()
    events = Events(drv)
    await drv.connect()
    await events.next(DriverResynced)
    fake.faults.append("endless_chunked")
    with peak_memory() as peak, pytest.raises(ApiDown, match="larger than .*not sent again") as failed:
        await drv.dial("1001", CUSTOMER)
    assert peak[0] < 4 * JSON_REPLY_BYTES
    assert failed.value.outcome_unknown
    assert len(fake.endpoint_requests("disca_crm")) == 1 and drv.limit_exceeded == 1
    await events.close()
