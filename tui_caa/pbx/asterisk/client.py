"""An asyncio AMI client: one TCP session, actions correlated by ActionID, events never blocked.

What it does and why (see reference/pbx-protocols.md §2–3 for the defects of the existing libraries):
- the reader task only frames, routes and enqueues: it never awaits a consumer, because Asterisk
  drops a client that reads slower than its `writetimeout` (100 ms by default);
- every action gets its own ActionID and future with a timeout; list actions (`EventList: start` …
  `…Complete`) are collected into one `ListResult`;
- a `Ping` every `ping_interval` must be answered within `ping_timeout`, otherwise the connection is
  declared dead (a half-open TCP connection otherwise looks like a quiet PBX forever);
- nothing is re-sent or reconnected here: the caller (the driver) owns that policy, so an
  `Originate` can never be replayed behind its back. It learns about a loss through
  `connection_lost`, `lost_reason` and `events()` raising `AmiConnectionLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from pydantic import SecretStr

from tui_caa.pbx.asterisk.errors import (
    AmiActionError,
    AmiActionTimeout,
    AmiConnectError,
    AmiConnectionLost,
    AmiLoginFailed,
    ProtocolError,
)
from tui_caa.pbx.asterisk.packets import DEFAULT_MAX_PACKET_SIZE, Packet, PacketReader, encode_action

log = logging.getLogger(__name__)

_READ_SIZE = 1 << 16
_QUEUE_WARN_STEPS = (1_000, 10_000, 100_000, 1_000_000)  # log when the backlog crosses one of these
_CLOSED = object()  # end-of-stream marker in the event queue


@dataclass(slots=True)
class ListResult:
    """A list action's reply: the first response (`EventList: start`) and the item events."""

    response: Packet
    items: list[Packet] = field(default_factory=list)
    complete: Packet | None = None  # the `…Complete` event (carries ListItems)


@dataclass(slots=True)
class _Pending:
    name: str
    future: asyncio.Future
    collect: bool = False  # a list action: keep the items until the Complete event
    result: ListResult | None = None


class AmiClient:
    """One AMI session. `await connect()`, then `send_action`, `send_list_action`, `command`, `events()`.

    `connect()` may be called again after the connection was lost (a fresh session each time).
    Events go either to `on_event` (a plain callback, called from the reader: it must not block) or,
    by default, to an unbounded queue read with `events()` (or `event_batches()`) whose backlog is
    logged as it grows (`queued_events`, `queue_high_water`).
    """

    def __init__(self, host: str, port: int, username: str, secret: SecretStr, *, use_md5: bool = False,
                 connect_timeout: float = 5.0, action_timeout: float = 10.0, ping_interval: float = 20.0,
                 ping_timeout: float = 5.0, events: bool = True, max_packet_size: int = DEFAULT_MAX_PACKET_SIZE,
                 on_event: Callable[[Packet], None] | None = None,
                 skip_event: Callable[[str], bool] | None = None) -> None:
        if not isinstance(secret, SecretStr):
            raise TypeError("secret must be a pydantic SecretStr")  # keeps it out of reprs and logs
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self.use_md5 = use_md5
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.want_events = events
        self.max_packet_size = max_packet_size
        self.on_event = on_event
        self.skip_event = skip_event  # drops events nobody reads before they are parsed (PacketReader)
        # public state and counters
        self.banner: str | None = None
        self.connected = False
        self.connection_lost = asyncio.Event()
        self.lost_reason: str | None = None
        self.events_received = 0
        self.bad_packets = 0  # over the life of this object, all sessions
        self.unmatched_responses = 0  # responses whose ActionID we were not waiting for (late, after timeout)
        self.queue_high_water = 0
        self._ids = itertools.count(1)
        self._id_prefix = f"caa-{id(self) & 0xFFFF:04x}"
        self._pending: dict[str, _Pending] = {}
        self._queue: asyncio.Queue = asyncio.Queue()  # lists of events, then _CLOSED
        self._queued = 0
        self._warn_step = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task] = []
        self._closing = False

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<AmiClient {self.username}@{self.host}:{self.port} {state}>"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # ---- connection -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the TCP session, read the banner, log in. Raises AmiConnectError / AmiLoginFailed."""
        if self.connected:
            raise RuntimeError("already connected")
        self._reset()
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.connect_timeout)
        except TimeoutError:
            raise AmiConnectError(f"AMI at {self.address}: no TCP connection within {self.connect_timeout:g} s") from None
        except OSError as exc:
            raise AmiConnectError(f"AMI at {self.address}: cannot connect ({exc.strerror or exc})") from None
        parser = PacketReader(max_packet_size=self.max_packet_size, on_error=self._bad_packet,
                              skip_event=self.skip_event)
        try:
            first = await asyncio.wait_for(self._read_banner(parser), self.connect_timeout)
        except TimeoutError:
            self._abort()
            raise AmiConnectError(f"AMI at {self.address}: no banner within {self.connect_timeout:g} s "
                                  "(is this an Asterisk manager port?)") from None
        except (OSError, EOFError) as exc:
            self._abort()
            raise AmiConnectError(f"AMI at {self.address}: connection closed before the banner ({exc})") from None
        self.banner = parser.banner
        self.connected = True
        self._tasks = [asyncio.create_task(self._read_loop(parser, first), name=f"ami-reader {self.address}")]
        try:
            await self._login()
        except (AmiActionTimeout, AmiConnectionLost) as exc:
            await self._shutdown("login failed")
            raise AmiConnectError(f"AMI at {self.address}: login did not complete ({exc})") from None
        except BaseException:
            await self._shutdown("login failed")
            raise
        if self.ping_interval > 0:
            self._tasks.append(asyncio.create_task(self._ping_loop(), name=f"ami-ping {self.address}"))
        log.info("AMI connected to %s (%s) as %s", self.address, self.banner, self.username)

    def _reset(self) -> None:
        self.connection_lost.clear()  # the same Event object for the life of the client: callers may hold it
        self.lost_reason = None
        self._closing = False
        self._pending.clear()
        self._queue = asyncio.Queue()
        self._queued = 0
        self._warn_step = 0

    async def _read_banner(self, parser: PacketReader) -> list[Packet]:
        assert self._reader is not None
        while parser.banner is None:
            data = await self._reader.read(_READ_SIZE)
            if not data:
                raise EOFError("EOF")
            packets = parser.feed(data)
            if parser.banner is None and (packets or parser.pending > 1024):
                raise EOFError("the server did not send an AMI banner")
        return packets  # packets that came in the same read as the banner

    async def _login(self) -> None:
        secret = self._secret.get_secret_value()
        events = "on" if self.want_events else "off"
        if self.use_md5:
            challenge = await self.send_action("Challenge", AuthType="MD5")
            if challenge.get("Response") != "Success" or "Challenge" not in challenge:
                raise AmiLoginFailed(f"AMI at {self.address}: MD5 challenge refused: {challenge.get('Message', '?')}")
            key = hashlib.md5((challenge["Challenge"] + secret).encode()).hexdigest()
            reply = await self.send_action("Login", AuthType="MD5", Username=self.username, Key=key, Events=events)
        else:
            reply = await self.send_action("Login", Username=self.username, Secret=secret, Events=events)
        if reply.get("Response") != "Success":
            message = reply.get("Message") or reply.get("Response") or "no message"
            raise AmiLoginFailed(f"AMI login as {self.username!r} at {self.address} refused: {message}")

    async def close(self) -> None:
        """Log off (politely, briefly) and close. `events()` then ends without an error."""
        if not self.connected:
            return
        self._closing = True
        if not self.connection_lost.is_set():
            with contextlib.suppress(Exception):
                await self.send_action("Logoff", timeout=min(self.action_timeout, 2.0))
        await self._shutdown("closed by the client")

    # ---- actions ----------------------------------------------------------------------------

    def _next_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    async def send_action(self, name: str, *, timeout: float | None = None, check: bool = False,
                          **headers: str | int | bool | list[str]) -> Packet:
        """Send an action and return its Response packet. With check=True a `Response: Error` raises."""
        reply = await self._request(name, headers, timeout, collect=False)
        assert isinstance(reply, Packet)
        if check and reply.get("Response") == "Error":
            raise AmiActionError(f"AMI {name} failed: {reply.get('Message', 'error')}", reply)
        return reply

    async def send_list_action(self, name: str, *, timeout: float | None = None,
                               **headers: str | int | bool | list[str]) -> ListResult:
        """Send a list action (CoreShowChannels, DeviceStateList…) and collect its items.
        `timeout` covers the whole list. An error response gives a ListResult with no items."""
        result = await self._request(name, headers, timeout, collect=True)
        assert isinstance(result, ListResult)
        return result

    async def command(self, cli: str, *, timeout: float | None = None) -> list[str]:
        """Run a CLI command (Asterisk 14+: one `Output:` header per line) and return the lines."""
        reply = await self.send_action("Command", timeout=timeout, Command=cli)
        if reply.get("Response") != "Success":
            # Asterisk puts the reason ("No such command …") in Output, not in Message
            detail = " / ".join(line for line in reply.all("Output") if line) or reply.get("Message", "error")
            raise AmiActionError(f"AMI Command {cli!r} failed: {detail}", reply)
        return reply.all("Output")

    async def _request(self, name: str, headers: dict, timeout: float | None, *, collect: bool) -> Packet | ListResult:
        if not self.connected or self._writer is None or self.connection_lost.is_set():
            raise AmiConnectionLost(self.lost_reason or f"AMI at {self.address}: not connected")
        action_id = self._next_id()
        data = encode_action(name, action_id, headers)  # raises ValueError on header injection
        future = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(name, future, collect)
        try:
            self._writer.write(data)
            log.debug("AMI -> %s (ActionID %s)", name, action_id)  # never the headers: Login has the secret
            return await asyncio.wait_for(future, timeout or self.action_timeout)
        except TimeoutError:
            raise AmiActionTimeout(f"AMI {name} (ActionID {action_id}) got no response within "
                                   f"{timeout or self.action_timeout:g} s") from None
        finally:
            self._pending.pop(action_id, None)
            if not future.done():
                future.cancel()

    # ---- events -----------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Packet]:
        """Events in arrival order (one consumer). Ends quietly after close(); raises
        AmiConnectionLost(reason) when the connection dies."""
        async for batch in self.event_batches():
            for packet in batch:
                yield packet

    async def event_batches(self) -> AsyncIterator[list[Packet]]:
        """Like events(), a list at a time (all the events of one TCP read): cheaper per event."""
        while True:
            batch = await self._queue.get()
            if batch is _CLOSED:
                self._queue.put_nowait(_CLOSED)  # a second iterator ends too
                if self._closing:
                    return
                raise AmiConnectionLost(self.lost_reason or "connection lost")
            self._queued -= len(batch)
            yield batch

    @property
    def queued_events(self) -> int:
        """Events received but not yet taken by events() / event_batches()."""
        return self._queued

    # ---- reader and keep-alive --------------------------------------------------------------

    async def _read_loop(self, parser: PacketReader, first: list[Packet]) -> None:
        assert self._reader is not None
        reason = "connection closed by the server"
        try:
            self._dispatch(first)
            read = self._reader.read
            while True:
                data = await read(_READ_SIZE)
                if not data:
                    break
                self._dispatch(parser.feed(data))
        except asyncio.CancelledError:
            raise
        except OSError as exc:
            reason = f"connection error: {exc.strerror or exc}"
        except Exception as exc:  # a bug here must still end the session visibly, not hang it
            log.exception("AMI reader failed")
            reason = f"reader failed: {exc!r}"
        if parser.pending:
            reason += f" mid-packet ({parser.pending} bytes of an incomplete packet discarded)"
        self._lose(reason)

    def _dispatch(self, packets: list[Packet]) -> None:
        pending = self._pending
        batch: list[Packet] = []
        for packet in packets:
            action_id = packet.get("ActionID")
            if "Event" in packet:
                if action_id is not None and pending:
                    p = pending.get(action_id)
                    if p is not None and p.result is not None:  # an item (or the end) of a list we collect
                        if packet.get("EventList") == "Complete" or (
                                packet["Event"].endswith("Complete") and "EventList" not in packet):
                            p.result.complete = packet
                            if not p.future.done():
                                p.future.set_result(p.result)
                        else:
                            p.result.items.append(packet)
                        continue
                batch.append(packet)
            elif action_id is not None:
                p = pending.get(action_id)
                if p is None or p.future.done():
                    self.unmatched_responses += 1
                    log.debug("AMI response for unknown ActionID %s dropped", action_id)
                elif p.collect:
                    if packet.get("EventList") == "start":
                        p.result = ListResult(packet)  # items follow
                    else:
                        p.future.set_result(ListResult(packet))  # error, or a list-less reply
                else:
                    p.future.set_result(packet)
            else:
                self.unmatched_responses += 1
        if batch:
            self.events_received += len(batch)
            self._deliver(batch)

    def _deliver(self, batch: list[Packet]) -> None:
        if self.on_event is not None:
            for packet in batch:
                try:
                    self.on_event(packet)
                except Exception:  # a consumer bug must not kill the session
                    log.exception("AMI on_event callback failed")
            return
        # one queue item per TCP read, not per event: the per-item cost of asyncio.Queue matters at 100k+/s
        self._queue.put_nowait(batch)
        self._queued += len(batch)
        size = self._queued
        if size > self.queue_high_water:
            self.queue_high_water = size
            if self._warn_step < len(_QUEUE_WARN_STEPS) and size >= _QUEUE_WARN_STEPS[self._warn_step]:
                self._warn_step += 1
                log.warning("AMI event backlog at %s: %d events waiting (consumer too slow)", self.address, size)

    def _bad_packet(self, exc: ProtocolError) -> None:
        self.bad_packets += 1

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            if self.connection_lost.is_set():
                return
            try:
                await self.send_action("Ping", timeout=self.ping_timeout)
            except AmiActionTimeout:
                self._lose(f"no reply to Ping within {self.ping_timeout:g} s (half-open connection?)")
                return
            except AmiConnectionLost:
                return

    # ---- ending -----------------------------------------------------------------------------

    def _lose(self, reason: str) -> None:
        """The session is over: fail waiting actions, end the event stream, close the socket."""
        if self.connection_lost.is_set():
            return
        if self._closing and reason == "connection closed by the server":
            reason = "closed by the client"  # the server's close after our Logoff is expected
        self.lost_reason = reason
        self.connected = False
        self.connection_lost.set()
        if not self._closing:
            log.warning("AMI connection to %s lost: %s", self.address, reason)
        for p in list(self._pending.values()):
            if not p.future.done():
                p.future.set_exception(AmiConnectionLost(reason))
                p.future.exception()  # mark retrieved: nobody may be awaiting it any more
        self._queue.put_nowait(_CLOSED)
        self._abort()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current and not task.done():
                task.cancel()

    def _abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.transport.abort()

    async def _shutdown(self, reason: str) -> None:
        self._closing = True
        self._lose(reason)
        tasks, self._tasks = self._tasks, []
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.connected = False
