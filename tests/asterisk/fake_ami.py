"""A fake Asterisk manager: a real asyncio TCP server on 127.0.0.1 that answers like Asterisk 20 does.

Replies reuse the bytes of the real recordings in `fixtures/` (with our ActionID put in), so the
client is tested against what Asterisk really sends. Tests steer it: stop answering Ping (half-open
connection), ignore some actions, replay a recording split at random byte boundaries, send raw
bytes (garbage, oversized, split mid-character), cut the connection mid-packet, restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import re
from collections.abc import Callable
from pathlib import Path

from tui_caa.pbx.asterisk.packets import Packet, PacketReader

FIXTURES = Path(__file__).parent / "fixtures"
BANNER = b"Asterisk Call Manager/9.0.0\r\n"
TERM = b"\r\n\r\n"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_names() -> list[str]:
    return sorted(p.name for p in FIXTURES.glob("ami-*.txt"))


def split_packets(data: bytes) -> list[bytes]:
    """The raw packets of a recording (banner removed), each with its terminator."""
    body = data.split(b"\r\n", 1)[1] if data.startswith(b"Asterisk Call Manager/") else data
    return [chunk + TERM for chunk in body.split(TERM)[:-1]]


def with_action_id(raw: bytes, action_id: str) -> bytes:
    return re.sub(rb"ActionID: [^\r]*\r\n", b"ActionID: " + action_id.encode() + b"\r\n", raw)


def list_reply(recording: bytes, lab_id: str) -> list[bytes]:
    tag = f"ActionID: {lab_id}\r\n".encode()
    return [p for p in split_packets(recording) if tag in p]


_LOGIN_OK = split_packets(fixture("ami-inbound-answered.txt"))[0]  # Response: Success … Authentication accepted
_FULLY_BOOTED = split_packets(fixture("ami-inbound-answered.txt"))[1]
_LOGIN_FAILED = split_packets(fixture("ami-login-failed.txt"))[0]
_EXT_STATE = fixture("ami-extension-state.txt")
# list replies of the recorded session (see scenarios.md, "ami-extension-state.txt")
LIST_REPLIES = {
    "DeviceStateList": list_reply(_EXT_STATE, "lab-5"),
    "ExtensionStateList": list_reply(_EXT_STATE, "lab-6"),
    "CoreShowChannels": list_reply(_EXT_STATE, "lab-18"),
}
GOODBYE = b"Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n"


class FakeAmi:
    def __init__(self, *, username: str = "ctiuser", secret: str = "lab-secret", challenge: str = "840213557") -> None:
        self.username = username
        self.secret = secret
        self.challenge = challenge
        self.answer_pings = True
        self.ignore_actions: set[str] = set()
        self.commands: dict[str, list[str]] = {
            "core show version": ["Asterisk 20.20.1 built by root @ lab on a x86_64 running Linux on 2026-11-25 22:00:00 UTC"],
        }
        self.replay: bytes | None = None  # a recording to play after a successful login
        # actions to answer `Response: Success` with this Message (e.g. Originate, Hangup); unknown
        # actions otherwise get Asterisk's "Invalid/unknown command" error
        self.responses: dict[str, str] = {}
        self.list_replies = dict(LIST_REPLIES)  # a test may swap in another moment of the recording
        self.errors: dict[str, str] = {}  # actions to answer `Response: Error` with this Message
        # bytes (events) to send right after the Success response of an action, built from the action
        self.followups: dict[str, Callable[[Packet], bytes]] = {}
        self.replay_seed: int | None = None  # split the replay at random byte boundaries
        # replay the recording only after answering this action (e.g. "CoreShowChannels": after a
        # driver's resync) and keep the connection open, instead of right after the login
        self.replay_after: str | None = None
        self.actions: list[Packet] = []  # every action received, in order (Login included)
        self.logins: list[dict[str, object]] = []
        self.generation = 0  # restart() count; FullyBooted's Uptime restarts at 0
        self.replay_done = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> FakeAmi:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.drop_all()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ---- steering from tests ----------------------------------------------------------------

    @property
    def writer(self) -> asyncio.StreamWriter:
        return self._writers[-1]

    async def send(self, data: bytes, *, cuts: list[int] | None = None, seed: int | None = None) -> None:
        """Send bytes to the latest client, in pieces: at the given offsets, or at random ones."""
        await _write_pieces(self.writer, data, cuts=cuts, seed=seed)

    async def send_and_cut(self, data: bytes) -> None:
        """Send bytes (e.g. half a packet), then close the connection (FIN)."""
        writer = self.writer
        writer.write(data)
        await writer.drain()
        writer.close()

    def drop_all(self) -> None:
        """Reset every connection at once, like an Asterisk crash."""
        for writer in self._writers:
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions if a.get("Action") == action)

    def restart(self) -> None:
        """Asterisk restarts: connections dropped; the next login gets a fresh banner and FullyBooted."""
        self.drop_all()
        self.generation += 1

    # ---- the protocol -----------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        parser = PacketReader(expect_banner=False)
        try:
            writer.write(BANNER)
            while data := await reader.read(65536):
                for action in parser.feed(data):
                    self.actions.append(action)
                    await self._answer(action, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()

    async def _answer(self, action: Packet, writer: asyncio.StreamWriter) -> None:
        name = action.get("Action", "")
        aid = action.get("ActionID", "")
        if name in self.ignore_actions:
            return
        key = name.lower()
        if key == "challenge":
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nChallenge: {self.challenge}\r\n\r\n".encode())
        elif key == "login":
            await self._login(action, aid, writer)
        elif key == "ping":
            if self.answer_pings:
                writer.write(f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n"
                             f"Timestamp: 1795646870.123456\r\n\r\n".encode())
        elif key == "logoff":
            writer.write(GOODBYE.replace(b"{id}", aid.encode()))
            await writer.drain()
            writer.close()
        elif key == "command":
            cli = action.get("Command", "")
            if cli in self.commands:
                lines = "".join(f"Output: {line}\r\n" for line in self.commands[cli])
                writer.write(f"Response: Success\r\nActionID: {aid}\r\nMessage: Command output follows\r\n"
                             f"{lines}\r\n".encode())
            else:
                writer.write(f"Response: Error\r\nActionID: {aid}\r\nMessage: Command output follows\r\n"
                             f"Output: No such command '{cli}' (type 'core show help {cli}' for other possible "
                             f"commands)\r\n\r\n".encode())
        elif name in self.errors:
            writer.write(f"Response: Error\r\nActionID: {aid}\r\nMessage: {self.errors[name]}\r\n\r\n".encode())
        elif name in self.list_replies:
            writer.write(b"".join(with_action_id(p, aid) for p in self.list_replies[name]))
            if name == self.replay_after and self.replay is not None:
                await writer.drain()
                self._spawn(self._replay(writer, self.replay, self.replay_seed, close=False))
        elif name in self.responses:
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nMessage: {self.responses[name]}\r\n\r\n".encode())
            if name in self.followups:
                writer.write(self.followups[name](action))
        else:
            writer.write(f"Response: Error\r\nActionID: {aid}\r\nMessage: Invalid/unknown command: {name}. "
                         f"Use Action: ListCommands to show available commands.\r\n\r\n".encode())
        await writer.drain()

    async def _login(self, action: Packet, aid: str, writer: asyncio.StreamWriter) -> None:
        if action.get("AuthType", "").lower() == "md5":
            expected = hashlib.md5((self.challenge + self.secret).encode()).hexdigest()
            ok = action.get("Key") == expected
            self.logins.append({"auth": "md5", "key": action.get("Key", "")})
        else:
            ok = action.get("Secret") == self.secret
            self.logins.append({"auth": "plain", "at": asyncio.get_running_loop().time()})
        ok = ok and action.get("Username") == self.username
        if not ok:
            writer.write(with_action_id(_LOGIN_FAILED, aid))
            await writer.drain()
            # Asterisk closes about 1 s after the error; a shorter delay keeps the tests fast
            self._spawn(self._close_later(writer, 0.05))
            return
        writer.write(with_action_id(_LOGIN_OK, aid))
        if self.replay is not None and self.replay_after is None:
            self._spawn(self._replay(writer, self.replay, self.replay_seed))
            return
        booted = _FULLY_BOOTED
        if self.generation:
            booted = booted.replace(b"Uptime: 15", b"Uptime: 0").replace(b"LastReload: 15", b"LastReload: 0")
        writer.write(booted)

    async def _replay(self, writer: asyncio.StreamWriter, recording: bytes, seed: int | None, *,
                      close: bool = True) -> None:
        # everything after the recorded Login response, as the PBX sent it (FullyBooted … Goodbye)
        packets = split_packets(recording)[1:]
        if not close:  # the session goes on: leave out the Goodbye to the recorded Logoff
            packets = [p for p in packets if not p.startswith(b"Response: Goodbye")]
        await _write_pieces(writer, b"".join(packets), seed=seed)
        self.replay_done.set()
        if close:
            writer.close()  # Asterisk closes after Goodbye

    async def _close_later(self, writer: asyncio.StreamWriter, delay: float) -> None:
        await asyncio.sleep(delay)
        writer.close()

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _write_pieces(writer: asyncio.StreamWriter, data: bytes, *, cuts: list[int] | None = None,
                        seed: int | None = None) -> None:
    """Write data in several TCP writes; yields to the loop between them so that the client's
    reads really see these boundaries (client and server share one event loop)."""
    if cuts is None and seed is None:
        offsets = [0, len(data)]
    elif cuts is not None:
        offsets = [0, *sorted(cuts), len(data)]
    else:
        rng = random.Random(seed)
        offsets = [0]
        while offsets[-1] < len(data):
            offsets.append(min(len(data), offsets[-1] + rng.choice((1, 2, 3, rng.randint(1, 64), rng.randint(1, 1500)))))
    for start, end in zip(offsets, offsets[1:]):
        writer.write(data[start:end])
        await writer.drain()
        for _ in range(3):
            await asyncio.sleep(0)
