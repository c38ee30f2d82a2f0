"""The Dígitro driver: the PABX REST API with its SSE event channel (httpx), and EasyCall Record.

What is confirmed by Dígitro's public documentation and what is assumed is listed in
`tui_caa.pbx.digitro.protocol` (API, events) and `tui_caa.pbx.digitro.ecr` (recordings); every
assumed name can be changed in `[pbx.digitro]` without touching code.

- Connection: `http(s)://<address>:<port><base_path>` from the registry entry; the API key (registry
  `secret`) goes in `x-api-key`; `account`/`route` are CONTA/ROTA of generated calls; the device
  password (SENHA_DISPOSITIVO) of each extension comes from the CRM's sellers (`device_passwords`).
- `connect()` opens the event channel (GET, SSE; its first event EVENTO_DE_ABERTURA_DE_CANAL carries
  the channel id), subscribes every device with a password, then resyncs: one state query per device
  (ASSUMED operation `consultar-estado-dispositivo`, in the style of "Consultas e Informações")
  rebuilds the model, and `DriverConnected`, `DriverResynced` are emitted.
- One pump task reads the channel and renews it every `channel_renew_interval`. A channel that stays
  silent past `heartbeat_timeout` (Dígitro sends an empty data packet as heartbeat), breaks, is closed
  or can no longer be renewed is lost: `DriverDisconnected(reason)`, then it is reopened with
  exponential backoff, and after the resync `DriverConnected`, `DriverResynced`. Commands in between
  raise `NotConnected`; no command is ever sent twice (a dial that failed or timed out is not replayed).
- Malformed events (bad JSON, missing fields, unknown codes) are logged, counted in
  `malformed_events` and skipped; events of unknown names are counted in `unknown_events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from tui_caa.domain.events import PbxSnapshot
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import CallState, Capability
from tui_caa.pbx.base import (
    PBX_PART,
    CheckResult,
    NotConnected,
    PbxError,
    Unsupported,
    checked_extension,
    checked_number,
)
from tui_caa.pbx.digitro import protocol as p
from tui_caa.pbx.digitro.ecr import EasyCallRecord, Recording
from tui_caa.pbx.digitro.http import ApiKeyRefused, DigitroHttp, NotFoundAtPbx
from tui_caa.pbx.digitro.mapping import DigitroMapper, FieldNames, MalformedEvent
from tui_caa.pbx.digitro.sse import OversizedEvent, SseEvent, SseParser
from tui_caa.pbx.limits import (
    SSE_LINE_BYTES,
    LimitLog,
    LineTooLong,
    ReplyTooLarge,
    capped_lines,
    decoded_chunks,
)
from tui_caa.pbx.link import EVENT_BACKLOG, PumpedDriver
from tui_caa.pbx.options.digitro import DigitroOptions

log = logging.getLogger(__name__)

_DTMF = re.compile(r"^[0-9*#A-Da-d]{1,32}$")
_CHANNEL_ID_FIELDS = (p.CHANNEL_ID, "channel_id")  # Neo Interact names it channel_id


def _now() -> datetime:
    return datetime.now(UTC)


class _ChannelLost(Exception):
    pass


@dataclass(eq=False)
class _Channel:
    id: str
    response: httpx.Response
    lines: AsyncIterator[str]
    parser: SseParser = field(default_factory=SseParser)


class DigitroDriver(PumpedDriver):
    kind = "digitro"
    label = "Dígitro"
    #: PLAY_RECORDING joins these on an instance with EasyCall Record configured
    capabilities = frozenset({
        Capability.DIAL, Capability.ANSWER, Capability.HANGUP, Capability.BLIND_TRANSFER,
        Capability.ATTENDED_TRANSFER, Capability.HOLD, Capability.PARK, Capability.PICKUP, Capability.DTMF,
        Capability.BARGE,
    })

    def __init__(self, base_url: str, api_key: SecretStr, *, account: str | None = None, route: str | None = None,
                 device_passwords: Mapping[str, SecretStr] | None = None, name: str | None = None,
                 ecr: EasyCallRecord | None = None, options: DigitroOptions | None = None,
                 event_backlog: int = EVENT_BACKLOG) -> None:
        opts = options or DigitroOptions()
        super().__init__(name, event_backlog, reconnect_delay=opts.reconnect_delay,
                         reconnect_max_delay=opts.reconnect_max_delay)
        self.options = opts
        self.account, self.route = account, route
        self._passwords = dict(device_passwords or {})
        self.operations = {**p.OPERATIONS, **opts.operations}
        self.event_names = {**p.EVENTS, **opts.event_names}
        self._fields = FieldNames(ddr=opts.ddr_field, recording=opts.recording_field)
        self._http = DigitroHttp.with_api_key(base_url, api_key, verify=opts.verify_tls,
                                              connect_timeout=opts.connect_timeout,
                                              request_timeout=opts.request_timeout)
        # every broken byte limit (replies, SSE lines) is counted here and logged once, then rate-limited
        self.limits = LimitLog(log)
        self._http.on_too_large = self._too_large
        self._ecr = ecr
        if ecr is not None:
            ecr.on_too_large(self._too_large)
            self.capabilities = self.capabilities | {Capability.PLAY_RECORDING}
        self._mapper = self._new_mapper()
        self._channel: _Channel | None = None
        # counters, for `pbx check`, logs and tests (and `reconnects`)
        self.malformed_events = 0
        self.unknown_events = 0
        self.renewals = 0
        self.renew_failures = 0
        self.unmonitored: dict[str, str] = {}  # extension → why the PBX refused to monitor it

    @classmethod
    def from_entry(cls, entry: PbxRegistryEntry, **options: Any) -> DigitroDriver:
        """Options: those of `DigitroOptions` (the `[pbx.digitro]` table), plus `device_passwords`
        ({extension: SecretStr}, from the CRM's sellers) and `event_backlog`."""
        if str(getattr(entry, "kind", "")) != "digitro":
            raise PbxError(f"registry entry '{entry.name}' is a {entry.kind} PBX, not Dígitro", field="kind")
        if not entry.address or not entry.port:
            raise PbxError(f"registry entry '{entry.name}' needs the Dígitro API's address and port", field="address")
        if entry.secret is None or not entry.secret.get_secret_value():
            raise PbxError(f"registry entry '{entry.name}' needs the Dígitro API key in the field `secret`",
                           field="secret")
        passwords = _passwords(options.pop("device_passwords", None))
        backlog = options.pop("event_backlog", EVENT_BACKLOG)
        try:
            opts = DigitroOptions(**options)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "?"
            raise PbxError(f"[pbx.digitro] {where}: {error['msg'].removeprefix('Value error, ')}",
                           field="pbx.digitro") from None
        _check_names("operations", opts.operations, p.OPERATIONS)
        _check_names("event_names", opts.event_names, p.EVENTS)
        scheme = "https" if opts.use_tls else "http"
        base_url = f"{scheme}://{_host(entry.address)}:{entry.port}{opts.base_path}"
        ecr = None
        if entry.ecr_address and entry.ecr_port and entry.ecr_user:
            ecr_scheme = "https" if opts.ecr_use_tls else "http"
            ecr = EasyCallRecord(f"{ecr_scheme}://{_host(entry.ecr_address)}:{entry.ecr_port}", entry.ecr_user,
                                 entry.ecr_password, lookup_path=opts.ecr_lookup_path, play_path=opts.ecr_play_path,
                                 verify=opts.verify_tls, connect_timeout=opts.connect_timeout,
                                 request_timeout=opts.request_timeout)
        return cls(base_url, entry.secret, account=entry.account, route=entry.route, device_passwords=passwords,
                   name=entry.name, ecr=ecr, options=opts, event_backlog=backlog)

    def __repr__(self) -> str:  # no secrets, ever
        return f"<DigitroDriver {self.name!r} {self._http.base_url} devices={sorted(self._passwords)}>"

    # ================================================================ the connection

    @property
    def channel_id(self) -> str | None:
        return self._channel.id if self._channel is not None else None

    async def connect(self) -> None:
        self._require_open()
        if self._pump_task is not None:
            return
        await self._open()
        self._link_established()

    async def _shut_down(self) -> None:
        await self._stop_pump()
        await self._close_channel()
        await self._http.close()
        if self._ecr is not None:
            await self._ecr.close()

    async def check_parts(self) -> list[CheckResult]:
        """The sellers' extensions Dígitro refused to monitor (a wrong extension password, usually)."""
        return [CheckResult(PBX_PART, False, f"extension {extension} is not monitored: {why}")
                for extension, why in sorted(self.unmonitored.items())]

    async def snapshot(self) -> PbxSnapshot:
        self._require_channel()
        return PbxSnapshot(at=_now(), extensions=dict(self._mapper.extensions), calls=self._mapper.active_calls())

    def _require_channel(self) -> _Channel:
        self._require_link()
        if self._channel is None:  # between two channels
            raise NotConnected(f"{self.name}: {self._down_message()}")
        return self._channel

    def _down_message(self) -> str:
        return f"the Dígitro event channel is down{self._outage_note()}; reconnecting"

    def _new_mapper(self) -> DigitroMapper:
        return DigitroMapper(self.event_names, self._fields, _now)

    # ---- opening a channel: open, subscribe the devices, resync ----

    async def _open(self) -> None:
        opts = self.options
        response = await self._http.open_stream(opts.channel_path, opts.heartbeat_timeout)
        channel: _Channel | None = None
        try:
            # lines capped while read: an endless line costs SSE_LINE_BYTES, never more
            lines = capped_lines(decoded_chunks(response, pbx=self.label), SSE_LINE_BYTES, pbx=self.label, path=opts.channel_path)
            parser = SseParser()
            channel_id = await self._first_event(lines, parser)
            channel = _Channel(channel_id, response, lines, parser)
            mapper = self._new_mapper()
            monitored, refused = [], {}
            for extension in self._passwords:
                try:
                    await self._post(channel, "monitor", self._device(extension), f"monitor extension {extension}")
                except PbxError as exc:
                    if exc.field != "device_password":
                        raise
                    # one seller's wrong password must not keep every other extension offline
                    refused[extension] = str(exc)
                    log.warning("%s: extension %s is not monitored: %s", self.name, extension, exc)
                else:
                    monitored.append(extension)
            for extension in monitored:
                answer = await self._post(channel, "state", self._device(extension),
                                          f"query the state of extension {extension}")
                try:
                    mapper.load_device(extension, answer)
                except MalformedEvent as exc:
                    raise PbxError(f"{self.label} answered the state query of extension {extension} with data "
                                   f"the driver cannot use: {exc}") from None
        except BaseException:
            await response.aclose()
            raise
        if not self._passwords:
            log.warning("%s: no extension has a device password: no device is monitored", self.name)
        await self._close_channel()
        self._channel, self._mapper, self._outage = channel, mapper, ""
        self.unmonitored = refused
        log.info("%s: event channel %s open, %d devices monitored", self.name, channel_id, len(monitored))

    async def _first_event(self, lines: AsyncIterator[str], parser: SseParser) -> str:
        """The channel id from EVENTO_DE_ABERTURA_DE_CANAL, which must come within request_timeout."""
        wanted = self.event_names["channel_opened"]
        timeout = self.options.request_timeout
        try:
            async with asyncio.timeout(timeout):
                async for line in lines:
                    try:
                        sse = parser.feed(line)
                    except OversizedEvent:
                        continue
                    if sse is None or sse.heartbeat:
                        continue
                    if sse.event != wanted:
                        log.debug("%s: %s before the channel opened, ignored", self.name, sse.event)
                        continue
                    return self._channel_id(sse)
        except (TimeoutError, httpx.ReadTimeout):
            raise NotConnected(f"{self.label} opened the event stream but sent no {wanted} within {timeout:g} s "
                               "([pbx.digitro] request_timeout)") from None
        except httpx.HTTPError as exc:
            raise NotConnected(f"the {self.label} event stream broke before the channel opened: "
                               f"{exc or type(exc).__name__}") from None
        raise NotConnected(f"{self.label} closed the event stream before sending {wanted}")

    def _channel_id(self, sse: SseEvent) -> str:
        try:
            data = json.loads(sse.data)
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            raise PbxError(f"{self.label} opened the channel with data that is not JSON: {sse.data[:80]!r}") from None
        value = next((data[name] for name in _CHANNEL_ID_FIELDS if isinstance(data, dict) and data.get(name)), None)
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise PbxError(f"{self.label} opened the channel without its id ({p.CHANNEL_ID}): {sse.data[:80]!r}")
        return str(value)

    async def _close_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                await channel.response.aclose()

    # ---- the pump: read, renew, reconnect ----

    async def _pump(self) -> None:
        while not self._closed:
            channel = self._channel
            reason = await self._serve(channel) if channel is not None else "no event channel"
            if self._closed:
                return
            log.warning("%s: event channel lost: %s", self.name, reason)
            self._link_lost(reason)
            await self._close_channel()
            await self._reconnect()

    async def _serve(self, channel: _Channel) -> str:
        """Reads and renews `channel` until it is lost; the reason."""
        reader = asyncio.get_running_loop().create_task(self._read(channel))
        renewer = asyncio.get_running_loop().create_task(self._renew(channel))
        try:
            done, _ = await asyncio.wait({reader, renewer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, renewer):
                task.cancel()
            await asyncio.gather(reader, renewer, return_exceptions=True)
        task = done.pop()
        if task.cancelled() or task.exception() is not None:
            return f"event channel task failed: {task.exception()!r}"
        return task.result()

    async def _read(self, channel: _Channel) -> str:
        try:
            async for line in channel.lines:
                try:
                    sse = channel.parser.feed(line)
                except OversizedEvent as exc:
                    self._malformed(str(exc))
                    continue
                if sse is not None and not sse.heartbeat:
                    self._on_sse(sse)
        except LineTooLong as exc:
            self._too_large(str(exc))
            return str(exc)
        except httpx.ReadTimeout:
            return (f"no heartbeat on the event channel for {self.options.heartbeat_timeout:g} s "
                    "([pbx.digitro] heartbeat_timeout)")
        except httpx.HTTPError as exc:
            return f"the event channel broke: {exc or type(exc).__name__}"
        except Exception as exc:  # a bug must not kill the pump: the channel is reopened
            log.exception("%s: reading the event channel failed", self.name)
            return f"reading the event channel failed: {exc!r}"
        return "the PBX closed the event channel"

    async def _renew(self, channel: _Channel) -> str:
        """Renews the channel on time; returns only when it can no longer be renewed."""
        while True:
            await asyncio.sleep(self.options.channel_renew_interval)
            try:
                await self._post(channel, "renew", {}, "renew the event channel")
                self.renewals += 1
            except (ApiKeyRefused, NotFoundAtPbx, NotConnected) as exc:
                return f"the event channel could not be renewed: {exc}"
            except PbxError as exc:  # a passing failure: the heartbeat tells whether the channel lives
                self.renew_failures += 1
                log.warning("%s: channel renewal failed: %s", self.name, exc)

    async def _try_reconnect(self) -> bool:
        """Reopen the channel (subscribe the devices, resync)."""
        try:
            await self._open()
        except LineTooLong as exc:  # a broken limit is logged once, then rate-limited (not every attempt)
            self._too_large(str(exc))
            self._outage = str(exc)
            return False
        except ReplyTooLarge as exc:  # counted and logged by the HTTP client
            self._outage = str(exc)
            return False
        except PbxError as exc:
            self._outage = str(exc)
            log.warning("%s: reopening the event channel failed: %s", self.name, exc)
            return False
        except Exception as exc:  # never let the pump die
            self._outage = f"reopening the event channel failed: {exc!r}"
            log.exception("%s: reopening the event channel failed", self.name)
            return False
        return True

    # ---- events ----

    def _on_sse(self, sse: SseEvent) -> None:
        if self._mapper.meaning(sse.event) is None:
            self.unknown_events += 1
            log.debug("%s: event %s ignored (not one the driver maps)", self.name, sse.event)
            return
        try:
            data = json.loads(sse.data)
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            self._malformed(f"{sse.event}: data is not JSON: {sse.data[:80]!r}")
            return
        try:
            events = self._mapper.feed(sse.event, data)
        except MalformedEvent as exc:
            self._malformed(f"{sse.event}: {exc}")
            return
        for event in events:
            self._stream.put(event)

    def _too_large(self, message: str) -> None:
        self.limits(self.name, message)

    @property
    def limit_exceeded(self) -> int:
        """How many times the PBX broke a byte limit (each a protocol error that reset the link)."""
        return self.limits.count

    def _malformed(self, what: str) -> None:
        self.malformed_events += 1
        log.warning("%s: malformed event skipped (%d so far): %s", self.name, self.malformed_events, what)

    # ================================================================ commands

    def _device(self, extension: str) -> dict[str, Any]:
        checked_extension(extension)
        password = self._passwords.get(extension)
        if password is None:
            raise PbxError(f"extension {extension} has no device password for {self.label}: fill the seller's "
                           "extension password (Cadastro Vendedores → Central Telefônica)", field="device_password")
        return {p.DEVICE: extension, p.DEVICE_PASSWORD: password.get_secret_value()}

    def _path(self, channel: _Channel, operation: str) -> str:
        return f"/requests/{quote(channel.id, safe='')}/{self.operations[operation]}"

    async def _post(self, channel: _Channel, operation: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        return await self._http.post(self._path(channel, operation), body, what)

    async def _command(self, operation: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        channel = self._require_channel()
        return await self._post(channel, operation, body, what)

    async def _call_command(self, operation: str, extension: str, call_id: str, what: str,
                            **extra: Any) -> dict[str, Any]:
        if not isinstance(call_id, str) or not call_id.strip():
            raise PbxError("no call id given", field="call_id")
        body = {**self._device(extension), p.CALL_ID: call_id, **extra}
        return await self._command(operation, body, f"{what} call {call_id} at extension {extension}")

    async def _dial(self, extension: str, number: str) -> str:
        checked_number(number, self.label)
        secret = self.options.account_password
        body = {**self._device(extension), p.ROUTE: self.route, p.ACCOUNT: self.account,
                p.ACCOUNT_PASSWORD: secret.get_secret_value() if secret is not None else None,
                p.DESTINATION: number}
        # sent once: if it fails or times out the PBX may still place the call, so it is never re-sent
        answer = await self._command("dial", body, f"call {number} from extension {extension}")
        call_id = answer.get(p.CALL_ID)
        if not isinstance(call_id, str) or not call_id:
            raise PbxError(f"{self.label} accepted the call to {number} but did not say its {p.CALL_ID}")
        return call_id

    async def _answer(self, extension: str, call_id: str) -> None:
        await self._call_command("answer", extension, call_id, "answer")

    async def _hangup(self, extension: str, call_id: str) -> None:
        await self._call_command("hangup", extension, call_id, "hang up")

    async def _hold(self, extension: str, call_id: str) -> None:
        await self._call_command("hold", extension, call_id, "hold")

    async def _resume(self, extension: str, call_id: str) -> None:
        await self._call_command("retrieve", extension, call_id, "retrieve")

    async def _blind_transfer(self, extension: str, call_id: str, target: str) -> None:
        checked_number(target, self.label, "transfer to", "target")
        await self._call_command("blind_transfer", extension, call_id, f"transfer to {target}",
                                 **{p.TARGET_DEVICE: target})

    async def _consult(self, extension: str, call_id: str, target: str) -> None:
        checked_number(target, self.label, "transfer to", "target")
        await self._call_command("consult", extension, call_id, f"consult {target} about",
                                 **{p.TARGET_DEVICE: target})

    async def _complete_transfer(self, extension: str, call_id: str) -> None:
        await self._call_command("complete_transfer", extension, call_id, "complete the transfer of")

    async def _cancel_transfer(self, extension: str, call_id: str) -> None:
        await self._call_command("cancel_transfer", extension, call_id, "cancel the transfer of")

    async def _send_dtmf(self, extension: str, call_id: str, digits: str) -> None:
        if not isinstance(digits, str) or not _DTMF.match(digits):
            raise PbxError(f"'{digits}' are not DTMF digits (0-9, *, #, A-D)", field="digits")
        await self._call_command("dtmf", extension, call_id, f"send DTMF {digits} on", **{p.DIGITS: digits})

    async def _park(self, extension: str, call_id: str) -> str:
        answer = await self._call_command("park", extension, call_id, "park")
        slot = answer.get(p.SLOT)
        if not isinstance(slot, (str, int)) or isinstance(slot, bool) or slot == "":
            raise PbxError(f"{self.label} parked call {call_id} but did not say where ({p.SLOT})")
        return str(slot)

    async def _pickup(self, extension: str, slot_or_extension: str) -> None:
        where = slot_or_extension.strip() if isinstance(slot_or_extension, str) else ""
        if not where:
            raise PbxError("say which parking position or extension to pick up from", field="slot_or_extension")
        device = self._device(extension)
        if where in self._passwords and where not in self._mapper.slots:  # a ringing colleague
            await self._command("pickup", {**device, p.TARGET_DEVICE: where},
                                f"pick up the call ringing at {where} from extension {extension}")
        else:
            await self._command("pickup_parked", {**device, p.SLOT: where},
                                f"pick up the call parked at {where} from extension {extension}")

    async def _monitor(self, mode: Capability, supervisor_extension: str, target_extension: str) -> None:
        if mode is not Capability.BARGE:
            raise Unsupported(f"{mode.value} is not supported by {self.label}")
        checked_extension(target_extension, "target_extension")
        body = {**self._device(supervisor_extension), p.TARGET_DEVICE: target_extension}
        call_id = self._mapper.call_at(target_extension, (CallState.ACTIVE,))
        if call_id is not None:
            body[p.CALL_ID] = call_id
        await self._command("barge", body, f"barge in on extension {target_extension} from {supervisor_extension}")

    # ---- EasyCall Record ----

    async def _play_recording(self, recording_ref: str, number: str) -> str:
        if self._ecr is None:
            raise Unsupported(f"playing recordings needs EasyCall Record on {self.label}: fill the registry's "
                              "ecr_address, ecr_port and ecr_user", field="ecr_address")
        checked_number(number, self.label, "call")
        self._require_channel()
        return await self._ecr.play(recording_ref, number)

    async def find_recordings(self, call_id: str) -> list[Recording]:
        """The EasyCall Record recordings of a call (by its Dígitro call id)."""
        if self._ecr is None:
            raise Unsupported(f"finding recordings needs EasyCall Record on {self.label}: fill the registry's "
                              "ecr_address, ecr_port and ecr_user", field="ecr_address")
        return await self._ecr.lookup(call_id=call_id)


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _passwords(value: object) -> dict[str, SecretStr]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PbxError("device_passwords must map each extension to its device password", field="device_passwords")
    result = {}
    for extension, password in value.items():
        if not isinstance(extension, str) or not re.fullmatch(r"\d{2,8}", extension):
            raise PbxError(f"device_passwords: '{extension}' is not an extension number", field="device_passwords")
        result[extension] = password if isinstance(password, SecretStr) else SecretStr(str(password or ""))
    return result


def _check_names(option: str, given: Mapping[str, str], known: Mapping[str, str]) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise PbxError(f"[pbx.digitro] {option}: unknown {', '.join(unknown)}; known: {', '.join(known)}",
                       field="pbx.digitro")
