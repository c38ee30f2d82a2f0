"""A broken or hostile Dígitro cannot exhaust memory: an endless SSE line, a huge or endless reply to
a request or to EasyCall Record are each refused at their cap while read (a protocol error: counted,
the channel reset with backoff), memory stays within a few caps, and the driver recovers once the
PBX behaves again. Real sockets; the floods are tests/floods.py."""

from __future__ import annotations

import pytest

from tests.digitro.conftest import Events, until
from tests.digitro.fake_digitro import API_KEY, FakeDigitro
from tests.floods import MODES, peak_memory
from tui_caa.domain.events import DriverConnected, DriverDisconnected, DriverResynced
from tui_caa.pbx.base import NotConnected
from tui_caa.pbx.digitro import DigitroDriver
from tui_caa.pbx.limits import JSON_REPLY_BYTES, SSE_LINE_BYTES


async def test_an_endless_sse_line_resets_the_channel_within_its_cap(
        fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    await events.next(DriverResynced)
    with peak_memory() as peak:
        fake.flood_channels()
        down = await events.next(DriverDisconnected)
    assert f"a line to /canal-de-eventos larger than {SSE_LINE_BYTES} bytes" in down.reason
    assert peak[0] < 4 * SSE_LINE_BYTES, f"{peak[0]:,} bytes for an endless line"
    await events.next(DriverConnected)  # the flood was one channel's: the next one works
    await events.next(DriverResynced)
    assert driver.limit_exceeded == 1 and driver.connected


async def test_an_endless_line_at_every_channel_open_backs_off_until_it_stops(
        fake: FakeDigitro, driver: DigitroDriver, events: Events, caplog: pytest.LogCaptureFixture) -> None:
    await events.next(DriverResynced)
    fake.floods["channel"] = "endless_line"
    with peak_memory() as peak:
        fake.drop_channels()
        await events.next(DriverDisconnected)
        await until(lambda: driver.limit_exceeded >= 3, what="a few refused channels")
    assert peak[0] < 4 * SSE_LINE_BYTES, f"{peak[0]:,} bytes for endless lines"
    assert "larger than" in driver._outage and not driver.connected
    # logged once (then at most every few minutes), however often the PBX does it again
    assert sum("larger than" in r.getMessage() for r in caplog.records if r.levelname == "WARNING") == 1
    del fake.floods["channel"]
    await events.next(DriverConnected)
    await events.next(DriverResynced)


@pytest.mark.parametrize("mode", MODES)
async def test_a_huge_reply_at_the_resync_is_a_lost_link_then_recovers(
        mode: str, fake: FakeDigitro, driver: DigitroDriver, events: Events, caplog: pytest.LogCaptureFixture) -> None:
    await events.next(DriverResynced)
    fake.floods["state"] = mode  # the state query of each device, asked at every (re)open
    with peak_memory() as peak:
        fake.drop_channels()
        await events.next(DriverDisconnected)
        await until(lambda: driver.limit_exceeded >= 2, what="refused replies")
    assert peak[0] < 4 * JSON_REPLY_BYTES, f"{peak[0]:,} bytes for a {mode} reply"
    outage = driver._outage
    assert f"larger than {JSON_REPLY_BYTES} bytes" in outage and "/requests/" in outage, outage
    assert API_KEY not in outage
    assert sum("larger than" in r.getMessage() for r in caplog.records if r.levelname == "WARNING") == 1
    del fake.floods["state"]
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    assert driver.connected


@pytest.mark.parametrize("mode", MODES)
async def test_a_huge_reply_to_a_command_is_refused_at_its_cap(mode: str, fake: FakeDigitro,
                                                               driver: DigitroDriver) -> None:
    fake.floods["dial"] = mode
    with peak_memory() as peak, pytest.raises(NotConnected, match=f"larger than {JSON_REPLY_BYTES} bytes"):
        await driver.dial("1001", "51999887766")
    assert peak[0] < 4 * JSON_REPLY_BYTES, f"{peak[0]:,} bytes for a {mode} reply"
    assert driver.limit_exceeded == 1


async def test_easycall_record_replies_are_capped_too(fake: FakeDigitro, driver: DigitroDriver) -> None:
    fake.floods["ecr"] = "endless_chunked"
    with peak_memory() as peak, pytest.raises(NotConnected, match="larger than"):
        await driver.find_recordings("1")
    assert peak[0] < 4 * JSON_REPLY_BYTES
    assert driver.limit_exceeded == 1
    del fake.floods["ecr"]
    assert await driver.find_recordings("1") == []


async def test_a_huge_reply_to_the_renewal_resets_the_channel(fake: FakeDigitro) -> None:
    from tests.digitro.harness import make_driver
    driver = make_driver(fake, channel_renew_interval=0.2)
    events = Events(driver)
    await driver.connect()
    await events.next(DriverResynced)
    fake.floods["renew"] = "endless_chunked"
    down = await events.next(DriverDisconnected)
    assert "could not be renewed" in down.reason and "larger than" in down.reason
    del fake.floods["renew"]
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    assert driver.limit_exceeded >= 1
    await events.close()
    await driver.close()
