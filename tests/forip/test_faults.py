"""ForIP faults over real sockets: server down at start, connection lost, HTTP 500, bad JSON, slow
replies, expired key. The driver keeps running, shows the link down, reconnects, resyncs, and never
sends a dial twice."""

from __future__ import annotations

import pytest

from tests.forip.conftest import DriverFactory, Events, until
from tests.forip.fake_forip import FakeForip
from tui_caa.domain.events import DriverConnected, DriverDisconnected, DriverResynced
from tui_caa.pbx.base import NotConnected
from tui_caa.pbx.forip.api import ApiDown

CUSTOMER = "51999887766"


async def test_server_down_at_start_then_up(fake: FakeForip, make_driver: DriverFactory):
    await fake.reserve_port()
    drv = make_driver()
    with pytest.raises(ApiDown, match="cannot reach ForIP's CRM API at http://127.0.0.1:.*check the registry"):
        await drv.connect()
    assert not drv.connected
    with pytest.raises(NotConnected):
        await drv.dial("1001", CUSTOMER)
    await fake.start()
    events = Events(drv)
    await drv.connect()  # the gateway retries connect() with its own backoff
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    await drv.dial("1001", CUSTOMER)
    assert len(fake.dials) == 1
    await events.close()


async def test_connection_lost_shows_the_link_down_then_reconnects(fake: FakeForip, make_driver: DriverFactory):
    await fake.start()
    drv = make_driver()
    events = Events(drv)
    await drv.connect()
    await events.next(DriverResynced)
    await fake.stop()
    lost = await events.next(DriverDisconnected)
    assert "CRM API" in lost.reason and "cannot reach" in lost.reason
    with pytest.raises(NotConnected, match="CRM API is down"):
        await drv.dial("1001", CUSTOMER)
    with pytest.raises(NotConnected, match="link to ForIP is down"):
        await drv.snapshot()
    await until(lambda: drv.api.errors["unreachable"] >= 2, what="a few reconnect attempts")
    await fake.start()
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    assert drv.connected and drv.reconnects == 1
    await drv.dial("1001", CUSTOMER)
    assert len(fake.dials) == 1 and fake.endpoint_requests("disca_crm").__len__() == 1
    await events.close()


@pytest.mark.parametrize("fault, message", [
    ("http_500", "answered HTTP 500"),
    ("bad_json", "not a JSON object"),
    ("drop", "lost the connection to ForIP.s CRM API"),
    ("slow", "did not answer within 0.3 s.*raise request_timeout"),
])
async def test_a_dial_whose_outcome_is_unknown_is_never_sent_again(fault: str, message: str, fake: FakeForip,
                                                                   make_driver: DriverFactory):
    await fake.start()
    fake.slow_seconds = 1.0
    drv = make_driver(request_timeout=0.3)
    events = Events(drv)
    await drv.connect()
    await events.next(DriverResynced)
    fake.faults.append(fault)
    with pytest.raises(ApiDown, match=message) as failed:
        await drv.dial("1001", CUSTOMER)
    assert failed.value.outcome_unknown
    assert "not sent again" in str(failed.value) and "check the phone" in str(failed.value)
    # the link is shown down, comes back by itself, and the dial was sent exactly once
    await events.next(DriverDisconnected)
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    assert len(fake.endpoint_requests("disca_crm")) == 1
    assert len(fake.dials) == 1 and fake.dials[0].sim_call_id is not None  # ForIP did place it
    assert sum(drv.errors.values()) >= 1
    # and the next dial works
    await drv.dial("1002", CUSTOMER)
    assert len(fake.endpoint_requests("disca_crm")) == 2
    await events.close()


@pytest.mark.parametrize("fault, message", [
    ("http_500", "answered HTTP 500"),
    ("bad_json", "not a JSON object"),
    ("slow", "did not answer within"),
])
async def test_probe_faults_show_the_link_down_until_the_api_is_sane(fault: str, message: str, fake: FakeForip,
                                                                     make_driver: DriverFactory):
    await fake.start()
    fake.slow_seconds = 0.5
    drv = make_driver(request_timeout=0.2)
    events = Events(drv)
    await drv.connect()
    await events.next(DriverResynced)
    fake.fault = fault  # every request, until cleared
    lost = await events.next(DriverDisconnected)
    assert "CRM API" in lost.reason
    assert message.split(".*")[0] in lost.reason or message in lost.reason, lost.reason
    logins = len(fake.endpoint_requests("login_crm"))
    await until(lambda: len(fake.endpoint_requests("login_crm")) >= logins + 2, what="login retries")
    assert not drv.connected
    fake.fault = None
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    assert drv.connected
    await events.close()


async def test_bad_json_at_login_is_a_clear_error(fake: FakeForip, make_driver: DriverFactory):
    await fake.start()
    fake.faults.append("bad_json")
    with pytest.raises(ApiDown, match="not a JSON object.*is the address the ForIP CRM API"):
        await make_driver().connect()
    drv = make_driver()
    await drv.connect()
    assert drv.connected
