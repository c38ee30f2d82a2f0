"""The Asterisk driver: one `AmiClient` session, the `AmiMapper`, resync and reconnect.

- `connect()` logs in (the client's clear errors pass through), then resyncs: `DeviceStateList`
  and `CoreShowChannels` rebuild a fresh mapper, and `DriverConnected`, `DriverResynced` are emitted;
- one pump task reads the client's event batches (the client's reader never waits for it), feeds
  them through the mapper and queues the domain events for the one reader of `events()`;
- when the connection is lost: `DriverDisconnected(reason)`, then login is retried with exponential
  backoff, and after a resync `DriverConnected`, `DriverResynced`. Commands in between raise
  `NotConnected`. Nothing is ever re-sent: an `Originate` in flight when the link dies is lost
  (the caller gets the error), never replayed;
- `snapshot()` is built from the mapper's live model (what the resync found plus every event since).

Commands: dial (`Originate`, Async, with a pre-assigned `ChannelId`: the originating channel is the
call's first channel, so its Uniqueid is the call's Linkedid, which is the domain call id), hang up
(`Hangup` of the extension's channel in that call) and blind transfer (`BlindTransfer` of the
extension's channel: the parties bridged to it go to the target).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from tui_caa.domain.events import (
    ActiveCall,
    DriverConnected,
    DriverDisconnected,
    DriverResynced,
    PbxEvent,
    PbxSnapshot,
)
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import CallState, Capability, Direction
from tui_caa.pbx.asterisk.client import AmiClient
from tui_caa.pbx.asterisk.errors import AmiConnectionLost
from tui_caa.pbx.asterisk.mapping import AmiMapper, Channel, MapperConfig
from tui_caa.pbx.asterisk.packets import Packet
from tui_caa.pbx.base import NotConnected, PbxDriver, PbxError
from tui_caa.pbx.event_stream import EventStream
from tui_caa.pbx.options.asterisk import DEFAULT_CHANNEL_PATTERN, DEFAULT_DEVICE_PATTERN, DEFAULT_TRUNK_CONTEXTS

log = logging.getLogger(__name__)

DEFAULT_PORT = 5038
EVENT_BACKLOG = 100_000
_EXTENSION = re.compile(r"^\d{2,8}$")
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")


def _now() -> datetime:
    return datetime.now(UTC)


class AsteriskDriver(PbxDriver):
    kind = "asterisk"
    label = "Asterisk"
    capabilities = frozenset({Capability.DIAL, Capability.HANGUP, Capability.BLIND_TRANSFER})

    def __init__(self, host: str, port: int, username: str, secret: SecretStr, *, name: str | None = None,
                 dial_context: str = "from-internal", technology: str = "PJSIP",
                 originate_timeout_ms: int = 30_000,
                 channel_pattern: str = DEFAULT_CHANNEL_PATTERN, device_pattern: str = DEFAULT_DEVICE_PATTERN,
                 trunk_contexts: tuple[str, ...] = DEFAULT_TRUNK_CONTEXTS,
                 did_variable: str = "FROM_DID", recording_variable: str = "MIXMONITOR_FILENAME",
                 known_extensions: frozenset[str] | None = None,
                 reconnect_delay: float = 1.0, reconnect_max_delay: float = 30.0,
                 event_backlog: int = EVENT_BACKLOG, **client_options: Any) -> None:
        self.name = name or self.label
        self.dial_context = dial_context
        self.technology = technology
        self.originate_timeout_ms = originate_timeout_ms
        self.reconnect_delay = reconnect_delay
        self.reconnect_max_delay = reconnect_max_delay
        self._mapper_config = MapperConfig(channel_pattern=channel_pattern, device_pattern=device_pattern,
                                           trunk_contexts=tuple(trunk_contexts), known_extensions=known_extensions,
                                           did_variable=did_variable, recording_variable=recording_variable)
        self._mapper = AmiMapper(self._mapper_config)
        # client_options: use_md5, connect_timeout, action_timeout, ping_interval, ping_timeout
        self._client = AmiClient(host, port, username, secret, **client_options)
        self._stream = EventStream(self.name, event_backlog, _now)
        self._pump_task: asyncio.Task[None] | None = None
        self._link_up = False
        self._closed = False
        self._outage = ""
        self.reconnects = 0  # successful reconnections

    @classmethod
    def from_entry(cls, entry: PbxRegistryEntry, **options: Any) -> AsteriskDriver:
        """Options: those of `AsteriskOptions` (the `[pbx.asterisk]` table), and known_extensions,
        event_backlog; the rest (dial_context, technology, originate_timeout_ms, channel_pattern, device_pattern,
        trunk_contexts, did_variable, recording_variable, reconnect_delay, reconnect_max_delay, event_backlog, and the
        AmiClient's use_md5, connect_timeout, action_timeout, ping_interval, ping_timeout."""
        if str(getattr(entry, "kind", "")) != "asterisk":
            raise PbxError(f"registry entry '{entry.name}' is a {entry.kind} PBX, not Asterisk", field="kind")
        if not entry.address:
            raise PbxError(f"registry entry '{entry.name}' has no address for the Asterisk manager", field="address")
        if not entry.login or entry.secret is None:
            raise PbxError(f"registry entry '{entry.name}' needs the AMI user (login) and secret", field="login")
        return cls(entry.address, entry.port or DEFAULT_PORT, entry.login, entry.secret,
                   name=entry.name, **options)

    # ================================================================ the connection

    @property
    def connected(self) -> bool:
        return self._link_up

    async def connect(self) -> None:
        if self._closed:
            raise NotConnected(f"{self.name}: the driver is closed")
        if self._link_up or self._pump_task is not None:
            return
        await self._client.connect()  # AmiConnectError / AmiLoginFailed pass through as they are
        try:
            await self._resync()
        except BaseException:
            await self._client.close()
            raise
        self._link_up = True
        self._announce_up()
        self._pump_task = asyncio.get_running_loop().create_task(self._pump(), name=f"asterisk-pump {self.name}")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._link_up = False
        await self._client.close()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump_task
        self._stream.close()

    async def events(self) -> AsyncIterator[PbxEvent]:  # type: ignore[override]
        async for event in self._stream:
            yield event

    async def snapshot(self) -> PbxSnapshot:
        self._require_link()
        calls = []
        for chan in self._mapper.channels.values():
            if chan.ext is None or not chan.announced or chan.done or chan.direction is None:
                continue
            calls.append(ActiveCall(call_id=chan.linkedid, extension=chan.ext, direction=chan.direction,
                                    state=_state_of(chan), number=chan.number,
                                    ddr=self._ddr_of(chan)))
        return PbxSnapshot(at=_now(), extensions=dict(self._mapper.extension_states), calls=tuple(calls))

    def _ddr_of(self, chan: Channel) -> str | None:
        call = self._mapper.calls.get(chan.linkedid)
        return call.ddr if call is not None and chan.direction is Direction.INBOUND else None

    def _require_link(self) -> None:
        if self._closed:
            raise NotConnected(f"{self.name}: the driver is closed")
        if not self._link_up:
            raise NotConnected(f"{self.name}: not connected to the Asterisk manager"
                               + (f" ({self._outage})" if self._outage else ""))

    def _announce_up(self) -> None:
        now = _now()
        self._stream.put(DriverConnected(at=now, pbx=self.name))
        self._stream.put(DriverResynced(at=now))

    async def _resync(self) -> None:
        """A fresh mapper, filled from DeviceStateList and CoreShowChannels."""
        mapper = AmiMapper(self._mapper_config)
        devices = await self._client.send_list_action("DeviceStateList")
        for item in devices.items:
            mapper.feed(item)  # DeviceStateChange items: only the extension states matter here
        channels = await self._client.send_list_action("CoreShowChannels")
        mapper.load_active_channels(channels.items)
        self._mapper = mapper

    async def _pump(self) -> None:
        while not self._closed:
            try:
                async for batch in self._client.event_batches():
                    feed, put = self._mapper.feed, self._stream.put
                    for packet in batch:
                        for event in feed(packet):
                            put(event)
                return  # the client was closed
            except AmiConnectionLost as exc:
                if self._closed:
                    return
                self._link_up = False
                self._outage = exc.reason
                self._stream.put(DriverDisconnected(at=_now(), reason=exc.reason))
                await self._reconnect()

    async def _reconnect(self) -> None:
        delay = self.reconnect_delay
        while not self._closed:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_delay)
            try:
                await self._client.connect()
            except PbxError as exc:
                self._outage = str(exc)
                log.warning("%s: reconnect failed: %s", self.name, exc)
                continue
            try:
                await self._resync()
            except PbxError as exc:
                self._outage = f"resync failed: {exc}"
                log.warning("%s: resync after reconnect failed: %s", self.name, exc)
                await self._client.close()
                continue
            self._link_up = True
            self._outage = ""
            self.reconnects += 1
            self._announce_up()
            return

    # ================================================================ commands

    def _check_extension(self, extension: str) -> str:
        if not isinstance(extension, str) or not _EXTENSION.match(extension):
            raise PbxError(f"'{extension}' is not an extension number (2 to 8 digits)", field="extension")
        return extension

    def _channel_of(self, extension: str, call_id: str) -> Channel:
        for chan in self._mapper.channels.values():
            if chan.ext == extension and chan.linkedid == call_id:
                return chan
        raise PbxError(f"call {call_id} is not under way at extension {extension} on {self.name}",
                       field="call_id")

    async def _send(self, action: str, what: str, **headers: str | int | bool) -> Packet:
        self._require_link()
        reply = await self._client.send_action(action, **headers)
        if reply.get("Response") != "Success":
            raise PbxError(f"{self.label} refused to {what}: {reply.get('Message') or reply.get('Response') or '?'}")
        return reply

    async def _dial(self, extension: str, number: str) -> str:
        self._check_extension(extension)
        if not isinstance(number, str) or not _NUMBER.match(number):
            raise PbxError(f"'{number}' is not a number {self.label} can dial", field="number")
        self._require_link()
        channel_id = f"caa-{uuid.uuid4().hex}"  # fresh for every attempt: never re-sent
        await self._send("Originate", f"call {number} from {extension}",
                         Channel=f"{self.technology}/{extension}", Context=self.dial_context, Exten=number,
                         Priority=1, Timeout=self.originate_timeout_ms, Async=True, ChannelId=channel_id)
        return channel_id

    async def _hangup(self, extension: str, call_id: str) -> None:
        self._check_extension(extension)
        self._require_link()
        chan = self._channel_of(extension, call_id)
        await self._send("Hangup", f"hang up call {call_id} at {extension}", Channel=chan.name)

    async def _blind_transfer(self, extension: str, call_id: str, target: str) -> None:
        self._check_extension(extension)
        if not isinstance(target, str) or not _NUMBER.match(target):
            raise PbxError(f"'{target}' is not a number {self.label} can transfer to", field="target")
        self._require_link()
        chan = self._channel_of(extension, call_id)
        await self._send("BlindTransfer", f"transfer call {call_id} at {extension} to {target}",
                         Channel=chan.name, Context=self.dial_context, Exten=target)


def _state_of(chan: Channel) -> CallState:
    if chan.held:
        return CallState.HELD
    if chan.answered:
        return CallState.ACTIVE
    return CallState.RINGING if chan.dialer is not None or chan.direction is Direction.INBOUND else CallState.DIALING
