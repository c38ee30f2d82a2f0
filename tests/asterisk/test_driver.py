"""AsteriskDriver over real TCP against the fake Asterisk manager."""

from __future__ import annotations

import asyncio
import json
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from tests.asterisk.fake_ami import FakeAmi, fixture, fixture_names, list_reply, split_packets
from tui_caa.domain.events import (
    ActiveCall,
    CallEnded,
    CallEvent,
    DriverConnected,
    DriverDisconnected,
    DriverResynced,
    PbxEvent,
)
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import CallState, Capability, Direction, Disposition, ExtensionState
from tui_caa.gateway.state import PbxState
from tui_caa.pbx.asterisk import AmiConnectError, AmiLoginFailed, PacketReader
from tui_caa.pbx.asterisk.driver import AsteriskDriver
from tui_caa.pbx.asterisk.mapping import AmiMapper
from tui_caa.pbx.base import NotConnected, PbxError, Unsupported
from tui_caa.pbx.registry import driver_class

SECRET = "lab-secret"
EMPTY_CHANNELS = (b"Response: Success\r\nActionID: x\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n"
                  b"Event: CoreShowChannelsComplete\r\nActionID: x\r\nEventList: Complete\r\nListItems: 0\r\n\r\n")
# the call under way in the fake's CoreShowChannels reply (recorded in ami-extension-state.txt)
LIVE_CALL = "1795647001.29"


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = await FakeAmi(secret=SECRET).start()
    server.responses.update({"Originate": "Originate successfully queued", "Hangup": "Channel Hungup",
                             "BlindTransfer": "Transfer succeeded"})
    yield server
    await server.stop()


def entry(fake: FakeAmi, secret: str = SECRET) -> PbxRegistryEntry:
    return PbxRegistryEntry(name="Lab", kind="asterisk", address="127.0.0.1", port=fake.port, login="ctiuser",
                            secret=SecretStr(secret))


def make_driver(fake: FakeAmi, secret: str = SECRET, **options) -> AsteriskDriver:
    options.setdefault("ping_interval", 0)
    options.setdefault("action_timeout", 2.0)
    options.setdefault("connect_timeout", 2.0)
    options.setdefault("reconnect_delay", 0.01)
    options.setdefault("reconnect_max_delay", 0.05)
    driver = driver_class("asterisk").from_entry(entry(fake, secret), **options)
    assert isinstance(driver, AsteriskDriver)
    return driver


@pytest.fixture
async def driver(fake: FakeAmi) -> AsyncIterator[AsteriskDriver]:
    drv = make_driver(fake)
    await drv.connect()
    yield drv
    await drv.close()


async def next_events(stream: AsyncIterator[PbxEvent], n: int, timeout: float = 2.0) -> list[PbxEvent]:
    return [await asyncio.wait_for(anext(stream), timeout) for _ in range(n)]


async def until(stream: AsyncIterator[PbxEvent], cls: type, timeout: float = 2.0) -> list[PbxEvent]:
    """Events up to and including the first `cls`."""
    got: list[PbxEvent] = []
    while not got or not isinstance(got[-1], cls):
        got.append(await asyncio.wait_for(anext(stream), timeout))
    return got


def recording_body(name: str) -> bytes:
    return b"".join(split_packets(fixture(name))[1:])


def actions(fake: FakeAmi, name: str) -> list:
    return [a for a in fake.actions if a.get("Action") == name]


# ---- registry, connect, resync -------------------------------------------------------------------

def test_found_by_registry() -> None:
    cls = driver_class("asterisk")
    assert cls is AsteriskDriver and cls.kind == "asterisk" and cls.label == "Asterisk"
    C = Capability
    # the class offers what every Asterisk does; each driver adds what its options make usable
    assert cls.capabilities == {C.DIAL, C.HANGUP, C.BLIND_TRANSFER, C.DTMF, C.PLAY_RECORDING}
    e = PbxRegistryEntry(kind="asterisk", address="10.0.0.5", port=5038, login="cti", secret=SecretStr("x"))
    assert AsteriskDriver.from_entry(e).capabilities == {
        C.DIAL, C.HANGUP, C.BLIND_TRANSFER, C.DTMF, C.PLAY_RECORDING, C.PARK, C.PICKUP, C.LISTEN, C.WHISPER,
        C.BARGE}
    bare = AsteriskDriver.from_entry(e, parking_enabled=False, spy_enabled=False)
    assert bare.capabilities == {C.DIAL, C.HANGUP, C.BLIND_TRANSFER, C.DTMF, C.PLAY_RECORDING}
    full = AsteriskDriver.from_entry(e, atxfer_enabled=True, hold_method="notify", answer_method="notify")
    assert full.capabilities == frozenset(C)
    assert C.HOLD in AsteriskDriver.from_entry(e, hold_method="park").capabilities
    with pytest.raises(PbxError, match="hold_method 'park' needs parking_enabled"):
        AsteriskDriver.from_entry(e, hold_method="park", parking_enabled=False)
    with pytest.raises(PbxError, match="hold_method 'pause' is not one of"):
        AsteriskDriver.from_entry(e, hold_method="pause")


def test_from_entry_defaults_and_refusals() -> None:
    e = PbxRegistryEntry(kind="asterisk", address="10.0.0.5", port=5038, login="cti", secret=SecretStr("x"))
    drv = AsteriskDriver.from_entry(e)
    assert drv._client.host == "10.0.0.5" and drv._client.port == 5038 and drv._client.username == "cti"
    assert drv.dial_context == "from-internal"
    with pytest.raises(PbxError, match="login"):
        AsteriskDriver.from_entry(PbxRegistryEntry(kind="asterisk", address="10.0.0.5", port=5038))
    with pytest.raises(PbxError, match="not Asterisk"):
        AsteriskDriver.from_entry(PbxRegistryEntry(kind="simulator"))


async def test_connect_resyncs_and_snapshots(fake: FakeAmi) -> None:
    drv = make_driver(fake)
    stream = drv.events()
    await drv.connect()
    first = await next_events(stream, 2)
    assert isinstance(first[0], DriverConnected) and first[0].pbx == "Lab"
    assert isinstance(first[1], DriverResynced)
    assert [a["Action"] for a in fake.actions] == ["Login", "DeviceStateList", "ExtensionStateList",
                                                   "CoreShowChannels"]
    snap = await drv.snapshot()
    assert snap.extensions == {"1001": ExtensionState.IDLE, "1002": ExtensionState.IDLE,
                               "1003": ExtensionState.IDLE}
    assert {replace(c, started_at=None, answered_at=None) for c in snap.calls} == {
        ActiveCall(call_id=LIVE_CALL, extension="1002", direction=Direction.INTERNAL, state=CallState.ACTIVE,
                   number="1003"),
        ActiveCall(call_id=LIVE_CALL, extension="1003", direction=Direction.INTERNAL, state=CallState.ACTIVE,
                   number="1002"),
    }
    await drv.close()
    assert actions(fake, "Logoff")
    with pytest.raises(NotConnected):
        await drv.snapshot()
    assert [e async for e in stream] == []  # the stream ends on close


async def test_resync_gives_calls_their_start_and_hint_states(fake: FakeAmi) -> None:
    """ExtensionStateList comes after DeviceStateList (hints know "on hold"); calls under way get
    their start from CoreShowChannel `Duration` (00:00:02 in the recording) and, being Up in a
    bridge, an answer time (best estimate: when the call's latest Up channel was created)."""
    fake.list_replies["ExtensionStateList"] = list_reply(fixture("ami-extension-state.txt"), "lab-23")  # 1002 held
    drv = make_driver(fake)
    before = datetime.now(UTC)
    await drv.connect()
    after = datetime.now(UTC)
    try:
        snap = await drv.snapshot()
        assert snap.extensions == {"1001": ExtensionState.IDLE, "1002": ExtensionState.ON_HOLD,
                                   "1003": ExtensionState.IN_CALL}
        assert len(snap.calls) == 2
        for call in snap.calls:
            assert call.started_at is not None and call.answered_at is not None
            assert before - timedelta(seconds=2) <= call.started_at <= after - timedelta(seconds=2)
            assert call.started_at <= call.answered_at <= after
        # the gateway takes the snapshot as truth: the record of a call that was under way keeps its start
        state = PbxState()
        state.reset(snap)
        stream = drv.events()
        await next_events(stream, 2)
        await fake.send(b"Event: Hangup\r\nChannel: PJSIP/1003-0000001c\r\nUniqueid: 1795647001.30\r\n"
                        b"Linkedid: 1795647001.29\r\nCause: 16\r\n\r\n")
        (ended,) = await next_events(stream, 1)
        record = state.apply(ended)
        assert record is not None and record.extension == "1003"
        assert before - timedelta(seconds=2) <= record.started_at <= after - timedelta(seconds=2)
        assert record.answered_at is not None and record.talk_seconds >= 0 and not record.missed
        assert (record.ended_at - record.started_at).total_seconds() >= 2
    finally:
        await drv.close()


async def test_login_failure_is_clear(fake: FakeAmi) -> None:
    drv = make_driver(fake, secret="wrong")
    with pytest.raises(AmiLoginFailed, match="Authentication failed"):
        await drv.connect()
    with pytest.raises(NotConnected):
        await drv.dial("1001", "1002")
    await drv.close()


async def test_connect_refused_is_not_connected(fake: FakeAmi) -> None:
    port = fake.port
    await fake.stop()
    drv = AsteriskDriver("127.0.0.1", port, "ctiuser", SecretStr(SECRET), ping_interval=0, connect_timeout=1.0)
    with pytest.raises(AmiConnectError, match="cannot connect"):
        await drv.connect()
    await drv.close()


# ---- live events -----------------------------------------------------------------------------

async def test_recording_is_mapped_through_events(fake: FakeAmi, driver: AsteriskDriver) -> None:
    body = recording_body("ami-inbound-answered.txt")
    expected = [e for e in AmiMapper().feed_all(PacketReader(expect_banner=False).feed(body))
                if isinstance(e, CallEvent)]
    assert len(expected) >= 3
    stream = driver.events()
    await next_events(stream, 2)  # connected, resynced
    await fake.send(body, seed=7)
    got: list[PbxEvent] = []
    while len([e for e in got if isinstance(e, CallEvent)]) < len(expected):
        got.append(await asyncio.wait_for(anext(stream), 2.0))
    def shape(events: list[PbxEvent]) -> list[dict]:  # without `at`: the recording has no timestamps
        return [{k: v for k, v in e.to_dict().items() if k != "at"} for e in events if isinstance(e, CallEvent)]
    assert shape(got) == shape(expected)


@pytest.mark.parametrize("name", [n for n in fixture_names() if n != "ami-login-failed.txt"])
async def test_every_recording_through_the_driver(fake: FakeAmi, name: str) -> None:
    """Each recorded stream, split at random byte boundaries, to a driver with nothing under way:
    the same call events as the mapper gives for the whole stream at once, and nothing left open."""
    fake.list_replies["CoreShowChannels"] = [EMPTY_CHANNELS]  # (g)'s call is in the stream itself
    body = recording_body(name)
    expected = [e for e in AmiMapper().feed_all(PacketReader(expect_banner=False).feed(body))
                if isinstance(e, CallEvent)]
    drv = make_driver(fake)
    stream = drv.events()
    await drv.connect()
    try:
        await next_events(stream, 2)
        await fake.send(body, seed=zlib.crc32(name.encode()))  # a fixed split per recording
        got: list[PbxEvent] = []
        while len([e for e in got if isinstance(e, CallEvent)]) < len(expected):
            got.append(await asyncio.wait_for(anext(stream), 2.0))
        def shape(events: list[PbxEvent]) -> list[dict]:
            return [{k: v for k, v in e.to_dict().items() if k != "at"} for e in events if isinstance(e, CallEvent)]
        assert shape(got) == shape(expected)
        for _ in range(200):  # the trailing events (Cdr, states) are mapped too
            if drv._client.queued_events == 0 and not drv._mapper.channels:
                break
            await asyncio.sleep(0.01)
        assert (await drv.snapshot()).calls == () and drv.bad_packets == 0
    finally:
        await drv.close()


async def test_live_hangup_updates_snapshot(fake: FakeAmi, driver: AsteriskDriver) -> None:
    stream = driver.events()
    await next_events(stream, 2)
    await fake.send(b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/1003-0000001c\r\n"
                    b"Uniqueid: 1795647001.30\r\nLinkedid: 1795647001.29\r\nCause: 16\r\n\r\n")
    (ended,) = await next_events(stream, 1)
    assert isinstance(ended, CallEnded) and ended.extension == "1003" and ended.call_id == LIVE_CALL
    assert ended.disposition is Disposition.ANSWERED
    snap = await driver.snapshot()
    assert [(c.extension, c.call_id) for c in snap.calls] == [("1002", LIVE_CALL)]


async def test_unread_backlog_becomes_a_resync(fake: FakeAmi) -> None:
    drv = make_driver(fake, event_backlog=3)
    await drv.connect()
    body = recording_body("ami-inbound-answered.txt")
    n = len([p for p in PacketReader(expect_banner=False).feed(body) if "Event" in p])
    await fake.send(body)
    for _ in range(200):
        if drv._client.events_received >= n and drv._client.queued_events == 0:
            break
        await asyncio.sleep(0.01)
    await drv.close()
    got = [e async for e in drv.events()]
    assert len(got) <= 4
    assert isinstance(got[0], DriverDisconnected) and "not read in time" in got[0].reason
    assert isinstance(got[1], DriverConnected) and isinstance(got[2], DriverResynced)


# ---- commands --------------------------------------------------------------------------------

async def test_dial_sends_one_originate(fake: FakeAmi, driver: AsteriskDriver) -> None:
    call_id = await driver.dial("1001", "011987654321")
    (orig,) = actions(fake, "Originate")
    assert orig["Channel"] == "PJSIP/1001" and orig["Context"] == "from-internal"
    assert orig["Exten"] == "011987654321" and orig["Priority"] == "1" and orig["Async"] == "true"
    assert orig["ChannelId"] == call_id and call_id
    assert orig["Timeout"] == "30000"
    # the agent's phone, rung first, shows whom it calls; the caller id number stays the extension's
    assert orig["CallerID"] == '"011987654321" <1001>'
    second = await driver.dial("1001", "1002")
    assert second != call_id and len(actions(fake, "Originate")) == 2


async def test_dial_refused_and_bad_input(fake: FakeAmi, driver: AsteriskDriver) -> None:
    del fake.responses["Originate"]
    with pytest.raises(PbxError, match="refused to call 1002 from 1001: Invalid/unknown command"):
        await driver.dial("1001", "1002")
    n = len(fake.actions)
    with pytest.raises(PbxError, match="not a number"):
        await driver.dial("1001", "12\r\nAction: Hangup")
    with pytest.raises(PbxError, match="not an extension"):
        await driver.dial("PJSIP/1001", "1002")
    assert len(fake.actions) == n  # nothing sent


async def test_hangup_uses_the_extensions_channel(fake: FakeAmi, driver: AsteriskDriver) -> None:
    await driver.hangup("1003", LIVE_CALL)
    (hangup,) = actions(fake, "Hangup")
    assert hangup["Channel"] == "PJSIP/1003-0000001c"
    with pytest.raises(PbxError, match="call nope is not under way at extension 1001"):
        await driver.hangup("1001", "nope")
    with pytest.raises(PbxError, match="call 1795647001.29 is not under way at extension 1001"):
        await driver.hangup("1001", LIVE_CALL)
    assert len(actions(fake, "Hangup")) == 1


async def test_blind_transfer(fake: FakeAmi, driver: AsteriskDriver) -> None:
    await driver.blind_transfer("1002", LIVE_CALL, "1001")
    (xfer,) = actions(fake, "BlindTransfer")
    assert xfer["Channel"] == "PJSIP/1002-0000001b" and xfer["Context"] == "from-internal"
    assert xfer["Exten"] == "1001"
    del fake.responses["BlindTransfer"]
    with pytest.raises(PbxError, match="refused to transfer"):
        await driver.blind_transfer("1002", LIVE_CALL, "1001")


async def test_unsupported_names_asterisk(driver: AsteriskDriver) -> None:
    with pytest.raises(Unsupported, match="hold is not supported by Asterisk"):
        await driver.hold("1002", LIVE_CALL)
    with pytest.raises(Unsupported, match="attended transfer is not supported by Asterisk"):
        await driver.consult("1002", LIVE_CALL, "1001")
    with pytest.raises(Unsupported, match="answer is not supported by Asterisk"):
        await driver.answer("1002", LIVE_CALL)


# ---- reconnect -------------------------------------------------------------------------------

async def test_restart_reconnects_and_resyncs_without_replaying(fake: FakeAmi, driver: AsteriskDriver) -> None:
    stream = driver.events()
    await next_events(stream, 2)
    await driver.dial("1001", "011987654321")
    fake.restart()
    got = await until(stream, DriverResynced)
    kinds = [type(e) for e in got]
    assert kinds[-3:] == [DriverDisconnected, DriverConnected, DriverResynced]
    assert got[-3].reason  # e.g. "connection closed by the server"
    assert len(fake.logins) == 2 and driver.reconnects == 1
    assert len(actions(fake, "Originate")) == 1  # never re-sent
    assert len(actions(fake, "CoreShowChannels")) == 2
    assert (await driver.snapshot()).extensions["1001"] is ExtensionState.IDLE
    await driver.dial("1001", "1002")  # works again
    assert len(actions(fake, "Originate")) == 2


async def test_outage_refuses_commands_and_backs_off(fake: FakeAmi, driver: AsteriskDriver) -> None:
    stream = driver.events()
    await next_events(stream, 2)
    fake.secret = "changed"  # logins fail until it is put back
    fake.restart()
    (lost,) = await next_events(stream, 1)
    assert isinstance(lost, DriverDisconnected)
    for _ in range(200):  # a few failed attempts
        if len(fake.logins) >= 4:
            break
        await asyncio.sleep(0.01)
    assert len(fake.logins) >= 4
    with pytest.raises(NotConnected, match="not connected"):
        await driver.dial("1001", "1002")
    with pytest.raises(NotConnected):
        await driver.snapshot()
    assert actions(fake, "Originate") == []
    fake.secret = SECRET
    got = await until(stream, DriverResynced)
    assert [type(e) for e in got] == [DriverConnected, DriverResynced]
    await driver.hangup("1002", LIVE_CALL)
    assert len(actions(fake, "Hangup")) == 1


# ---- the command line: `tui-caa pbx check` / `pbx events --json` against the fake manager -------------

@pytest.fixture
def threaded_fake() -> Iterator[FakeAmi]:
    """The fake manager on its own event loop and thread: `tui-caa` runs its own asyncio.run."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(FakeAmi(secret=SECRET).start(), loop).result(5)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def cli_pbx(fake: FakeAmi, *args: str) -> list[str]:
    return [*args, "--pbx", "asterisk", "--host", "127.0.0.1", "--port", str(fake.port), "--user", "ctiuser",
            "--secret", SECRET]


def test_cli_pbx_check(threaded_fake: FakeAmi, demo_database, capsys: pytest.CaptureFixture[str]) -> None:
    from tui_caa.cli import main

    assert main(cli_pbx(threaded_fake, "pbx", "check")) == 0
    out = capsys.readouterr().out
    assert "OK: connected to Asterisk (127.0.0.1:" in out and "3 extensions, 2 calls under way" in out
    assert "capabilities: barge, blind_transfer, dial, dtmf, hangup, listen, park, pickup, play_recording, whisper" in out
    assert SECRET not in out


def test_cli_pbx_events_json_for_a_replayed_call(threaded_fake: FakeAmi, demo_database,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from tui_caa.cli import main

    threaded_fake.replay = fixture("ami-inbound-answered.txt")
    threaded_fake.replay_after = "CoreShowChannels"  # the recorded call, once the driver has resynced
    threaded_fake.replay_seed = 5
    assert main(cli_pbx(threaded_fake, "pbx", "events", "--json", "--count", "8")) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    keys = ["type", "extension", "call_id", "direction", "number", "ddr", "state", "disposition", "at"]
    assert all(list(row)[:len(keys)] == keys for row in rows)
    assert [r["type"] for r in rows[:2]] == ["driver_connected", "driver_resynced"]
    calls = [{k: r[k] for k in ("type", "extension", "call_id", "direction", "number", "ddr", "state", "disposition")}
             for r in rows if r["type"].startswith("call_")]
    common = {"extension": "1001", "call_id": "1795646870.0", "direction": "in", "number": "5133334444",
              "ddr": "5121010001"}
    assert calls == [
        {"type": "call_ringing", **common, "state": "ringing", "disposition": None},
        {"type": "call_answered", **common, "state": "active", "disposition": None},
        {"type": "call_ended", **common, "state": "ended", "disposition": "answered"},
    ]
    assert rows[-1]["recording_ref"].endswith("-1795646870.0.wav")
    states = [r["state"] for r in rows if r["type"] == "extension_state" and r["extension"] == "1001"]
    assert states == ["ringing", "in_call", "idle"]
