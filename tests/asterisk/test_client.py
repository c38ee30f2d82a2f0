"""AmiClient over real TCP against the fake Asterisk manager."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from tests.asterisk.fake_ami import FakeAmi, fixture, fixture_names
from tui_caa.pbx.asterisk import (
    AmiActionError,
    AmiActionTimeout,
    AmiClient,
    AmiConnectError,
    AmiConnectionLost,
    AmiLoginFailed,
    Packet,
    PacketReader,
)

SECRET = "lab-secret"


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = await FakeAmi(secret=SECRET).start()
    yield server
    await server.stop()


def make_client(fake: FakeAmi, **kw) -> AmiClient:
    kw.setdefault("secret", SecretStr(SECRET))
    kw.setdefault("action_timeout", 2.0)
    kw.setdefault("ping_interval", 0)  # no keep-alive unless a test wants it
    secret = kw.pop("secret")
    return AmiClient("127.0.0.1", fake.port, "ctiuser", secret, **kw)


async def next_event(client: AmiClient, name: str, timeout: float = 2.0) -> Packet:
    async def find() -> Packet:
        async for event in client.events():
            if event["Event"] == name:
                return event
        raise AssertionError(f"stream ended before {name}")
    return await asyncio.wait_for(find(), timeout)


async def drain_events(client: AmiClient, timeout: float = 10.0) -> tuple[list[Packet], AmiConnectionLost | None]:
    got: list[Packet] = []

    async def run() -> AmiConnectionLost | None:
        try:
            async for event in client.events():
                got.append(event)
        except AmiConnectionLost as exc:
            return exc
        return None
    return got, await asyncio.wait_for(run(), timeout)


# ---- login --------------------------------------------------------------------------------------

async def test_plain_login_and_fully_booted(fake: FakeAmi) -> None:
    client = make_client(fake)
    await client.connect()
    assert client.connected and client.banner == "Asterisk Call Manager/9.0.0"
    booted = await next_event(client, "FullyBooted")
    assert booted["Status"] == "Fully Booted"
    login = fake.actions[0]
    assert login["Action"] == "Login" and login["Username"] == "ctiuser" and login["Secret"] == SECRET
    assert login["Events"] == "on" and login["ActionID"]
    await client.close()
    assert fake.actions[-1]["Action"] == "Logoff" and not client.connected
    assert client.lost_reason == "closed by the client"


async def test_md5_login_sends_md5_of_challenge_and_secret(fake: FakeAmi) -> None:
    client = make_client(fake, use_md5=True, events=False)
    await client.connect()
    assert [a["Action"] for a in fake.actions] == ["Challenge", "Login"]
    assert fake.actions[0]["AuthType"] == "MD5"
    login = fake.actions[1]
    assert login["AuthType"] == "MD5" and "Secret" not in login and login["Events"] == "off"
    assert login["Key"] == hashlib.md5((fake.challenge + SECRET).encode()).hexdigest()
    await client.close()


@pytest.mark.parametrize("use_md5", [False, True])
async def test_login_failure_gives_asterisks_message(fake: FakeAmi, use_md5: bool) -> None:
    client = make_client(fake, secret=SecretStr("wrong-secret"), use_md5=use_md5)
    with pytest.raises(AmiLoginFailed, match="Authentication failed") as err:
        await client.connect()
    assert "127.0.0.1" in str(err.value) and "wrong-secret" not in str(err.value)
    assert not client.connected


async def test_connection_refused_names_host_and_port() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = AmiClient("127.0.0.1", port, "ctiuser", SecretStr("x"), connect_timeout=1.0)
    with pytest.raises(AmiConnectError, match=f"127.0.0.1:{port}"):
        await client.connect()


async def test_no_banner_times_out_with_a_clear_error() -> None:
    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # never greet; the client gives up and closes
        except ConnectionError:
            pass
        finally:
            writer.close()
            done.set()
    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = AmiClient("127.0.0.1", port, "u", SecretStr("x"), connect_timeout=0.1)
        with pytest.raises(AmiConnectError, match=f"127.0.0.1:{port}.*banner"):
            await client.connect()
        await asyncio.wait_for(done.wait(), 1)
    finally:
        server.close()
        await server.wait_closed()


async def test_unanswered_login_is_a_connect_error(fake: FakeAmi) -> None:
    fake.ignore_actions.add("Login")
    client = make_client(fake, action_timeout=0.05)
    with pytest.raises(AmiConnectError, match=r"127\.0\.0\.1:\d+: login did not complete .*Login"):
        await client.connect()
    assert not client.connected


def test_secret_never_in_repr_and_must_be_secretstr() -> None:
    client = AmiClient("pbx", 5038, "ctiuser", SecretStr("hunter2"))
    assert "hunter2" not in repr(client) and "hunter2" not in str(vars(client))
    with pytest.raises(TypeError):
        AmiClient("pbx", 5038, "ctiuser", "hunter2")  # type: ignore[arg-type]


async def test_secret_not_logged(fake: FakeAmi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="tui_caa.pbx.asterisk")
    client = make_client(fake)
    await client.connect()
    await client.close()
    assert SECRET not in caplog.text and "AMI -> Login" in caplog.text


# ---- actions ------------------------------------------------------------------------------------

async def test_concurrent_actions_are_correlated(fake: FakeAmi) -> None:
    client = make_client(fake)
    await client.connect()
    pings = [client.send_action("Ping") for _ in range(20)]
    bad = client.send_action("NoSuchThing")
    cmd = client.command("core show version")
    *replies, bad_reply, lines = await asyncio.gather(*pings, bad, cmd)
    sent = {a["ActionID"]: a["Action"] for a in fake.actions}
    assert all(r["Ping"] == "Pong" and sent[r["ActionID"]] == "Ping" for r in replies)
    assert len({r["ActionID"] for r in replies}) == 20
    assert bad_reply["Response"] == "Error" and "Invalid/unknown command: NoSuchThing" in bad_reply["Message"]
    assert lines == [fake.commands["core show version"][0]]
    with pytest.raises(AmiActionError, match="Invalid/unknown command"):
        await client.send_action("NoSuchThing", check=True)
    await client.close()


async def test_command_output_lines(fake: FakeAmi) -> None:
    fake.commands["pjsip show contacts"] = ["", "  Contact:  <Aor/ContactUri..>", "Objects found: 3", ""]
    client = make_client(fake)
    await client.connect()
    assert await client.command("pjsip show contacts") == ["", "  Contact:  <Aor/ContactUri..>", "Objects found: 3", ""]
    with pytest.raises(AmiActionError, match="No such command 'bogus'"):
        await client.command("bogus")
    await client.close()


async def test_list_action_is_collected(fake: FakeAmi) -> None:
    client = make_client(fake)
    await client.connect()
    result = await client.send_list_action("DeviceStateList")
    assert result.response["EventList"] == "start"
    assert result.complete is not None and result.complete["Event"] == "DeviceStateListComplete"
    assert len(result.items) == int(result.complete["ListItems"]) > 0
    assert all(i["Event"] == "DeviceStateChange" for i in result.items)
    assert {"Device": "PJSIP/1001", "State": "NOT_INUSE"}.items() <= next(
        i for i in result.items if i["Device"] == "PJSIP/1001").items()
    channels, exts = await asyncio.gather(client.send_list_action("CoreShowChannels"),
                                          client.send_list_action("ExtensionStateList"))
    assert [c["Event"] for c in channels.items] == ["CoreShowChannel", "CoreShowChannel"]
    assert {e["Exten"] for e in exts.items} >= {"1001", "1002", "1003"}
    # list items are not events: only FullyBooted reached the event stream
    assert client.events_received == 1
    error = await client.send_list_action("NoSuchList")
    assert error.response["Response"] == "Error" and error.items == []
    await client.close()


async def test_action_timeout(fake: FakeAmi) -> None:
    fake.ignore_actions.add("Originate")
    client = make_client(fake)
    await client.connect()
    with pytest.raises(AmiActionTimeout, match=r"Originate .*0\.05 s"):
        await client.send_action("Originate", timeout=0.05, Channel="PJSIP/1001", Async=True)
    assert (await client.send_action("Ping"))["Ping"] == "Pong"  # the session goes on
    await client.close()


async def test_header_injection_is_refused_before_sending(fake: FakeAmi) -> None:
    client = make_client(fake)
    await client.connect()
    count = len(fake.actions)
    with pytest.raises(ValueError, match="header injection"):
        await client.send_action("Hangup", Channel="PJSIP/1001\r\nAction: Originate")
    await client.send_action("Ping")
    assert [a["Action"] for a in fake.actions[count:]] == ["Ping"]
    await client.close()


# ---- keep-alive and connection loss -------------------------------------------------------------

async def test_ping_keepalive_detects_a_silent_server(fake: FakeAmi) -> None:
    client = make_client(fake, ping_interval=0.05, ping_timeout=0.1)
    await client.connect()
    await asyncio.wait_for(next_event(client, "FullyBooted"), 1)
    # healthy: pings are answered and the connection stays up
    while sum(a["Action"] == "Ping" for a in fake.actions) < 2:
        await asyncio.sleep(0.01)
    assert client.connected
    fake.answer_pings = False
    start = time.monotonic()
    await asyncio.wait_for(client.connection_lost.wait(), 1.0)
    assert time.monotonic() - start <= 0.05 + 0.1 + 0.1  # interval + timeout + scheduling slack
    assert "Ping" in client.lost_reason and "half-open" in client.lost_reason
    _, lost = await drain_events(client, 1)
    assert lost is not None and "Ping" in lost.reason
    with pytest.raises(AmiConnectionLost):
        await client.send_action("Ping")


async def test_cut_mid_packet_ends_the_stream_with_a_reason(fake: FakeAmi) -> None:
    fake.ignore_actions.add("Originate")  # an action still waiting when the connection dies
    client = make_client(fake)
    await client.connect()
    pending = asyncio.create_task(client.send_action("Originate", Channel="x"))
    while fake.actions[-1]["Action"] != "Originate":
        await asyncio.sleep(0.01)
    await fake.send_and_cut(b"Event: Newchannel\r\nChannel: PJSIP/10")
    events, lost = await drain_events(client, 2)
    assert [e["Event"] for e in events] == ["FullyBooted"]
    assert lost is not None and "mid-packet" in lost.reason and "closed by the server" in lost.reason
    with pytest.raises(AmiConnectionLost):
        await pending  # waiting actions fail at once, they do not wait for their timeout


async def test_garbage_and_oversized_packets_are_counted_and_skipped(fake: FakeAmi) -> None:
    client = make_client(fake, max_packet_size=4096)
    await client.connect()
    big = b"Event: Huge\r\n" + b"".join(b"Line%d: %s\r\n" % (i, b"x" * 100) for i in range(100)) + b"\r\n"
    await fake.send(b"\x00\x01\xfe garbage!!\r\n\r\n" + big + b"Event: After\r\nN: 1\r\n\r\n", seed=7)
    after = await next_event(client, "After")
    assert after["N"] == "1" and client.bad_packets == 2
    assert (await client.send_action("Ping"))["Ping"] == "Pong"
    await client.close()


async def test_utf8_name_split_mid_character_over_tcp(fake: FakeAmi) -> None:
    client = make_client(fake)
    await client.connect()
    raw = ("Event: Newchannel\r\nChannel: PJSIP/pstn-00000099\r\nCallerIDNum: 5133334444\r\n"
           "CallerIDName: João da Conceição\r\n\r\n").encode()
    inside_a = raw.index("ã".encode()) + 1
    inside_c = raw.index("ç".encode()) + 1
    await fake.send(raw, cuts=[inside_a, inside_c])
    latin1 = "Event: Newchannel\r\nCallerIDName: Conceição Latin\r\n\r\n".encode("latin-1")
    await fake.send(latin1, cuts=[len(latin1) - 10])
    names = []
    async for event in client.events():
        if event["Event"] == "Newchannel":
            names.append(event["CallerIDName"])
            if len(names) == 2:
                break
    assert names == ["João da Conceição", "Conceição Latin"] and client.bad_packets == 0
    await client.close()


@pytest.mark.parametrize("name", [n for n in fixture_names() if n != "ami-login-failed.txt"])
@pytest.mark.parametrize("seed", [11, 12])
async def test_random_split_replay_over_tcp_matches_whole_parse(fake: FakeAmi, name: str, seed: int) -> None:
    data = fixture(name)
    expected = [p for p in PacketReader().feed(data) if p.kind == "event"]
    fake.replay, fake.replay_seed = data, seed
    client = make_client(fake)
    await client.connect()
    events, lost = await drain_events(client)
    assert events == expected
    assert client.events_received == len(expected) and client.bad_packets == 0
    assert lost is not None and lost.reason == "connection closed by the server"
    # the recorded responses to the lab's own actions (lab-2…, Goodbye) match nothing of ours
    assert client.unmatched_responses == sum(1 for p in PacketReader().feed(data)[1:] if p.kind == "response")


async def test_restart_then_reconnect_gets_a_fresh_session(fake: FakeAmi) -> None:
    client = make_client(fake)
    await client.connect()
    await next_event(client, "FullyBooted")
    fake.restart()
    _, lost = await drain_events(client, 2)
    assert lost is not None and client.connection_lost.is_set() and not client.connected
    await client.connect()  # reconnecting is the caller's policy; the same object can do it
    booted = await next_event(client, "FullyBooted")
    assert booted["Uptime"] == "0" and client.connected and not client.connection_lost.is_set()
    assert (await client.send_action("Ping"))["Ping"] == "Pong"
    await client.close()


async def test_reader_never_waits_for_the_consumer(fake: FakeAmi) -> None:
    client = make_client(fake)
    await client.connect()
    burst = b"".join(b"Event: Burst\r\nN: %d\r\n\r\n" % i for i in range(5000))
    await fake.send(burst)
    # nobody reads events, yet actions are answered and every event is already queued
    assert (await client.send_action("Ping"))["Ping"] == "Pong"
    assert client.queued_events == 5001 and client.queue_high_water >= 5001  # + FullyBooted
    await client.close()
    events, lost = await drain_events(client)
    assert len(events) == 5001 and lost is None  # close() ends the stream quietly


async def test_on_event_callback_instead_of_queue(fake: FakeAmi) -> None:
    seen: list[str] = []

    def on_event(event: Packet) -> None:
        seen.append(event["Event"])
        if event["Event"] == "Boom":
            raise RuntimeError("consumer bug")

    client = make_client(fake, on_event=on_event)
    await client.connect()
    await fake.send(b"Event: Boom\r\n\r\nEvent: Next\r\n\r\n")
    assert (await client.send_action("Ping"))["Ping"] == "Pong"
    assert seen == ["FullyBooted", "Boom", "Next"] and client.connected
    await client.close()


async def test_event_batches(fake: FakeAmi) -> None:
    client = make_client(fake)
    await client.connect()
    await fake.send(b"".join(b"Event: E\r\nN: %d\r\n\r\n" % i for i in range(300)), seed=3)
    await client.send_action("Ping")  # answered after all 300 events were read
    await client.close()
    batches = [batch async for batch in client.event_batches()]
    flat = [e for batch in batches for e in batch]
    assert [e["N"] for e in flat[1:]] == [str(i) for i in range(300)] and len(batches) > 1
    assert client.queued_events == 0
