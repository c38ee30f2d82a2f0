"""A fake Dígitro PABX API: a real HTTP/1.1 server on 127.0.0.1, driven by the built-in simulator.

It speaks the REST + SSE API the driver expects (`tui_caa.pbx.digitro.protocol`): `GET
/canal-de-eventos` opens an event channel (chunked `text/event-stream`: EVENTO_DE_ABERTURA_DE_CANAL
with ID_CANAL first, then the monitored devices' events, and an empty data packet as heartbeat);
`POST /requests/{channel}/{operation}` carries commands with JSON bodies. Commands become simulator
commands, so calls really happen; the simulator's events come back as Dígitro events. A second
listener plays EasyCall Record. It checks the API key (`x-api-key`), the device passwords and the
EasyCall Record credentials, and tests can make it fail: down, channels dropped or silenced, raw or
malformed events, an answer of their choosing (500, bad JSON) or a slow one, an expired key.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.floods import flood, write_endless_line
from tui_caa.domain.events import (
    CallAnswered,
    CallConsulting,
    CallDialing,
    CallEnded,
    CallEvent,
    CallHeld,
    CallParked,
    CallResumed,
    CallRinging,
    CallTransferred,
    ExtensionStateChanged,
    PbxEvent,
)
from tui_caa.domain.telephony import CallState, Capability
from tui_caa.pbx.base import PbxError
from tui_caa.pbx.digitro import protocol as p
from tui_caa.pbx.sim import SimScenario, SimulatorDriver

EXTENSIONS = ("1001", "1002", "1003")
API_KEY = "lab-api-key"
PASSWORDS = {"1001": "s1001", "1002": "s1002", "1003": "s1003"}
ECR_USER, ECR_PASSWORD = "ecr", "ecr-secret"
RECORDING = "ecr/2024/07/08/0974.wav"
JSON = "application/json"
FLOOD = "\0a line that never ends"  # put on a channel's queue: tests/floods.py writes it

_REASONS = {value: key for key, value in p.REASONS.items()}
_DIRECTIONS = {value: key for key, value in p.DIRECTIONS.items()}
_DEVICE_STATES = {value: key for key, value in p.DEVICE_STATES.items()}
_CALL_STATES = {value: key for key, value in p.CALL_STATES.items()}


def sse(event: str, data: Any) -> str:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in text.split("\n")) + "\n"


def _error(code: str, message: str) -> dict[str, str]:
    return {p.ERROR_CODE: code, p.ERROR_MESSAGE: message}


@dataclass(eq=False)
class FakeChannel:
    id: str
    writer: asyncio.StreamWriter
    monitored: set[str] = field(default_factory=set)
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    silenced: bool = False
    renewed_at: float = 0.0


class FakeDigitro:
    def __init__(self, *, api_key: str = API_KEY, passwords: dict[str, str] | None = None,
                 heartbeat_interval: float = 0.1, channel_ttl: float | None = None,
                 ddr_field: str = "DDR", recording_field: str = "ID_GRAVACAO",
                 recordings: tuple[tuple[str, float], ...] = ((RECORDING, 30.0),), base_path: str = "",
                 operations: dict[str, str] | None = None, event_names: dict[str, str] | None = None) -> None:
        self.api_key = api_key
        self.passwords = dict(PASSWORDS if passwords is None else passwords)
        self.heartbeat_interval = heartbeat_interval
        self.channel_ttl = channel_ttl  # a channel not renewed for this long is closed
        self.ddr_field, self.recording_field = ddr_field, recording_field
        self.sim = SimulatorDriver(SimScenario(extensions=EXTENSIONS, site_ddd="51", recordings=recordings))
        # ---- what tests look at ----
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (operation, body), in order
        self.channel_opens = 0
        self.renewals = 0
        self.heartbeats = 0  # sent, on every channel
        self.channels: dict[str, FakeChannel] = {}
        self.recordings_of: dict[str, str] = {}  # Dígitro call id → recording (from the calls' end)
        # ---- what tests steer ----
        self.fail_next: dict[str, tuple[int, bytes]] = {}  # operation ("channel" too) → (status, raw body)
        self.delay: dict[str, float] = {}  # operation → seconds before answering
        self.refuse_channels = 0  # the next this many channel opens get HTTP 503
        # operation ("channel", "ecr" too) → a flood of tests/floods.py, for as long as it is set
        self.floods: dict[str, str] = {}
        self.port = self.ecr_port = 0
        self.base_path = base_path  # what this site's PBX puts before every path
        self._ops = {slug: op for op, slug in {**p.OPERATIONS, **(operations or {})}.items()}
        self.names = {**p.EVENTS, **(event_names or {})}  # the event names this PBX sends
        self._ids: dict[str, str] = {}  # simulator id → Dígitro id
        self._sim_ids: dict[str, str] = {}
        self._seq = 0
        self._next_channel = 0
        self._servers: list[asyncio.Server] = []
        self._listening = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._pump: asyncio.Task[None] | None = None

    # ---- life ----------------------------------------------------------------------------------

    async def start(self, port: int = 0, ecr_port: int = 0) -> FakeDigitro:
        if self._pump is None:
            await self.sim.connect()
            self._pump = asyncio.get_running_loop().create_task(self._relay())
        self._listening = True
        api = await asyncio.start_server(lambda r, w: self._handle(r, w, ecr=False), "127.0.0.1", port,
                                         reuse_address=True)
        ecr = await asyncio.start_server(lambda r, w: self._handle(r, w, ecr=True), "127.0.0.1", ecr_port,
                                         reuse_address=True)
        self._servers = [api, ecr]
        self.port = api.sockets[0].getsockname()[1]
        self.ecr_port = ecr.sockets[0].getsockname()[1]
        return self

    async def stop_listening(self) -> None:
        """The PBX goes down: no new connections, every open one reset."""
        self._listening = False
        for server in self._servers:
            server.close()
        for channel in self.channels.values():
            channel.queue.put_nowait(None)
        self.drop_channels()
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []
        # the handlers end by themselves once their connections are gone (cancelling them makes
        # asyncio's stream callback log a spurious error)
        await asyncio.wait_for(asyncio.gather(*self._handlers, return_exceptions=True), 5)

    async def stop(self) -> None:
        await self.stop_listening()
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        await self.sim.close()

    # ---- steering ------------------------------------------------------------------------------

    def drop_channels(self) -> None:
        """Every event channel's connection is reset (the network or the PBX dropped it)."""
        for channel in list(self.channels.values()):
            with contextlib.suppress(Exception):
                channel.writer.transport.abort()
        self.channels.clear()

    def silence_channels(self) -> None:
        """The open channels stop sending anything, heartbeats included; the connections stay open."""
        for channel in self.channels.values():
            channel.silenced = True

    def send_raw(self, text: str) -> None:
        """Text written as is on every open channel (malformed events…)."""
        for channel in self.channels.values():
            channel.queue.put_nowait(text)

    def flood_channels(self) -> None:
        """Every open channel starts a line that never ends."""
        for channel in self.channels.values():
            channel.queue.put_nowait(FLOOD)

    def expire_key(self, new_key: str = "rotated-key") -> None:
        """The API key is revoked: requests with the old one get 401 and the channels are closed."""
        self.api_key = new_key
        for channel in list(self.channels.values()):
            channel.queue.put_nowait(None)

    def operations(self, name: str) -> list[dict[str, Any]]:
        return [body for op, body in self.requests if op == name]

    def digitro_id(self, sim_id: str) -> str:
        if sim_id not in self._ids:
            self._seq += 1
            dig = f"{datetime.now():%d/%m/%y %H:%M:%S} 010A {self._seq:04d}/00"
            self._ids[sim_id], self._sim_ids[dig] = dig, sim_id
        return self._ids[sim_id]

    def sim_id(self, digitro_id: str) -> str:
        try:
            return self._sim_ids[digitro_id]
        except KeyError:
            raise PbxError(f"chamada inexistente: {digitro_id}") from None

    async def sim_call_at(self, extension: str, state: CallState | None = None) -> str:
        snapshot = await self.sim.snapshot()
        for call in snapshot.calls:
            if call.extension == extension and (state is None or call.state is state):
                return call.call_id
        raise AssertionError(f"no {state.value if state else ''} call at extension {extension}: {snapshot.calls}")

    # ---- simulator events → Dígitro events -----------------------------------------------------

    async def _relay(self) -> None:
        async for event in self.sim.events():
            translated = self.translate(event)
            if translated is None:
                continue
            text = sse(*translated)
            for channel in self.channels.values():
                if event.extension in channel.monitored:
                    channel.queue.put_nowait(text)

    def translate(self, event: PbxEvent) -> tuple[str, dict[str, Any]] | None:
        names = self.names
        if isinstance(event, ExtensionStateChanged):
            return names["device_state"], {p.DEVICE: event.extension, p.STATE: _DEVICE_STATES[event.state]}
        if not isinstance(event, CallEvent) or event.call_id is None:
            return None
        data: dict[str, Any] = {p.DEVICE: event.extension, p.CALL_ID: self.digitro_id(event.call_id),
                                p.DIRECTION: _DIRECTIONS[event.direction] if event.direction else None,
                                p.REMOTE: event.number}
        if event.ddr:
            data[self.ddr_field] = event.ddr
        recording = getattr(event, "recording_ref", None)
        if recording:
            data[self.recording_field] = recording
            self.recordings_of[data[p.CALL_ID]] = recording
        match event:
            case CallRinging():
                return names["ringing"], {**data, p.CALLER_NAME: event.caller_name}
            case CallDialing():
                return names["dialing"], data
            case CallAnswered():
                return names["answered"], data
            case CallHeld():
                return names["held"], data
            case CallResumed():
                return names["retrieved"], data
            case CallConsulting():
                return names["consulting"], {**data, p.TARGET_DEVICE: event.target}
            case CallTransferred():
                return names["transferred"], {**data, p.TARGET_DEVICE: event.target, p.CONSULTED: event.attended}
            case CallParked():
                return names["parked"], {**data, p.SLOT: event.slot}
            case CallEnded():
                return names["ended"], {**data, p.REASON: _REASONS[event.disposition]}
        return None

    # ---- HTTP/1.1 ------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, ecr: bool) -> None:
        if not self._listening:  # accepted just before the service stopped: drop it like the others
            writer.transport.abort()
            return
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                method, target, _version = request_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                url = urlsplit(target)
                path, query = unquote(url.path), {k: v[0] for k, v in parse_qs(url.query).items()}
                if (mode := self.floods.get(self._operation_of(path, ecr))) is not None:
                    kind = "text/event-stream" if mode == "endless_line" else JSON
                    await flood(writer, mode, kind)
                    return
                if not ecr and method == "GET" and path == f"{self.base_path}/canal-de-eventos":
                    await self._serve_channel(headers, writer)
                    return
                if ecr:
                    status, payload = await self._ecr(method, path, query, headers, body)
                else:
                    status, payload = await self._request(method, path, headers, body)
                await self._respond(writer, status, payload)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()

    def _operation_of(self, path: str, ecr: bool) -> str:
        if ecr:
            return "ecr"
        if path == f"{self.base_path}/canal-de-eventos":
            return "channel"
        slug = path.rsplit("/", 1)[-1]
        return self._ops.get(slug, slug)

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        head = (f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}\r\nContent-Type: {JSON}; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        writer.write(head.encode() + body)
        await writer.drain()

    async def _serve_channel(self, headers: dict[str, str], writer: asyncio.StreamWriter) -> None:
        self.channel_opens += 1
        if delay := self.delay.get("channel"):
            await asyncio.sleep(delay)
        if self.refuse_channels > 0:
            self.refuse_channels -= 1
            await self._respond(writer, 503, _error("INDISPONIVEL", "serviço indisponível"))
            return
        if "channel" in self.fail_next:
            status, raw = self.fail_next.pop("channel")
            await self._respond(writer, status, raw)
            return
        if headers.get("x-api-key") != self.api_key:
            await self._respond(writer, 401, _error("CHAVE_INVALIDA", "Chave de API inválida ou expirada"))
            return
        self._next_channel += 1
        channel = FakeChannel(str(self._next_channel), writer, renewed_at=asyncio.get_running_loop().time())
        self.channels[channel.id] = channel
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        await writer.drain()
        if delay := self.delay.get("open_event"):
            await asyncio.sleep(delay)
        await self._chunk(writer, sse(self.names["channel_opened"], {p.CHANNEL_ID: channel.id}))
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    text = await asyncio.wait_for(channel.queue.get(), self.heartbeat_interval)
                except TimeoutError:
                    if self.channel_ttl is not None and loop.time() - channel.renewed_at > self.channel_ttl:
                        break  # not renewed in time: the PBX closes it
                    text = "data:\n\n"
                    self.heartbeats += 0 if channel.silenced else 1
                if text is None:
                    break
                if text is FLOOD:
                    await write_endless_line(writer)
                    return
                if not channel.silenced:
                    await self._chunk(writer, text)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            if self.channels.get(channel.id) is channel:
                del self.channels[channel.id]

    @staticmethod
    async def _chunk(writer: asyncio.StreamWriter, text: str) -> None:
        data = text.encode()
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await writer.drain()

    # ---- the API -------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        match = re.fullmatch(re.escape(self.base_path) + r"/requests/([^/]+)/([^/]+)", path)
        if method != "POST" or match is None:
            return 404, _error("NAO_ENCONTRADO", f"caminho desconhecido: {method} {path}")
        channel_id, slug = match.groups()
        operation = self._ops.get(slug, slug)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, _error("JSON_INVALIDO", "corpo não é JSON")
        self.requests.append((operation, body))
        if delay := self.delay.get(operation):
            await asyncio.sleep(delay)
        if operation in self.fail_next:
            return self.fail_next.pop(operation)
        if headers.get("x-api-key") != self.api_key:
            return 401, _error("CHAVE_INVALIDA", "Chave de API inválida ou expirada")
        channel = self.channels.get(channel_id)
        if channel is None:
            return 404, _error("CANAL_INEXISTENTE", f"canal {channel_id} inexistente ou expirado")
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return 404, _error("OPERACAO_DESCONHECIDA", f"operação desconhecida: {slug}")
        if operation != "renew":
            device = str(body.get(p.DEVICE, ""))
            if device not in self.passwords or body.get(p.DEVICE_PASSWORD) != self.passwords[device]:
                return 422, _error(p.DEVICE_PASSWORD_ERROR, f"senha do dispositivo {device} inválida")
        try:
            return 200, (await handler(channel, body) or {})
        except PbxError as exc:
            return 409, _error("OPERACAO_RECUSADA", str(exc))

    async def _op_monitor(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        channel.monitored.add(body[p.DEVICE])

    async def _op_renew(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        channel.renewed_at = asyncio.get_running_loop().time()
        self.renewals += 1

    async def _op_state(self, channel: FakeChannel, body: dict[str, Any]) -> dict[str, Any]:
        device = body[p.DEVICE]
        snapshot = await self.sim.snapshot()
        calls = [{p.CALL_ID: self.digitro_id(call.call_id), p.STATE: _CALL_STATES[call.state],
                  p.DIRECTION: _DIRECTIONS[call.direction], p.REMOTE: call.number,
                  **({self.ddr_field: call.ddr} if call.ddr else {})}
                 for call in snapshot.calls if call.extension == device]
        return {p.STATE: _DEVICE_STATES[snapshot.extensions[device]], p.CALLS: calls}

    async def _op_dial(self, channel: FakeChannel, body: dict[str, Any]) -> dict[str, Any]:
        sim_id = await self.sim.dial(body[p.DEVICE], str(body.get(p.DESTINATION) or ""))
        return {p.CALL_ID: self.digitro_id(sim_id)}

    async def _call(self, body: dict[str, Any]) -> tuple[str, str]:
        return body[p.DEVICE], self.sim_id(str(body.get(p.CALL_ID)))

    async def _op_answer(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.answer(*await self._call(body))

    async def _op_hangup(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.hangup(*await self._call(body))

    async def _op_hold(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.hold(*await self._call(body))

    async def _op_retrieve(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.resume(*await self._call(body))

    async def _op_blind_transfer(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.blind_transfer(*await self._call(body), str(body.get(p.TARGET_DEVICE)))

    async def _op_consult(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.consult(*await self._call(body), str(body.get(p.TARGET_DEVICE)))

    async def _op_complete_transfer(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.complete_transfer(*await self._call(body))

    async def _op_cancel_transfer(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.cancel_transfer(*await self._call(body))

    async def _op_park(self, channel: FakeChannel, body: dict[str, Any]) -> dict[str, Any]:
        return {p.SLOT: await self.sim.park(*await self._call(body))}

    async def _op_pickup_parked(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.pickup(body[p.DEVICE], str(body.get(p.SLOT)))

    async def _op_pickup(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.pickup(body[p.DEVICE], str(body.get(p.TARGET_DEVICE)))

    async def _op_dtmf(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.send_dtmf(*await self._call(body), str(body.get(p.DIGITS)))

    async def _op_barge(self, channel: FakeChannel, body: dict[str, Any]) -> None:
        await self.sim.monitor(Capability.BARGE, body[p.DEVICE], str(body.get(p.TARGET_DEVICE)))

    # ---- EasyCall Record -----------------------------------------------------------------------

    async def _ecr(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                   raw: bytes) -> tuple[int, Any]:
        expected = "Basic " + base64.b64encode(f"{ECR_USER}:{ECR_PASSWORD}".encode()).decode()
        if headers.get("authorization") != expected:
            return 401, _error("NAO_AUTORIZADO", "usuário ou senha inválidos")
        operation = {"/easycall/gravacoes": "ecr_lookup", "/easycall/reproduzir": "ecr_play"}.get(path)
        body = json.loads(raw) if raw else dict(query)
        self.requests.append((operation or path, body))
        if operation in self.fail_next:
            return self.fail_next.pop(operation)
        recordings = self.sim.recordings
        if operation == "ecr_lookup" and method == "GET":
            if "ID_CHAMADA" in query:
                ref = self.recordings_of.get(query["ID_CHAMADA"])
                found = [(ref, query["ID_CHAMADA"])] if ref in recordings else []
            else:
                ref = query.get("ID_GRAVACAO", "")
                found = [(ref, None)] if ref in recordings else []
            return 200, {"GRAVACOES": [{"ID_GRAVACAO": r, "ID_CHAMADA": c, "DURACAO": recordings[r]} for r, c in found]}
        if operation == "ecr_play" and method == "POST":
            try:
                sim_id = await self.sim.play_recording(str(body.get("ID_GRAVACAO")), str(body.get("DESTINO")))
            except PbxError as exc:
                return 409, _error("OPERACAO_RECUSADA", str(exc))
            return 200, {"ID_CHAMADA": self.digitro_id(sim_id)}
        return 404, _error("NAO_ENCONTRADO", f"caminho desconhecido: {method} {path}")
