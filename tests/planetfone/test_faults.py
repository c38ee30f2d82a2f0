"""Faults: the service down at start, lost mid-call, bad XML, HTTP 500, SOAP Fault, slow answers.

The driver keeps running, reports the link down, reconnects with backoff, resyncs, emits the calls
it missed from the CDR once, and never sends a Disca twice."""

from __future__ import annotations

import re

import pytest

from tests.planetfone.conftest import Events, until
from tests.planetfone.fake_planetfone import FakePlanetfone
from tests.planetfone.harness import make_driver
from tui_caa.domain.events import (
    CallAnswered,
    CallDialing,
    CallEnded,
    CallRinging,
    DriverConnected,
    DriverDisconnected,
    DriverResynced,
)
from tui_caa.domain.telephony import Disposition
from tui_caa.pbx.base import NotConnected, PbxError
from tui_caa.pbx.planetfone import PlanetfoneDriver

CALLER, DDR = "5133334444", "5121010001"


async def test_down_at_start_then_up(fake: FakePlanetfone) -> None:
    await fake.stop()
    drv = make_driver(fake)
    with pytest.raises(NotConnected, match=rf"SOAP service at http://127.0.0.1:{fake.port}/wenvpabx2 failed: "
                                           r"CanaisAtivos: cannot reach the SOAP service"):
        await drv.connect()
    assert not drv.connected
    await fake.start()
    await drv.connect()
    ev = Events(drv)
    try:
        await ev.of(DriverResynced)
        assert drv.connected
    finally:
        ev.close()
        await drv.close()


async def test_link_lost_mid_call_reconnects_resyncs_and_loses_no_call(mysql: str,
        fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    live = await fake.sim.ring("1001", CALLER, ddr=DDR)
    await events.of(CallRinging, extension="1001")
    await fake.sim.answer("1001", live)
    [answered] = await events.of(CallAnswered, extension="1001")

    await fake.stop()
    [down] = await events.of(DriverDisconnected)
    assert "CanaisAtivos" in down.reason
    assert not driver.connected
    with pytest.raises(NotConnected, match="not connected to the Planetfone SOAP service"):
        await driver.hangup("1001", answered.call_id)
    with pytest.raises(NotConnected):
        await driver.snapshot()
    # while the service is away the PBX goes on: the live call ends, another one rings and is missed
    await fake.sim.remote_hangup(live)
    missed = await fake.sim.ring("1002", "5199990000", ddr="5121010002")
    await fake.sim.remote_hangup(missed)
    await fake.settled()
    assert fake.cdr_rows == 2

    await fake.start()
    await events.of(DriverResynced, count=2)
    connected = events.all(DriverConnected)
    assert len(connected) == 2 and driver.reconnects == 1
    snap = await driver.snapshot()
    assert snap.calls == ()  # the snapshot is the truth: the gateway closes the call it followed
    # the call that began and ended during the outage comes from the CDR, once, after the resync
    [rang] = await events.of(CallRinging, extension="1002")
    [ended] = await events.of(CallEnded, extension="1002")
    assert (rang.number, rang.ddr, ended.disposition) == ("5199990000", "5121010002", Disposition.NO_ANSWER)
    assert events.seen.index(rang) > events.seen.index(events.all(DriverResynced)[-1])
    await driver.poll()
    await driver._sweep(force=True)
    assert len(events.all(CallEnded, extension="1002")) == 1
    assert not events.all(CallEnded, extension="1001")  # not invented: the gateway's resync closes it


@pytest.mark.parametrize(("mode", "reason"), [
    ("bad_xml", "the response is not valid XML"),
    ("http500", "answered HTTP 500 Internal Server Error"),
    ("fault", r"SOAP Fault \(soap:Server\): java.lang.NullPointerException"),
    ("slow", r"no answer from the SOAP service at .* within 1 s \(request_timeout in \[pbx.planetfone\]\)"),
    ("drop", "cannot reach the SOAP service"),
])
async def test_a_bad_answer_drops_the_link_then_it_comes_back(
        fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events, mode: str, reason: str) -> None:
    await events.of(DriverResynced)
    failures = driver.soap.failures
    fake.fail(mode, "CanaisAtivos", times=1)
    [down] = await events.of(DriverDisconnected)
    assert re.search(reason, down.reason), down.reason
    await events.of(DriverResynced, count=2)
    assert driver.connected and driver.poll_failures == 1 and driver.soap.failures == failures + 1
    # and it goes on working
    await fake.sim.ring("1003", CALLER, ddr=DDR)
    await events.of(CallRinging, extension="1003")


async def test_a_slow_disca_is_never_sent_twice(fake: FakePlanetfone) -> None:
    drv = make_driver(fake, dial_timeout=0.3)
    await drv.connect()
    ev = Events(drv)
    try:
        fake.slow_seconds = 0.8
        fake.fail("slow", "Disca", times=1)
        with pytest.raises(PbxError, match=r"within 0.3 s.*sent once and not repeated: look at extension 1001"):
            await drv.dial("1001", "051999887766")
        assert drv.connected  # a slow command is not a lost link
        # the PBX did place the call after all: it shows up, and still only one Disca was sent
        [dialing] = await ev.of(CallDialing, extension="1001", timeout=5)
        assert dialing.number == "051999887766"
        assert fake.count("Disca") == 1
        # a lost link and a reconnect later, still one Disca
        await fake.stop()
        await ev.of(DriverDisconnected)
        await fake.start()
        await ev.of(DriverResynced, count=2)
        assert fake.count("Disca") == 1
    finally:
        ev.close()
        await drv.close()


async def test_a_dial_while_the_link_is_down_is_refused_not_queued(fake: FakePlanetfone, driver: PlanetfoneDriver,
                                                                   events: Events) -> None:
    await fake.stop()
    await events.of(DriverDisconnected)
    with pytest.raises(NotConnected):
        await driver.dial("1001", "051999887766")
    await fake.start()
    await events.of(DriverResynced, count=2)
    await until(lambda: fake.count("CanaisAtivos") > 3)
    assert fake.count("Disca") == 0


async def test_unsafe_xml_is_refused_and_counted(fake: FakePlanetfone, driver: PlanetfoneDriver,
                                                 events: Events) -> None:
    await events.of(DriverResynced)
    original = fake._answer
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol2;'
            b"</soap:Body></soap:Envelope>")
    sent = []

    async def evil(request_line: str, body: bytes) -> tuple[int, bytes]:
        if not sent:
            sent.append(1)
            return 200, bomb
        return await original(request_line, body)

    fake._answer = evil  # type: ignore[method-assign]
    [down] = await events.of(DriverDisconnected)
    assert "declares a DOCTYPE or entities, refused (unsafe XML)" in down.reason
    await events.of(DriverResynced, count=2)
