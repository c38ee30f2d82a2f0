"""ForIP with AMI access: the composed AsteriskDriver's events are forwarded and its commands
offered, over real sockets to the fake ForIP (HTTP) and the fake Asterisk manager (recorded AMI)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from tests.asterisk.fake_ami import FakeAmi, fixture, split_packets
from tests.forip.conftest import DriverFactory, Events, until
from tests.forip.fake_forip import FakeForip
from tui_caa.domain.events import CallEvent, DriverConnected, DriverDisconnected, DriverResynced
from tui_caa.domain.telephony import ALL_CAPABILITIES, Capability
from tui_caa.pbx.asterisk import AmiLoginFailed, PacketReader
from tui_caa.pbx.asterisk.driver import AsteriskDriver
from tui_caa.pbx.asterisk.mapping import AmiMapper
from tui_caa.pbx.base import Unsupported
from tui_caa.pbx.options.asterisk import AsteriskOptions

AMI_SECRET = "lab-secret"
LIVE_CALL = "1795647001.29"  # the call under way in the fake manager's CoreShowChannels reply
CUSTOMER = "51999887766"


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    server = await FakeAmi(secret=AMI_SECRET).start()
    server.responses.update({"Hangup": "Channel Hungup", "BlindTransfer": "Transfer succeeded",
                             "Originate": "Originate successfully queued"})
    yield server
    await server.stop()


def ami_options(ami: FakeAmi, secret: str = AMI_SECRET) -> dict:
    return {"ami_host": "127.0.0.1", "ami_port": ami.port, "ami_user": "ctiuser", "ami_secret": SecretStr(secret),
            "ami": AsteriskOptions(technology="SIP", dial_context="ramais", connect_timeout=2.0, action_timeout=2.0,
                                   reconnect_delay=0.01, reconnect_max_delay=0.05)}


def call_events(name: str) -> tuple[bytes, list[CallEvent]]:
    body = b"".join(split_packets(fixture(name))[1:])
    expected = [e for e in AmiMapper().feed_all(PacketReader(expect_banner=False).feed(body)) if isinstance(e, CallEvent)]
    return body, expected


def shape(events: list) -> list[dict]:
    return [{k: v for k, v in e.to_dict().items() if k != "at"} for e in events]


async def test_capabilities_are_dial_plus_what_the_ami_driver_offers(fake: FakeForip, ami: FakeAmi,
                                                                     make_driver: DriverFactory):
    await fake.start()
    drv = make_driver(**ami_options(ami))
    assert isinstance(drv.ami_driver, AsteriskDriver)
    assert drv.capabilities == {Capability.DIAL} | drv.ami_driver.capabilities
    assert drv.capabilities > {Capability.DIAL, Capability.HANGUP, Capability.BLIND_TRANSFER}
    missing = ALL_CAPABILITIES - drv.capabilities
    for capability in missing:  # e.g. hold and answer, unless [pbx.forip.ami] turns them on
        with pytest.raises(Unsupported, match="not supported by ForIP, not even through its AMI"):
            drv.require(capability)
    assert "lab-secret" not in repr(drv.options)


async def test_events_are_forwarded_and_commands_go_to_ami(fake: FakeForip, ami: FakeAmi,
                                                           make_driver: DriverFactory):
    await fake.start()
    drv = make_driver(**ami_options(ami))
    events = Events(drv)
    await drv.connect()
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    snapshot = await drv.snapshot()  # the AMI driver's view
    assert {c.call_id for c in snapshot.calls} == {LIVE_CALL} and set(snapshot.extensions) >= {"1001", "1002"}

    body, expected = call_events("ami-inbound-answered.txt")
    assert len(expected) >= 3
    await ami.send(body, seed=3)
    got = [await events.next(CallEvent) for _ in expected]
    assert shape(got) == shape(expected)
    assert [e for e in events.seen if isinstance(e, (DriverConnected, DriverResynced))] == []  # announced once

    await drv.hangup("1002", LIVE_CALL)
    (hangup,) = [a for a in ami.actions if a.get("Action") == "Hangup"]
    assert hangup.get("Channel", "").startswith(("SIP/1002-", "PJSIP/1002-"))
    # dialing stays ForIP's own: disca_crm, never an AMI Originate
    await drv.dial("1001", CUSTOMER)
    assert len(fake.endpoint_requests("disca_crm")) == 1 and ami.count("Originate") == 0
    await events.close()


async def test_a_recording_is_played_through_ami_from_the_gravacoes_path(fake: FakeForip, ami: FakeAmi,
                                                                         make_driver: DriverFactory):
    await fake.start()
    drv = make_driver(**ami_options(ami), recordings_path="/var/www/GRAVACOES/")
    await drv.connect()
    if Capability.PLAY_RECORDING not in drv.capabilities:
        pytest.skip("the Asterisk driver does not offer play_recording")
    await drv.play_recording("GRAVACOES/20261102/CRM-1001-51999887766-100000.WAV", "1002")
    (originate,) = [a for a in ami.actions if a.get("Action") == "Originate"]
    assert originate.get("Application") == "Playback"
    assert originate.get("Data") == "/var/www/GRAVACOES/20261102/CRM-1001-51999887766-100000"


async def test_ami_outage_shows_the_link_down_then_resyncs(fake: FakeForip, ami: FakeAmi,
                                                           make_driver: DriverFactory):
    await fake.start()
    drv = make_driver(**ami_options(ami))
    events = Events(drv)
    await drv.connect()
    await events.next(DriverResynced)
    ami.restart()
    lost = await events.next(DriverDisconnected)
    assert lost.reason.startswith("ForIP AMI:")
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    assert drv.connected and drv.reconnects == 1 and ami.count("CoreShowChannels") == 2
    assert len(fake.endpoint_requests("login_crm")) == 1  # the CRM API was fine all along
    await events.close()


async def test_api_outage_with_ami_up_is_one_link_down_and_one_resync(fake: FakeForip, ami: FakeAmi,
                                                                      make_driver: DriverFactory):
    await fake.start()
    drv = make_driver(**ami_options(ami))
    events = Events(drv)
    await drv.connect()
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    await fake.stop()
    lost = await events.next(DriverDisconnected)
    assert lost.reason.startswith("ForIP CRM API:")
    ami.restart()  # the AMI drops and comes back during the API outage: no resync yet
    await until(lambda: len(ami.logins) == 2 and drv.ami_driver.connected, what="the AMI back")
    assert not drv.connected and not any(isinstance(e, DriverResynced) for e in events.seen)
    await fake.start()
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    assert drv.connected
    assert [e.type for e in events.seen if isinstance(e, (DriverConnected, DriverResynced))] == []
    await events.close()


async def test_ami_login_refused_at_connect_is_clear(fake: FakeForip, ami: FakeAmi, make_driver: DriverFactory):
    await fake.start()
    drv = make_driver(**ami_options(ami, secret="wrong"))
    with pytest.raises(AmiLoginFailed, match="Authentication failed"):
        await drv.connect()
    assert not drv.connected
