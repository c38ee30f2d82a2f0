"""Faults, through the Asterisk driver (and once through a whole gateway) over real TCP against the
fake manager: a connection cut mid-packet, garbage and oversized packets, a server that stops
answering pings, an Asterisk restart. Every wait is for a condition, with a timeout."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.asterisk.fake_ami import FakeAmi, fixture, list_reply
from tests.asterisk.test_driver import (
    EMPTY_CHANNELS,
    LIVE_CALL,
    SECRET,
    make_driver,
    next_events,
    recording_body,
    until,
)
from tui_caa.crm import CrmStore
from tui_caa.domain.events import CallEnded, DriverConnected, DriverDisconnected, DriverResynced, PbxEvent
from tui_caa.domain.telephony import Disposition, ExtensionState
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.pbx.asterisk.driver import AsteriskDriver
from tui_caa.pbx.base import NotConnected
from tui_caa.protocol.messages import LinkState

HANGUP_1003 = (b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/1003-0000001c\r\nUniqueid: 1795647001.30\r\n"
               b"Linkedid: 1795647001.29\r\nCause: 16\r\n\r\n")
GARBAGE = b"\x00\x01\xfe\xff not an AMI header at all\r\n\xc3\x28 neither\r\n\r\n"


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = await FakeAmi(secret=SECRET).start()
    server.responses.update({"Originate": "Originate successfully queued", "Hangup": "Channel Hungup"})
    yield server
    await server.stop()


async def connected(driver: AsteriskDriver) -> AsyncIterator[PbxEvent]:
    stream = driver.events()
    await driver.connect()
    got = await next_events(stream, 2)
    assert [type(e) for e in got] == [DriverConnected, DriverResynced]
    return stream


async def wait_for(condition, timeout: float = 3.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)
    await asyncio.wait_for(poll(), timeout)


async def test_cut_mid_packet_reconnects_and_drops_the_half(fake: FakeAmi) -> None:
    driver = make_driver(fake)
    stream = await connected(driver)
    try:
        await fake.send_and_cut(HANGUP_1003[:40])  # half a Hangup, then FIN
        got = await until(stream, DriverResynced)
        assert [type(e) for e in got] == [DriverDisconnected, DriverConnected, DriverResynced]
        assert "mid-packet" in got[0].reason and "40 bytes" in got[0].reason
        # the half packet meant nothing: the call is still under way for both, as the resync says
        snap = await driver.snapshot()
        assert sorted(c.extension for c in snap.calls) == ["1002", "1003"]
        await fake.send(HANGUP_1003)  # the next session's events are mapped as usual
        (ended,) = await next_events(stream, 1)
        assert isinstance(ended, CallEnded) and ended.extension == "1003" and ended.call_id == LIVE_CALL
    finally:
        await driver.close()


async def test_garbage_and_oversized_are_counted_logged_and_skipped(fake: FakeAmi,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    driver = make_driver(fake, max_packet_size=4096)
    stream = await connected(driver)
    try:
        oversized = b"Event: VarSet\r\nVariable: BIG\r\nValue: " + b"x" * 10_000 + b"\r\n\r\n"
        with caplog.at_level(logging.WARNING, logger="tui_caa.pbx.asterisk"):
            await fake.send(GARBAGE + oversized + GARBAGE + HANGUP_1003, seed=3)  # split at random boundaries
            (ended,) = await next_events(stream, 1)
        assert isinstance(ended, CallEnded) and ended.extension == "1003"
        assert driver.bad_packets == 3 and driver.connected
        logged = [r.getMessage() for r in caplog.records if "bad AMI packet" in r.getMessage()]
        assert len(logged) == 3 and any("larger than 4096 bytes" in m for m in logged)
        assert any("not a header" in m for m in logged)
        await driver.hangup("1002", LIVE_CALL)  # commands still work on the same session
        assert fake.count("Hangup") == 1 and len(fake.logins) == 1
    finally:
        await driver.close()


async def test_unanswered_pings_are_a_half_open_link(fake: FakeAmi) -> None:
    driver = make_driver(fake, ping_interval=0.1, ping_timeout=0.2)
    stream = await connected(driver)
    try:
        fake.answer_pings = False  # the TCP connection stays up, the PBX says nothing
        loop = asyncio.get_running_loop()
        start = loop.time()
        (lost,) = await next_events(stream, 1, timeout=3.0)
        elapsed = loop.time() - start
        assert isinstance(lost, DriverDisconnected) and "no reply to Ping within 0.2 s" in lost.reason
        assert elapsed < 0.1 + 0.2 + 0.5  # one interval plus the timeout, with room for a slow machine
        with pytest.raises(NotConnected):
            await driver.dial("1001", "1002")
        fake.answer_pings = True
        got = await until(stream, DriverResynced)
        assert [type(e) for e in got] == [DriverConnected, DriverResynced]
    finally:
        await driver.close()


async def test_asterisk_restart_reconnects_with_backoff_and_resyncs(fake: FakeAmi) -> None:
    driver = make_driver(fake, reconnect_delay=0.05, reconnect_max_delay=0.4, action_timeout=5.0)
    stream = await connected(driver)
    try:
        fake.ignore_actions = {"Originate"}  # an Originate in flight when Asterisk goes down
        dial = asyncio.ensure_future(driver.dial("1001", "011987654321"))
        await wait_for(lambda: fake.count("Originate") == 1)
        fake.secret = "not-yet"  # Asterisk is still starting: logins fail for a while
        fake.restart()
        with pytest.raises(NotConnected):
            await dial  # the caller learns it failed; it is never re-sent
        (lost,) = await next_events(stream, 1)
        assert isinstance(lost, DriverDisconnected)
        await wait_for(lambda: len(fake.logins) >= 5)
        # the restarted PBX: no calls any more, phone 1003 not registered yet
        ext_state = fixture("ami-extension-state.txt")
        fake.list_replies.update({"DeviceStateList": list_reply(ext_state, "lab-32"),
                                  "ExtensionStateList": list_reply(ext_state, "lab-33"),
                                  "CoreShowChannels": [EMPTY_CHANNELS]})
        fake.ignore_actions = set()
        fake.secret = SECRET
        got = await until(stream, DriverResynced, timeout=5.0)
        assert [type(e) for e in got] == [DriverConnected, DriverResynced]
        # exponential backoff: each failed attempt waited at least twice as long as the one before
        times = [login["at"] for login in fake.logins[1:]]
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(gap >= nominal * 0.95 for gap, nominal in zip(gaps, (0.1, 0.2, 0.4, 0.4)))
        assert driver.reconnects == 1
        snap = await driver.snapshot()
        assert snap.calls == ()
        assert snap.extensions["1003"] is ExtensionState.OFFLINE and snap.extensions["1001"] is ExtensionState.IDLE
        assert fake.count("Originate") == 1  # never replayed
        assert [a["Action"] for a in fake.actions[-3:]] == ["DeviceStateList", "ExtensionStateList",
                                                            "CoreShowChannels"]
        await driver.dial("1001", "1002")
        assert fake.count("Originate") == 2
    finally:
        await driver.close()


async def test_garbage_never_stops_the_gateway(fake: FakeAmi, store: CrmStore, tmp_path: Path) -> None:
    """A whole gateway on the Asterisk driver: garbage between the packets of a real call, and the
    call is still recorded; the call that was under way at connect is recorded when it ends."""
    driver = make_driver(fake, max_packet_size=4096)
    gateway = Gateway(driver, store, Outbox(tmp_path / "outbox.sqlite3"), backoff=(0.01, 0.05))
    await gateway.start()
    try:
        await asyncio.wait_for(gateway.wait_connected(), 5)
        body = recording_body("ami-inbound-answered.txt")
        junk = GARBAGE + b"Event: VarSet\r\nValue: " + b"y" * 5000 + b"\r\n\r\n"
        packets = body.split(b"\r\n\r\n")
        mixed = b"".join(p + b"\r\n\r\n" + (junk if i % 10 == 0 else b"") for i, p in enumerate(packets[:-1]))
        await fake.send(mixed + HANGUP_1003, seed=11)
        await wait_for(lambda: driver.bad_packets >= 2 * len(range(0, len(packets) - 1, 10)))

        async def recorded(extension: str, call_id: str) -> bool:
            await gateway.recorder.drained()
            page = await store.call_history(extension)
            return any(row.call.pbx_call_id == call_id for row in page.rows)

        async def until_recorded(extension: str, call_id: str) -> None:
            while not await recorded(extension, call_id):
                await asyncio.sleep(0.01)
        await asyncio.wait_for(until_recorded("1001", "1795646870.0"), 5)
        await asyncio.wait_for(until_recorded("1003", LIVE_CALL), 5)
        page = await store.call_history("1001")
        rec = next(row.call for row in page.rows if row.call.pbx_call_id == "1795646870.0")
        assert rec.direction.value == "in" and rec.disposition is Disposition.ANSWERED and not rec.missed
        assert rec.remote_raw == "5133334444" and rec.ddr_raw == "5121010001"
        assert gateway.link is LinkState.CONNECTED and driver.connected and len(fake.logins) == 1
    finally:
        await gateway.stop()
