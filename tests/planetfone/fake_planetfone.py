"""A fake Planetfone: the SOAP service `wenvpabx2` on 127.0.0.1, driven by the product's simulator.

- A plain asyncio HTTP/1.1 server (keep-alive, Content-Length) answers SOAP 1.1 envelopes for the
  operations the driver uses. Commands act on a `SimulatorDriver` in scripted mode (extensions
  1001–1003, the recording "gravacao-demo"), so calls really ring, get answered, transferred, parked.
- The polled state (`CanaisAtivos`, `SituacaoAgente`) is built from the simulator's events the way
  Asterisk shows channels: one channel per extension leg (`SIP/1001-0000002a`, `State` Ringing / Ring /
  Up, a held leg in context "hold"), one trunk channel per outside party, a parked call in
  "parkedcalls" with its slot; every channel of a call carries the call's IdLigacao in `Account`.
- When a leg ends, the fake INSERTs its CDR row into the real MariaDB test database (when given),
  like Planetfone's Asterisk does, before the leg disappears from `CanaisAtivos`.
- Faults on demand: `stop()`/`start()` (down, or lost mid-call), `fail("bad_xml" | "http500" |
  "fault" | "slow" | "drop", operations…, times=…)`, a forced `IdtResultado` per operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import aiomysql

from tests.floods import flood
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
)
from tui_caa.domain.telephony import CallState, Direction, Disposition, ExtensionState
from tui_caa.pbx.base import PbxError
from tui_caa.pbx.sim import SimScenario, SimulatorDriver

EXTENSIONS = ("1001", "1002", "1003")
RECORDING = "gravacao-demo"
ZONE = ZoneInfo("America/Sao_Paulo")
NS = "http://appserver/"

CDR_SCHEMA = """CREATE TABLE `{table}` (
  `calldate` datetime NOT NULL,
  `clid` varchar(80) NOT NULL DEFAULT '',
  `src` varchar(80) NOT NULL DEFAULT '',
  `dst` varchar(80) NOT NULL DEFAULT '',
  `dcontext` varchar(80) NOT NULL DEFAULT '',
  `channel` varchar(80) NOT NULL DEFAULT '',
  `dstchannel` varchar(80) NOT NULL DEFAULT '',
  `lastapp` varchar(80) NOT NULL DEFAULT '',
  `lastdata` varchar(80) NOT NULL DEFAULT '',
  `duration` int(11) NOT NULL DEFAULT 0,
  `billsec` int(11) NOT NULL DEFAULT 0,
  `disposition` varchar(45) NOT NULL DEFAULT '',
  `amaflags` int(11) NOT NULL DEFAULT 0,
  `accountcode` varchar(20) NOT NULL DEFAULT '',
  `uniqueid` varchar(32) NOT NULL DEFAULT '',
  `userfield` varchar(255) NOT NULL DEFAULT '',
  `did` varchar(50) NOT NULL DEFAULT '',
  `recordingfile` varchar(255) NOT NULL DEFAULT '',
  `linkedid` varchar(32) NOT NULL DEFAULT '',
  KEY `calldate` (`calldate`), KEY `linkedid` (`linkedid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""

_DISPOSITIONS = {Disposition.ANSWERED: "ANSWERED", Disposition.NO_ANSWER: "NO ANSWER",
                 Disposition.ABANDONED: "NO ANSWER", Disposition.BUSY: "BUSY", Disposition.FAILED: "FAILED",
                 Disposition.TRANSFERRED: "ANSWERED"}


def mysql_params(dsn: str) -> dict[str, Any]:
    """mysql://user:pass@host:port/db → aiomysql.connect keyword arguments."""
    url = urlparse(dsn)
    return {"host": url.hostname or "127.0.0.1", "port": url.port or 3306, "user": unquote(url.username or ""),
            "password": unquote(url.password or ""), "db": url.path.lstrip("/"), "autocommit": True}


@dataclass
class FakeLeg:
    call_id: str
    extension: str
    channel: str
    uniqueid: str
    state: CallState
    direction: Direction
    number: str | None
    ddr: str | None
    caller_name: str | None
    placed: bool
    started: datetime
    answered: datetime | None = None


@dataclass
class Fault:
    mode: str
    operations: frozenset[str] | None
    times: int | None


@dataclass
class FakeCall:
    idlig: str
    trunk: str
    trunk_uniqueid: str
    exts: dict[str, str] = field(default_factory=dict)  # extensions that had a leg: ext -> channel


class FakePlanetfone:
    def __init__(self, *, mysql_dsn: str | None = None, cdr_table: str = "cdr", port: int = 0,
                 slow_seconds: float = 2.0) -> None:
        self.sim = SimulatorDriver(SimScenario(extensions=EXTENSIONS, recordings=((RECORDING, 30.0),)),
                                   id_prefix="pf")
        self.mysql_dsn = mysql_dsn
        self.cdr_table = cdr_table
        self.port = port
        self.slow_seconds = slow_seconds
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.results: dict[str, str] = {}  # operation -> forced IdtResultado
        self.faults: list[Fault] = []
        self.floods: dict[str, str] = {}  # operation ("*": every one) → a flood of tests/floods.py, while set
        self.cdr_rows = 0
        self._server: asyncio.AbstractServer | None = None
        self._listening = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._db: aiomysql.Connection | None = None
        self._legs: dict[tuple[str, str], FakeLeg] = {}
        self._calls: dict[str, FakeCall] = {}  # sim call id -> call
        self._by_idlig: dict[str, str] = {}
        self._parked: dict[str, str] = {}  # slot -> sim call id
        self._ext_states: dict[str, ExtensionState] = dict.fromkeys(EXTENSIONS, ExtensionState.IDLE)
        self._seq = itertools.count(0x2A)
        self._epoch = int(time.time())
        self._processing = False

    # ================================================================ life

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/wenvpabx2"

    async def open(self) -> FakePlanetfone:
        """The PBX itself (simulator, CDR table); the SOAP service is `start()`ed apart."""
        await self.sim.connect()
        if self.mysql_dsn:
            self._db = await aiomysql.connect(**mysql_params(self.mysql_dsn))
            async with self._db.cursor() as cur:  # a fresh name per fake: no table to drop first
                await cur.execute(CDR_SCHEMA.format(table=self.cdr_table))
        self._pump = asyncio.get_running_loop().create_task(self._follow(), name="fake-planetfone-pump")
        return self

    async def start(self) -> FakePlanetfone:
        if self._pump is None:
            await self.open()
        self._listening = True
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """The service goes away (the PBX's calls go on): open connections are cut."""
        self._listening = False
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._handlers):
            task.cancel()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    async def close(self) -> None:
        await self.stop()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
        await self.sim.close()
        if self._db is not None:
            with contextlib.suppress(Exception):
                async with self._db.cursor() as cur:
                    await cur.execute(f"DROP TABLE IF EXISTS `{self.cdr_table}`")
            self._db.close()

    def fail(self, mode: str, *operations: str, times: int | None = None) -> None:
        self.faults.append(Fault(mode, frozenset(operations) or None, times))

    def clear_faults(self) -> None:
        self.faults.clear()

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.requests if op == operation)

    # ================================================================ the simulator's events

    async def settled(self) -> None:
        """Until every event the simulator emitted so far is applied (CDR rows written)."""
        while self._processing or self.sim._stream._backlog:  # test code: the backlog is the truth
            await asyncio.sleep(0.002)

    async def _follow(self) -> None:
        async for event in self.sim.events():
            self._processing = True
            try:
                await self._apply(event)
            except Exception as exc:  # a fake that dies silently makes tests lie
                print(f"fake planetfone: event {event!r} failed: {exc!r}")
                raise
            finally:
                self._processing = False

    def _call(self, call_id: str) -> FakeCall:
        call = self._calls.get(call_id)
        if call is None:
            n = next(self._seq)
            call = FakeCall(idlig=f"{self._epoch}.{n}", trunk=f"SIP/trunk-{n:08x}", trunk_uniqueid=f"{self._epoch}.{n}")
            self._calls[call_id] = call
            self._by_idlig[call.idlig] = call_id
        return call

    def idlig(self, call_id: str) -> str:
        return self._call(call_id).idlig

    async def _apply(self, event: Any) -> None:
        if isinstance(event, ExtensionStateChanged) and event.extension:
            self._ext_states[event.extension] = event.state
            return
        if not isinstance(event, CallEvent) or not event.extension or not event.call_id:
            return
        key = (event.call_id, event.extension)
        leg = self._legs.get(key)
        now = event.at
        if leg is None and not isinstance(event, (CallEnded, CallTransferred, CallParked)):
            call = self._call(event.call_id)
            for slot, cid in list(self._parked.items()):
                if cid == event.call_id:
                    del self._parked[slot]
            n = next(self._seq)
            placed = isinstance(event, CallDialing) or (
                not isinstance(event, CallRinging) and event.direction is Direction.OUTBOUND)
            leg = FakeLeg(call_id=event.call_id, extension=event.extension,
                          channel=f"SIP/{event.extension}-{n:08x}", uniqueid=f"{self._epoch}.{n}",
                          state=event.state or CallState.ACTIVE, direction=event.direction or Direction.INBOUND,
                          number=event.number, ddr=event.ddr, caller_name=getattr(event, "caller_name", None),
                          placed=placed, started=now)
            call.exts[event.extension] = leg.channel
            self._legs[key] = leg
        if leg is None:  # an end for a leg never announced (busy at offer): still a CDR row
            call = self._call(event.call_id)
            n = next(self._seq)
            leg = FakeLeg(call_id=event.call_id, extension=event.extension, channel=f"SIP/{event.extension}-{n:08x}",
                          uniqueid=f"{self._epoch}.{n}", state=CallState.RINGING,
                          direction=event.direction or Direction.INBOUND, number=event.number, ddr=event.ddr,
                          caller_name=None, placed=False, started=now)
        match event:
            case CallAnswered() | CallResumed():
                leg.state, leg.answered = CallState.ACTIVE, leg.answered or now
            case CallHeld():
                leg.state = CallState.HELD
            case CallConsulting():
                leg.state = CallState.CONSULTING
            case CallParked():
                self._parked[event.slot] = event.call_id
                await self._end(leg, now, "ANSWERED" if leg.answered else "NO ANSWER", None)
            case CallTransferred():
                await self._end(leg, now, "ANSWERED" if leg.answered else "NO ANSWER", event.recording_ref)
            case CallEnded():
                await self._end(leg, now, _DISPOSITIONS[event.disposition], event.recording_ref)

    async def _end(self, leg: FakeLeg, now: datetime, disposition: str, recording: str | None) -> None:
        call = self._call(leg.call_id)
        if self._db is not None:
            if leg.placed:
                channel, src, dst = leg.channel, leg.extension, leg.number or ""
                other = next((ch for ext, ch in call.exts.items() if ext == leg.number), None)
                dstchannel = other or (call.trunk if leg.direction is Direction.OUTBOUND else f"Local/{dst}@from-internal-0000;1")
            else:
                dstchannel, dst, src = leg.channel, leg.extension, leg.number or ""
                other = next((ch for ext, ch in call.exts.items() if ext == leg.number), None)
                channel = other or (call.trunk if leg.direction is Direction.INBOUND else f"Local/{src}@from-internal-0000;2")
            duration = max(int((now - leg.started).total_seconds()), 0)
            billsec = max(int((now - leg.answered).total_seconds()), 0) if leg.answered else 0
            if leg.answered and disposition != "ANSWERED":
                disposition = "ANSWERED"
            row = {
                "calldate": leg.started.astimezone(ZONE).replace(tzinfo=None, microsecond=0),
                "clid": f'"{leg.caller_name or ""}" <{src}>', "src": src, "dst": dst,
                "dcontext": "from-trunk" if leg.direction is Direction.INBOUND else "from-internal",
                "channel": channel, "dstchannel": dstchannel, "duration": duration, "billsec": billsec,
                "disposition": disposition, "uniqueid": leg.uniqueid, "did": leg.ddr or "",
                "recordingfile": recording or "", "linkedid": call.idlig,
            }
            columns = ", ".join(f"`{k}`" for k in row)
            async with self._db.cursor() as cur:
                await cur.execute(f"INSERT INTO `{self.cdr_table}` ({columns}) VALUES ({', '.join(['%s'] * len(row))})",
                                  tuple(row.values()))
            self.cdr_rows += 1
        self._legs.pop((leg.call_id, leg.extension), None)

    # ================================================================ what the polls see

    def channel_rows(self) -> list[dict[str, str]]:
        rows = []
        now = datetime.now(UTC)
        trunks: dict[str, dict[str, str]] = {}
        for leg in self._legs.values():
            call = self._call(leg.call_id)
            held = leg.state in (CallState.HELD, CallState.CONSULTING)
            state = {CallState.RINGING: "Ringing", CallState.DIALING: "Ring"}.get(leg.state, "Up")
            if leg.placed:
                cid_num, exten = leg.extension, leg.number or ""
            else:
                cid_num, exten = leg.number or "", leg.extension
            rows.append(_channel(leg.channel, leg.uniqueid, call.idlig, state, cid_num, leg.caller_name or "",
                                 exten, "hold" if held else "from-internal", now - leg.started))
            view = self.sim.call(leg.call_id)
            if view is not None and view.external and leg.call_id not in trunks:
                answered = view.remote_state == "connected" or leg.answered is not None
                trunks[leg.call_id] = _channel(call.trunk, call.trunk_uniqueid, call.idlig, "Up" if answered else "Ring",
                                               view.external, "", leg.ddr or leg.extension, "from-trunk",
                                               now - leg.started)
        for slot, call_id in self._parked.items():
            view = self.sim.call(call_id)
            if view is None or view.parked_slot != slot:
                continue
            call = self._call(call_id)
            trunks[call_id] = _channel(call.trunk, call.trunk_uniqueid, call.idlig, "Up", view.external or "", "",
                                       slot, "parkedcalls", now - now)
        return rows + list(trunks.values())

    # ================================================================ HTTP

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._listening:  # accepted just before the service stopped: drop it like the others
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                operation = headers.get("soapaction", "").strip('"')
                if (mode := self.floods.get(operation, self.floods.get("*"))) is not None:
                    self.requests.append((operation, {}))
                    await flood(writer, mode, "text/xml; charset=utf-8")
                    return
                status, payload = await self._answer(lines[0], body)
                if status == 0:  # "drop": cut the connection without a word
                    return
                reason = {200: "OK", 500: "Internal Server Error", 404: "Not Found", 400: "Bad Request"}[status]
                writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml; charset=utf-8\r\n"
                             f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (asyncio.CancelledError, ConnectionError):
            return
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, request_line: str, body: bytes) -> tuple[int, bytes]:
        parts = request_line.split(" ")
        if len(parts) < 2 or parts[0] != "POST" or not parts[1].startswith("/wenvpabx2"):
            return 404, b"<error>no such service</error>"
        try:
            root = ET.fromstring(body)
            operation_el = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]  # type: ignore[index]
        except (ET.ParseError, TypeError, IndexError):
            return 400, b"<error>not a SOAP envelope</error>"
        operation = operation_el.tag.rsplit("}", 1)[-1]
        params = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in operation_el}
        self.requests.append((operation, params))
        for fault in list(self.faults):
            if fault.operations is not None and operation not in fault.operations:
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            if fault.mode == "bad_xml":
                return 200, b"<soap:Envelope><soap:Body><unclosed>"
            if fault.mode == "http500":
                return 500, b"<html>Internal Server Error</html>"
            if fault.mode == "fault":
                return 500, _fault("soap:Server", "java.lang.NullPointerException in appserverpla")
            if fault.mode == "drop":
                return 0, b""
            if fault.mode == "slow":
                await asyncio.sleep(self.slow_seconds)
            break
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            return 500, _fault("soap:Client", f"unknown operation {operation}")
        await self.settled()
        forced = self.results.get(operation)
        if forced is not None:  # the PBX says no (or yes) without doing anything
            return 200, _response(operation, {"status": "0", "IdtResultado": forced}, {})
        fields, lists = await handler(params)
        return 200, _response(operation, fields, lists)

    # ================================================================ operations

    async def op_CanaisAtivos(self, p: dict[str, str]) -> tuple[dict, dict]:
        rows = self.channel_rows()
        if p.get("IdLigacao"):
            rows = [row for row in rows if row["Account"] == p["IdLigacao"]]
        return {"Total": str(len(rows))}, {"ArrayOfCanaisAtivosDadosCanais": ("DadosCanais", rows)}

    async def op_SituacaoAgente(self, p: dict[str, str]) -> tuple[dict, dict]:
        codes = {ExtensionState.OFFLINE: "N", ExtensionState.IDLE: "L", ExtensionState.RINGING: "T",
                 ExtensionState.DIALING: "D", ExtensionState.IN_CALL: "A", ExtensionState.ON_HOLD: "A",
                 ExtensionState.DND: "P"}
        rows = [{"NroAgente": ext, "IdtStatus": codes.get(state, "L"), "NomeAgente": f"Vendedor {ext}",
                 "CodigoPausa": "0", "NroRamal": ext, "HorLogin": "", "HorPausa": "", "StatusPausa": "0"}
                for ext, state in self._ext_states.items() if p.get("NroAgente") in ("", "0", ext)]
        return ({"status": "0", "HorarioServidor": datetime.now(ZONE).strftime("%Y-%m-%d %H:%M:%S")},
                {"ArrayOfSituacaoAgenteStatusAgente": ("StatusAgente", rows)})

    async def op_BuscaDadosLigacao(self, p: dict[str, str]) -> tuple[dict, dict]:
        call_id = self._by_idlig.get(p.get("IdLigacao", ""))
        legs = [leg for leg in self._legs.values() if leg.call_id == call_id]
        if not legs:
            return {"status": "1", "NroTelefChamado": "", "NroTelefone": "", "HorInicio": "", "HorTermino": "",
                    "IdtStatus": "F"}, {}
        leg = legs[0]
        status = "T" if leg.state is CallState.RINGING else "A"
        return {"status": "0", "NroTelefChamado": leg.ddr or "", "NroTelefone": leg.number or "",
                "HorInicio": leg.started.astimezone(ZONE).strftime("%Y-%m-%d %H:%M:%S"), "HorTermino": "",
                "IdtStatus": status}, {}

    async def op_AbreAtendimento(self, p: dict[str, str]) -> tuple[dict, dict]:
        legs = [leg for leg in self._legs.values() if leg.extension == p.get("NroAgente") and
                leg.state is CallState.RINGING and not leg.placed]
        if not legs:
            return {"status": "1", "NroTelefChamado": "", "CodFila": "", "CodCanal": "", "IdtSolicitante": "",
                    "NroSolicitante": "0", "NroTelefSolic": "", "IdLigacao": "", "HorInicio": ""}, {}
        leg = legs[0]
        return {"status": "0", "NroTelefChamado": leg.ddr or "", "CodFila": "", "CodCanal": leg.channel,
                "IdtSolicitante": "C", "NroSolicitante": "0", "NroTelefSolic": leg.number or "",
                "IdLigacao": self.idlig(leg.call_id), "HorInicio": ""}, {}

    async def op_Disca(self, p: dict[str, str]) -> tuple[dict, dict]:
        out = {"status": "0", "IdtResultado": "A", "IdLigacao": "", "IdtResultadoOrigem": "A", "IdLigacaoDestino": "",
               "IdLigacaoOrigem": "", "CodCanalDestino": "", "CodCanalOrigem": "", "TextoErroDestino": "",
               "TextoErroOrigem": ""}
        try:
            call_id = await self.sim.dial(p.get("NroTelefOrigem", ""), p.get("NroTelefDestino", ""))
        except PbxError as exc:
            text = str(exc)
            out["IdtResultado"] = "O" if "busy" in text else "N" if "number" in text or "extension" in text else "E"
            out["TextoErroOrigem"] = text
            return out, {}
        out["IdLigacao"] = self.idlig(call_id)
        return out, {}

    def _leg_by_channel(self, channel: str) -> FakeLeg | None:
        return next((leg for leg in self._legs.values() if leg.channel == channel), None)

    async def _run(self, out: dict[str, str], action: Any, ok: str = "S") -> dict[str, str]:
        try:
            result = await action
        except PbxError as exc:
            out["IdtResultado"] = "I" if "no call" in str(exc) or "not at extension" in str(exc) else "E"
            out["TextoErroDestino"] = str(exc)
            return out
        out["IdtResultado"] = ok
        out["_result"] = result if isinstance(result, str) else ""
        return out

    async def op_DesligaChamada(self, p: dict[str, str]) -> tuple[dict, dict]:
        leg = self._leg_by_channel(p.get("CodCanal", ""))
        if leg is None:
            call_id = self._by_idlig.get(p.get("IdLigacao", ""))
            leg = next((x for x in self._legs.values() if x.call_id == call_id), None)
        if leg is None:
            return {"status": "0", "IdtResultado": "I"}, {}
        out = await self._run({"status": "0"}, self.sim.hangup(leg.extension, leg.call_id))
        return {"status": "0", "IdtResultado": out["IdtResultado"]}, {}

    async def op_TransfereChamada(self, p: dict[str, str]) -> tuple[dict, dict]:
        call_id = self._by_idlig.get(p.get("IdLigacao", ""))
        moved = p.get("CodCanal", "")
        legs = [leg for leg in self._legs.values() if leg.call_id == call_id and leg.channel != moved]
        base = {"status": "0", "IdtResultado": "I", "IdLigacao": p.get("IdLigacao", ""), "IdLigacaoDestino": "",
                "CodCanalDestino": "", "TextoErroDestino": ""}
        if not legs:
            return base, {}
        out = await self._run(base, self.sim.blind_transfer(legs[0].extension, legs[0].call_id,
                                                            p.get("NroRamalDestino", "")))
        out.pop("_result", None)
        return out, {}

    async def op_TransfereComConsulta(self, p: dict[str, str]) -> tuple[dict, dict]:
        call_id = self._by_idlig.get(p.get("IdLigacao", ""))
        ext = p.get("NroRamalOrigem", "")
        base = {"status": "0", "IdtResultado": "I", "IdLigacao": p.get("IdLigacao", ""), "IdLigacaoDestino": "",
                "CodCanalDestino": "", "TextoErroDestino": ""}
        if call_id is None:
            return base, {}
        step = p.get("IdtOperacao", "")
        if step == "C":
            out = await self._run(base, self.sim.consult(ext, call_id, p.get("NroTelefDestino", "")), ok="A")
        elif step == "T":
            out = await self._run(base, self.sim.complete_transfer(ext, call_id), ok="C")
        elif step == "R":
            out = await self._run(base, self.sim.cancel_transfer(ext, call_id), ok="S")
        else:
            base["IdtResultado"] = "E"
            return base, {}
        out.pop("_result", None)
        return out, {}

    async def op_EstacionaChamada(self, p: dict[str, str]) -> tuple[dict, dict]:
        call_id = self._by_idlig.get(p.get("IdLigacao", ""))
        base = {"status": "0", "IdtResultado": "I", "IdLigacao": p.get("IdLigacao", ""), "NroVagaEstac": ""}
        if call_id is None:
            return base, {}
        out = await self._run(base, self.sim.park(p.get("NroRamalOrigem", ""), call_id))
        out["NroVagaEstac"] = out.pop("_result", "")
        out.pop("TextoErroDestino", None)
        return out, {}

    async def op_CapturaLigacao(self, p: dict[str, str]) -> tuple[dict, dict]:
        channel, picker = p.get("CodCanal", ""), p.get("NroRamalDestino", "")
        target = next((slot for slot, cid in self._parked.items() if self._call(cid).trunk == channel), None)
        if target is None:
            leg = self._leg_by_channel(channel)
            target = leg.extension if leg is not None else None
        if target is None:
            return {"status": "0", "IdtResultado": "E"}, {}
        out = await self._run({"status": "0"}, self.sim.pickup(picker, target))
        return {"status": "0", "IdtResultado": out["IdtResultado"]}, {}

    async def op_BuscaGravacaoParaRamal(self, p: dict[str, str]) -> tuple[dict, dict]:
        name = p.get("NomeArquivo", "")
        ref = next((r for r in self.sim.recordings if r == name or r.rsplit(".", 1)[0] == name), None)
        if ref is None:
            return {"status": "0", "IdtResultado": "I", "NomeArquivo": name}, {}
        out = await self._run({"status": "0"}, self.sim.play_recording(ref, p.get("Ramal", "")))
        return {"status": "0", "IdtResultado": out["IdtResultado"], "NomeArquivo": ref}, {}


def _channel(name: str, uniqueid: str, account: str, state: str, cid_num: str, cid_name: str, exten: str,
             context: str, age: Any) -> dict[str, str]:
    return {"Account": account, "CallerID": cid_num, "CallerIDName": cid_name, "CallerIDNum": cid_num,
            "Channel": name, "Context": context, "Event": "Status", "Extension": exten, "Priority": "1",
            "Privilege": "Call", "Seconds": str(max(int(age.total_seconds()), 0)), "State": state,
            "Uniqueid": uniqueid}


def _response(operation: str, fields: dict[str, str], lists: dict[str, tuple[str, list[dict[str, str]]]]) -> bytes:
    parts = [f"<tns:{k}>{escape(str(v))}</tns:{k}>" for k, v in fields.items() if not k.startswith("_")]
    for array, (item, rows) in lists.items():
        inner = "".join(f"<tns:{item}>" + "".join(f"<tns:{k}>{escape(str(v))}</tns:{k}>" for k, v in row.items())
                        + f"</tns:{item}>" for row in rows)
        parts.append(f"<tns:{array}>{inner}</tns:{array}>")
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:tns="http://appserver/">'
            f"<soap:Body><tns:{operation}Response><tns:{operation}Resultado>{''.join(parts)}"
            f"</tns:{operation}Resultado></tns:{operation}Response></soap:Body></soap:Envelope>").encode()


def _fault(code: str, text: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>'
            f"<faultcode>{escape(code)}</faultcode><faultstring>{escape(text)}</faultstring>"
            "</soap:Fault></soap:Body></soap:Envelope>").encode()
