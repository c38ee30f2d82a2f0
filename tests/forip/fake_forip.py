"""A fake ForIP PBX: ForIP Manager's CRM API (plain asyncio HTTP/1.1 on 127.0.0.1) in front of the
built-in simulator, writing call tickets into a real PostgreSQL like ForIP does.

- `login_crm` (POST email, senha) → {email, name, id, api_key}; `disca_crm` (api_key, agent, phone,
  ts; query string or form body, as web2py's request.vars merges them) → {"status": 0, "callid":
  "YYYYMMDD/CRM-<agent>-<phone>-HHMMSS"}; errors as {"error": …} with HTTP 200, as controllers/crm.py.
  A dial becomes a simulator dial now, or when `ts` is reached;
- every call leg the simulator ends becomes a row of f_bilhetes_chamadas (and an inbound one a row of
  f_direcionamento with its DDR), written through ODBC when a connection string is given;
- faults on demand: `faults` (one per coming request: "http_500", "bad_json", "slow", "drop", or a flood
  of tests/floods.py: "huge_length", "endless_chunked", "huge_close"),
  `fault` (every request while set), `expire_keys()`, `stop()` / `start()` on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pyodbc

from tests.floods import MODES as FLOODS
from tests.floods import flood
from tui_caa.domain.events import (
    CallAnswered,
    CallDialing,
    CallEnded,
    CallParked,
    CallRinging,
    CallTransferred,
    PbxEvent,
)
from tui_caa.domain.telephony import Direction, Disposition
from tui_caa.pbx.base import PbxError
from tui_caa.pbx.sim import SimulatorDriver

log = logging.getLogger(__name__)

EMAIL = "agente01@concessionaria.com.br"
PASSWORD = "1123456"
BASE = "/admanager/crm"
ZONE = ZoneInfo("America/Sao_Paulo")
STATUS = {Disposition.ANSWERED: "ANSWERED", Disposition.NO_ANSWER: "NO ANSWER", Disposition.BUSY: "BUSY",
          Disposition.ABANDONED: "NO ANSWER", Disposition.FAILED: "FAILED", Disposition.TRANSFERRED: "ANSWERED"}


@dataclass
class _Leg:
    extension: str
    direction: Direction
    number: str
    ddr: str | None
    started: datetime
    caller_side: bool  # this extension placed the call
    linked_id: str  # Asterisk's Linkedid of the call (the simulator's call id without a fake Asterisk)
    answered: datetime | None = None


@dataclass
class Dial:
    callid: str
    agent: str
    phone: str
    ts: int
    sim_call_id: str | None = None
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class FakeForip:
    def __init__(self, sim: SimulatorDriver, *, odbc: str | None = None, email: str = EMAIL,
                 password: str = PASSWORD, base: str = BASE) -> None:
        self.sim = sim
        self.odbc = odbc
        self.email, self.password, self.base = email, password, base.rstrip("/")
        self.port = 0
        self.fault: str | None = None
        self.faults: list[str] = []
        self.slow_seconds = 3.0
        self.keys: set[str] = set()
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, endpoint, params)
        self.dials: list[Dial] = []
        self.tickets_written = 0
        self.ticket_errors: list[str] = []
        self.listeners: list[Callable[[PbxEvent], None]] = []  # also told every simulator event
        self._owns_sim = True  # reads the simulator's events itself (see `on_sim_ami` for the other case)
        # the Linkedid a ticket gets, from the simulator's call id and the extension
        self.linked_id_of: Callable[[str, str], str] = lambda call_id, extension: call_id
        self._server: asyncio.AbstractServer | None = None
        self._listening = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._legs: dict[tuple[str, str], _Leg] = {}
        self._crm_calls: dict[str, str] = {}  # sim call id -> ForIP callid
        self._pump: asyncio.Task[None] | None = None
        self._db: pyodbc.Connection | None = None
        self._db_lock = asyncio.Lock()
        self._written = asyncio.Condition()

    @classmethod
    def on_sim_ami(cls, sim_ami: Any, **options: Any) -> FakeForip:
        """The CRM API of the fake Asterisk `sim_ami` (tests/asterisk/sim_ami.py): both in front of one
        simulator, so ForIP's API dials and the AMI tells what happens. The fake Asterisk reads the
        simulator's events; this one watches them through the simulator's hook."""
        fake = cls(sim_ami.sim, **options)
        fake._owns_sim = False

        def linked_id(call_id: str, extension: str) -> str:  # the extension's channel, just created
            chan = sim_ami.channel_of(extension)
            return chan.linkedid if chan is not None else call_id

        fake.linked_id_of = linked_id
        previous = sim_ami.sim.hook

        def hook(event: PbxEvent) -> None:
            if previous is not None:
                previous(event)
            fake.observe(event)

        sim_ami.sim.hook = hook
        return fake

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint_requests(self, endpoint: str) -> list[dict[str, str]]:
        return [params for _, name, params in self.requests if name == endpoint]

    # ---- life ----

    async def start(self) -> FakeForip:
        """Starts (or restarts, on the same port) the HTTP server; the simulator keeps running."""
        if self._pump is None and self._owns_sim:
            await self.sim.connect()
            self._pump = asyncio.get_running_loop().create_task(self._read_sim())
        self._listening = True
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def reserve_port(self) -> int:
        """A free port to give the driver before the server starts (server down at start)."""
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        self.port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()
        return self.port

    async def stop(self) -> None:
        """The web server goes away: listener closed, open connections cut."""
        self._listening = False
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def close(self) -> None:
        await self.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._owns_sim:
            await self.sim.close()
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        if self._db is not None:
            await asyncio.to_thread(self._db.close)

    def expire_keys(self) -> None:
        self.keys.clear()

    async def wait_tickets(self, count: int, timeout: float = 5.0) -> None:
        async def enough() -> None:
            async with self._written:
                await self._written.wait_for(lambda: self.tickets_written >= count or bool(self.ticket_errors))
        await asyncio.wait_for(enough(), timeout)
        assert not self.ticket_errors, self.ticket_errors

    # ---- HTTP ----

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._listening:  # accepted just before the service stopped: drop it like the others
            writer.transport.abort()
            return
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                fault = self.faults.pop(0) if self.faults else self.fault
                status, payload = await self._handle(method, target, body, fault)
                if fault in FLOODS:  # the request was carried out, its reply never ends (tests/floods.py)
                    await flood(writer, fault, "application/json")
                    return
                if fault == "drop":  # the request was carried out, the connection dies before the reply
                    writer.transport.abort()
                    return
                if fault == "slow":
                    await asyncio.sleep(self.slow_seconds)
                if fault == "http_500":
                    status, payload = 500, b"<html><body><h1>Internal error</h1>Ticket issued: admanager/1</body></html>"
                elif fault == "bad_json":
                    payload = b'{"status": 0, "callid": "2026'
                kind = b"application/json" if status == 200 else b"text/html"
                writer.write(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                             % (status, kind, len(payload)) + payload)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _handle(self, method: str, target: str, body: bytes, fault: str | None) -> tuple[int, bytes]:
        url = urlsplit(target)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
        if not url.path.startswith(self.base + "/"):
            return 404, b"invalid controller"
        endpoint = url.path[len(self.base) + 1:]
        self.requests.append((method, endpoint, params))
        if endpoint == "login_crm":
            return 200, _json(self._login(method, params))
        if endpoint == "disca_crm":
            return 200, _json(await self._disca(params))  # the dial happens even when the reply then fails
        return 404, b"invalid function"

    def _login(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        if method != "POST":
            return {"error": "method post failed"}
        if params.get("email") != self.email:
            return {"error": "email invalido"}
        if params.get("senha") != self.password:
            return {"error": "senha incorreta"}
        key = secrets.token_urlsafe(24)
        self.keys.add(key)
        return {"email": self.email, "name": "agent01", "id": 1, "api_key": key}

    async def _disca(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("api_key") not in self.keys:
            return {"error": "api_key invalido"}
        agent, phone, ts = params.get("agent", ""), params.get("phone", ""), params.get("ts", "0")
        if agent not in self.sim.scenario.extensions:
            return {"error": f"agente {agent or '?'} inexistente"}
        if not phone.isdigit():
            return {"error": "default"}
        now = datetime.now(UTC).astimezone(ZONE)
        callid = f"{now:%Y%m%d}/CRM-{agent}-{phone}-{now:%H%M%S}"
        dial = Dial(callid, agent, phone, int(ts) if ts.isdigit() else 0)
        self.dials.append(dial)
        if dial.ts == 0:
            await self._place(dial)
        else:  # ForIP touches the call file's mtime: Asterisk places it then
            self._spawn(self._place_at(dial))
        return {"status": 0, "callid": callid}

    async def _place_at(self, dial: Dial) -> None:
        await asyncio.sleep(max(0.0, dial.ts - datetime.now(UTC).timestamp()))
        await self._place(dial)

    async def _place(self, dial: Dial) -> None:
        try:
            dial.sim_call_id = await self.sim.dial(dial.agent, dial.phone)
            self._crm_calls[dial.sim_call_id] = dial.callid
        except PbxError as exc:
            dial.error = str(exc)
        dial.done.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- the simulator's calls become tickets ----

    async def _read_sim(self) -> None:
        async for event in self.sim.events():
            self.observe(event)

    def observe(self, event: PbxEvent) -> None:
        """One simulator event: a call leg that ends becomes a ticket."""
        for listener in self.listeners:
            listener(event)
        if not isinstance(event, (CallRinging, CallDialing, CallAnswered, CallEnded, CallTransferred, CallParked)):
            return
        assert event.extension is not None and event.call_id is not None
        key = (event.call_id, event.extension)
        if isinstance(event, (CallRinging, CallDialing)):
            if key not in self._legs:
                self._legs[key] = _Leg(event.extension, event.direction or Direction.INTERNAL, event.number or "",
                                       event.ddr, event.at, caller_side=isinstance(event, CallDialing),
                                       linked_id=self.linked_id_of(event.call_id, event.extension))
        elif isinstance(event, CallAnswered):
            if key in self._legs and self._legs[key].answered is None:
                self._legs[key].answered = event.at
        else:
            leg = self._legs.pop(key, None)
            if leg is not None and self.odbc is not None and leg.number.lstrip("+").isdigit():
                disposition = event.disposition if isinstance(event, CallEnded) else Disposition.TRANSFERRED
                self._spawn(self._write_ticket(event.call_id, leg, event.at, disposition))

    async def _write_ticket(self, call_id: str, leg: _Leg, ended: datetime, disposition: Disposition) -> None:
        if leg.direction is Direction.INTERNAL and not leg.caller_side:
            return  # one ticket per internal call, the caller's
        if leg.direction is Direction.INBOUND:
            origem, destino, id_destino = leg.number, leg.extension, -1
        elif leg.direction is Direction.OUTBOUND:
            origem, destino, id_destino = leg.extension, leg.number, 1
        else:
            origem, destino, id_destino = leg.extension, leg.number, 0
        answered = leg.answered is not None
        talk = int((ended - leg.answered).total_seconds()) if leg.answered else 0
        local = leg.started.astimezone(ZONE)
        crm = self._crm_calls.get(call_id)
        arquivo = crm.split("/", 1)[1] if crm else f"{local:%H%M%S}-{call_id}-{leg.extension}"[:50]
        status = STATUS[disposition] if not answered else "ANSWERED"
        rows: list[tuple[str, tuple[Any, ...]]] = [(
            "INSERT INTO f_bilhetes_chamadas (origem, destino, linked_id, horario, status, tempo, id_empresa, "
            "id_destino, gravacao, atendido, arquivo_gravacao) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
            (origem, destino, leg.linked_id, local.replace(tzinfo=None), status, talk, id_destino, answered,
             "S" if answered else "N", arquivo if answered else None))]
        if leg.direction is Direction.INBOUND and leg.ddr:
            rows.append(("INSERT INTO f_direcionamento (origem, ddr, ramal_virtual) VALUES (?, ?, ?)",
                         (leg.number, leg.ddr[-10:], leg.extension)))
        try:
            async with self._db_lock:
                await asyncio.to_thread(self._insert, rows)
        except pyodbc.Error as exc:
            self.ticket_errors.append(str(exc))
        async with self._written:
            self.tickets_written += 1
            self._written.notify_all()

    def _insert(self, rows: list[tuple[str, tuple[Any, ...]]]) -> None:
        if self._db is None:
            assert self.odbc is not None
            self._db = pyodbc.connect(self.odbc, autocommit=True)
        cursor = self._db.cursor()
        for sql, params in rows:
            cursor.execute(sql, *params)
        cursor.close()


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()
