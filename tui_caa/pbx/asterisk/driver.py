"""The Asterisk driver: one `AmiClient` session, the `AmiMapper`, resync and reconnect.

- `connect()` logs in (the client's clear errors pass through), then resyncs: `DeviceStateList`,
  `ExtensionStateList` and `CoreShowChannels` rebuild a fresh mapper (calls already under way get
  their start from the channel's `Duration`), and `DriverConnected`, `DriverResynced` are emitted;
- one pump task reads the client's event batches (the client's reader never waits for it), feeds
  them through the mapper and queues the domain events for the one reader of `events()`;
- when the connection is lost: `DriverDisconnected(reason)`, then login is retried with exponential
  backoff, and after a resync `DriverConnected`, `DriverResynced`. Commands in between raise
  `NotConnected`. Nothing is ever re-sent: an `Originate` in flight when the link dies is lost
  (the caller gets the error), never replayed;
- `snapshot()` is built from the mapper's live model (what the resync found plus every event since).

Commands live in `commands.py` (which AMI action each one sends, how hold works without a Hold
action, and which options turn them on). `capabilities` is per driver: it holds a command only
when the options say the PBX can do it (atxfer code configured, a hold or answer method chosen,
res_parking and app_chanspy present). A dial's call id is the `ChannelId` given to its `Originate`:
the originating channel is the call's first channel, so its Uniqueid is the call's Linkedid.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr, ValidationError

from tui_caa.domain.events import ActiveCall, PbxEvent, PbxSnapshot
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import CallState, Capability, Direction
from tui_caa.pbx.asterisk.client import AmiClient
from tui_caa.pbx.asterisk.commands import AmiCommands
from tui_caa.pbx.asterisk.errors import AmiConnectionLost
from tui_caa.pbx.asterisk.mapping import AmiMapper, Channel, MapperConfig, event_filter
from tui_caa.pbx.asterisk.mapping.model import call_id_of
from tui_caa.pbx.asterisk.packets import DEFAULT_MAX_PACKET_SIZE
from tui_caa.pbx.base import PbxError
from tui_caa.pbx.link import EVENT_BACKLOG, PumpedDriver
from tui_caa.pbx.options.asterisk import AsteriskOptions

log = logging.getLogger(__name__)

DEFAULT_PORT = 5038
#: what every Asterisk does through core AMI
BASE_CAPABILITIES = frozenset({Capability.DIAL, Capability.HANGUP, Capability.BLIND_TRANSFER,
                               Capability.DTMF, Capability.PLAY_RECORDING})
PARKING_CAPABILITIES = frozenset({Capability.PARK, Capability.PICKUP})
SPY_CAPABILITIES = frozenset({Capability.LISTEN, Capability.WHISPER, Capability.BARGE})


def _now() -> datetime:
    return datetime.now(UTC)


class AsteriskDriver(AmiCommands, PumpedDriver):
    kind = "asterisk"
    label = "Asterisk"
    capabilities = BASE_CAPABILITIES  # each driver adds what its options make usable

    def __init__(self, host: str, port: int, username: str, secret: SecretStr, *,
                 options: AsteriskOptions | None = None, name: str | None = None,
                 known_extensions: frozenset[str] | None = None, event_backlog: int = EVENT_BACKLOG,
                 max_packet_size: int = DEFAULT_MAX_PACKET_SIZE, **settings: Any) -> None:
        """`options` is the `[pbx.asterisk]` table; `settings` change single fields of it (tests)."""
        opts = _validated(options, settings)
        super().__init__(name, event_backlog, reconnect_delay=opts.reconnect_delay,
                         reconnect_max_delay=opts.reconnect_max_delay)
        self.dial_context = opts.dial_context
        self.technology = opts.technology
        self.originate_timeout_ms = opts.originate_timeout_ms
        self.hold_method = opts.hold_method
        self.hold_park_timeout_s = opts.hold_park_timeout_s
        self.confirm_timeout_s = opts.confirm_timeout_s
        self.parking_context = opts.parking_context
        self.pickup_context = opts.pickup_context or opts.dial_context
        caps = set(BASE_CAPABILITIES)
        if opts.atxfer_enabled:
            caps.add(Capability.ATTENDED_TRANSFER)
        if opts.hold_method != "none":
            caps.add(Capability.HOLD)
        if opts.answer_method == "notify":
            caps.add(Capability.ANSWER)
        if opts.parking_enabled:
            caps |= PARKING_CAPABILITIES
        if opts.spy_enabled:
            caps |= SPY_CAPABILITIES
        self.capabilities = frozenset(caps)
        self._mapper_config = MapperConfig(channel_pattern=opts.channel_pattern, device_pattern=opts.device_pattern,
                                           trunk_contexts=opts.trunk_contexts, known_extensions=known_extensions,
                                           did_variable=opts.did_variable, recording_variable=opts.recording_variable)
        self._mapper = AmiMapper(self._mapper_config)
        self._client = AmiClient(host, port, username, secret, use_md5=opts.use_md5,
                                 connect_timeout=opts.connect_timeout, action_timeout=opts.action_timeout,
                                 ping_interval=opts.ping_interval, ping_timeout=opts.ping_timeout,
                                 max_packet_size=max_packet_size, skip_event=event_filter(self._mapper_config))
        self.action_timeout = self._client.action_timeout
        self._park_waiters: dict[str, asyncio.Future[str]] = {}  # parked channel's Uniqueid → slot

    @classmethod
    def from_entry(cls, entry: PbxRegistryEntry, **options: Any) -> AsteriskDriver:
        """Options: the fields of `AsteriskOptions` (the `[pbx.asterisk]` table: dial plan layout,
        timeouts, and which commands this site supports), plus known_extensions, event_backlog and
        max_packet_size."""
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
    def bad_packets(self) -> int:
        """AMI packets skipped as garbage or oversized since the driver was made (all sessions)."""
        return self._client.bad_packets

    async def connect(self) -> None:
        self._require_open()
        if self._link_up or self._pump_task is not None:
            return
        await self._client.connect()  # AmiConnectError / AmiLoginFailed pass through as they are
        try:
            await self._resync()
        except BaseException:
            await self._client.close()
            raise
        self._link_established()

    async def _shut_down(self) -> None:
        await self._client.close()  # first: the pump's read loop ends on its own
        await self._stop_pump()

    async def snapshot(self) -> PbxSnapshot:
        self._require_link()
        calls = []
        for chan in self._mapper.channels.values():
            if chan.ext is None or not chan.announced or chan.done or chan.direction is None:
                continue
            calls.append(ActiveCall(call_id=call_id_of(chan), extension=chan.ext, direction=chan.direction,
                                    state=_state_of(chan), number=chan.number, ddr=self._ddr_of(chan),
                                    started_at=chan.started_at,
                                    answered_at=chan.answered_at if chan.answered else None))
        for held in self._mapper.held_legs.values():  # on hold by park: no channel of the extension carries it
            if held.direction is not None:
                calls.append(ActiveCall(call_id=held.call_id, extension=held.extension, direction=held.direction,
                                        state=CallState.HELD, number=held.number, ddr=self._ddr_of_call(held.call_id,
                                                                                                    held.direction),
                                        started_at=held.started_at, answered_at=held.answered_at))
        return PbxSnapshot(at=_now(), extensions=dict(self._mapper.extension_states), calls=tuple(calls))

    def _ddr_of(self, chan: Channel) -> str | None:
        return self._ddr_of_call(chan.leg_id or chan.linkedid, chan.direction) or (
            self._ddr_of_call(chan.linkedid, chan.direction) if chan.leg_id else None)

    def _ddr_of_call(self, call_id: str, direction: Direction | None) -> str | None:
        call = self._mapper.calls.get(call_id)
        return call.ddr if call is not None and direction is Direction.INBOUND else None

    def _later(self, check: Callable[[AmiMapper, datetime], list[PbxEvent]]) -> None:
        """After `confirm_timeout_s`: what the mapper (the one of that moment) concludes is reported."""

        def run() -> None:
            if self._closed:
                return
            for event in check(self._mapper, _now()):
                self._stream.put(event)

        asyncio.get_running_loop().call_later(self.confirm_timeout_s, run)

    def _down_message(self) -> str:
        return f"not connected to the Asterisk manager{self._outage_note()}"

    async def _resync(self) -> None:
        """A fresh mapper, filled from DeviceStateList, ExtensionStateList and CoreShowChannels.
        Dials in flight are forgotten: their OriginateResponse cannot come on a new session."""
        mapper = AmiMapper(self._mapper_config)
        now = _now()
        devices = await self._client.send_list_action("DeviceStateList")
        for item in devices.items:
            mapper.feed(item, now)  # DeviceStateChange items: only the extension states matter here
        # hints (ExtensionStatus items) after the devices: a hint also knows "on hold" and
        # extensions whose device is named differently
        hints = await self._client.send_list_action("ExtensionStateList")
        for item in hints.items:
            mapper.feed(item, now)
        channels = await self._client.send_list_action("CoreShowChannels")
        mapper.load_active_channels(channels.items)
        if self._mapper.held_legs:  # calls on hold by park outlive the session while their party is parked
            parked = await self._client.send_list_action("ParkedCalls")
            mapper.keep_held(self._mapper.held_legs.values(), parked.items)
        self._mapper = mapper

    async def _pump(self) -> None:
        while not self._closed:
            try:
                async for batch in self._client.event_batches():
                    feed, put = self._mapper.feed, self._stream.put
                    for packet in batch:
                        for event in feed(packet):
                            put(event)
                    if self._park_waiters:
                        self._settle_parks()
                return  # the client was closed
            except AmiConnectionLost as exc:
                if self._closed:
                    return
                self._link_lost(exc.reason)
                await self._reconnect()

    def _settle_parks(self) -> None:
        """Hands each waiting park its slot once the ParkedCall event for its channel came."""
        by_channel = {uid: slot for slot, uid in self._mapper.parked.items()}
        for uid, waiter in list(self._park_waiters.items()):
            slot = by_channel.get(uid)
            if slot is not None and not waiter.done():
                waiter.set_result(slot)

    async def _try_reconnect(self) -> bool:
        """Log in, then resync."""
        try:
            await self._client.connect()
        except PbxError as exc:
            self._outage = str(exc)
            log.warning("%s: reconnect failed: %s", self.name, exc)
            return False
        try:
            await self._resync()
        except PbxError as exc:
            self._outage = f"resync failed: {exc}"
            log.warning("%s: resync after reconnect failed: %s", self.name, exc)
            await self._client.close()
            return False
        return True


def _state_of(chan: Channel) -> CallState:
    if chan.consulting:
        return CallState.CONSULTING
    if chan.held:
        return CallState.HELD
    if chan.answered:
        return CallState.ACTIVE
    return CallState.RINGING if chan.dialer is not None or chan.direction is Direction.INBOUND else CallState.DIALING


def _validated(options: AsteriskOptions | None, settings: dict[str, Any]) -> AsteriskOptions:
    """The options with `settings` applied, checked as the config file's `[pbx.asterisk]` is."""
    try:
        return AsteriskOptions(**{**(options.model_dump() if options else {}), **settings})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "pbx.asterisk"
        raise PbxError(f"[pbx.asterisk] {where}: {error['msg'].removeprefix('Value error, ')}", field=where) from None
