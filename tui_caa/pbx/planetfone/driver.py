"""The Planetfone driver: SOAP commands, polled state, and the PBX's MySQL CDR.

Planetfone (an Asterisk-based PBX) offers the SOAP service `wenvpabx2` (port 3080; WSDL public,
reference §1.2) and a MySQL database with the Asterisk CDR. The service pushes nothing, so:

- one pump task polls `CanaisAtivos` (every channel) and `SituacaoAgente` (agents' extensions) every
  `poll_interval`; `Tracker` turns the differences into domain events, each once. A new inbound leg's
  DDR comes from `BuscaDadosLigacao(IdLigacao).NroTelefChamado`, else (when `abre_atendimento`) from
  `AbreAtendimento(NroAgente=extension)`, else from the CDR's `did`. A leg that vanished ends as the
  CDR says (disposition, recording), or as a transfer/park/pickup the driver asked for;
- a CDR sweep (every `cdr_sweep_interval`) gives the events of calls that began and ended between two
  polls (and during an outage), once: ringing or dialing, answered, ended;
- when a poll fails (no answer, timeout, HTTP error, bad XML, SOAP Fault): `DriverDisconnected`,
  retries with exponential backoff, then `DriverConnected`, `DriverResynced`. Commands meanwhile
  raise `NotConnected`. A `Disca` is never re-sent (nothing is retried but the polls).

Commands: dial (`Disca`: NroTelefOrigem = the extension), hang up (`DesligaChamada` of the
extension's own channel), blind transfer (`TransfereChamada`), attended transfer
(`TransfereComConsulta`, IdtOperacao C → T or R), park (`EstacionaChamada` → NroVagaEstac), pickup
(`CapturaLigacao` of a parked or ringing channel), play a recording (`BuscaGravacaoParaRamal`). The
API has no answer, hold or DTMF operation: those are not offered.

Assumptions (not public; each is a `[pbx.planetfone]` setting, see README):
- a `CanaisAtivos` row carries the call's IdLigacao in `Account` (`call_id_field`; Asterisk copies
  the accountcode to the channels a call dials), else its own `Uniqueid` is used;
- the extension of a channel comes from its name (`channel_pattern`, e.g. `SIP/1001-0000002a`);
  `State` "Ringing" is an inbound call alerting the phone, "Ring" an outbound call; a held channel sits
  in a `held_contexts` context; a parked call's channel is in `park_context` with the slot as Extension;
- the CDR table is Asterisk's (`cdr`, FreePBX-style `did` and `recordingfile`), its `linkedid`
  equals IdLigacao, and `calldate` is in `cdr_timezone`;
- a Disca answer "A" (atendido) means the call is under way; it returns IdLigacao.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from tui_caa.domain.events import PbxSnapshot
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import CallRecord, CallState, Capability
from tui_caa.pbx.base import (
    DATABASE_PART,
    PBX_PART,
    CheckResult,
    NotConnected,
    PbxError,
    Unsupported,
    checked_extension,
    checked_number,
)
from tui_caa.pbx.link import EVENT_BACKLOG, PumpedDriver
from tui_caa.pbx.options.planetfone import PlanetfoneOptions
from tui_caa.pbx.planetfone.cdr import CdrError, CdrLeg, CdrStore, legs_of, record_of
from tui_caa.pbx.planetfone.results import check as check_result
from tui_caa.pbx.planetfone.soap import Result, SoapClient, SoapError, SoapUnreachable
from tui_caa.pbx.planetfone.tracker import Intent, Leg, Plan, Tracker, ViewRules, read_view

log = logging.getLogger(__name__)

DEFAULT_PORT = 3080
DEFAULT_MYSQL_PORT = 3306
MYSQL_RETRY = 30.0  # seconds between sweeps while the MySQL fails (the polls skip it meanwhile)


def _now() -> datetime:
    return datetime.now(UTC)


def service_url(address: str, port: int | None, path: str) -> str:
    """`192.168.0.10` + 3080 → http://192.168.0.10:3080/wenvpabx2; `http://pf.central.com.br/pabx`
    keeps its scheme and path (the seed's "IP or http:// address and path")."""
    if re.match(r"^https?://", address, re.IGNORECASE):
        parsed = urlparse(address)
        host = parsed.hostname or ""
        netloc = f"{host}:{port or parsed.port}" if (port or parsed.port) else host
        if ":" in host:  # IPv6
            netloc = f"[{host}]" + (f":{port or parsed.port}" if (port or parsed.port) else "")
        return f"{parsed.scheme.lower()}://{netloc}{parsed.path.rstrip('/')}{path}"
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port or DEFAULT_PORT}{path}"


class PlanetfoneDriver(PumpedDriver):
    kind = "planetfone"
    label = "Planetfone"
    capabilities = frozenset({
        Capability.DIAL, Capability.HANGUP, Capability.BLIND_TRANSFER, Capability.ATTENDED_TRANSFER,
        Capability.PARK, Capability.PICKUP, Capability.PLAY_RECORDING,
    })

    def __init__(self, url: str, *, name: str | None = None, cdr: CdrStore | None = None,
                 options: PlanetfoneOptions | None = None, event_backlog: int = EVENT_BACKLOG) -> None:
        self.options = options or PlanetfoneOptions()
        opts = self.options
        super().__init__(name, event_backlog, reconnect_delay=opts.reconnect_delay,
                         reconnect_max_delay=opts.reconnect_max_delay)
        self.url = url
        self.soap = SoapClient(url, timeout=opts.request_timeout, connect_timeout=opts.connect_timeout)
        self.cdr = cdr
        self._rules = ViewRules(
            channel_pattern=re.compile(opts.channel_pattern), call_id_field=opts.call_id_field,
            ringing_states=frozenset(opts.ringing_states), dialing_states=frozenset(opts.dialing_states),
            held_contexts=frozenset(opts.held_contexts), park_context=opts.park_context)
        self._tracker = Tracker()
        self._lock = asyncio.Lock()  # one poll (or park) at a time: the tracker is never half-updated
        self._cdr_since: datetime | None = None
        self._last_sweep = 0.0
        self.mysql_problem: str | None = None
        self.polls = 0
        self.poll_failures = 0

    @classmethod
    def from_entry(cls, entry: PbxRegistryEntry, **options: Any) -> PlanetfoneDriver:
        """Options: those of `PlanetfoneOptions` (the `[pbx.planetfone]` table), and event_backlog."""
        if str(getattr(entry, "kind", "")) != "planetfone":
            raise PbxError(f"registry entry '{entry.name}' is a {entry.kind} PBX, not Planetfone", field="kind")
        if not entry.address:
            raise PbxError(f"registry entry '{entry.name}' has no address for the Planetfone SOAP service "
                           "(IP or http:// address, e.g. 192.168.111.222)", field="address")
        backlog = options.pop("event_backlog", EVENT_BACKLOG)
        try:
            opts = PlanetfoneOptions(**options)
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
            raise PbxError(f"[pbx.planetfone] settings are not valid: {detail}", field="pbx.planetfone") from None
        cdr = None
        if entry.mysql_host:
            cdr = CdrStore(entry.mysql_host, entry.mysql_port or DEFAULT_MYSQL_PORT, entry.mysql_user or "",
                           entry.mysql_password, entry.mysql_database or "", table=opts.cdr_table,
                           columns=dict(opts.cdr_columns), call_id_column=opts.cdr_call_id_column,
                           timezone=opts.cdr_timezone, timeout=opts.mysql_timeout)
        return cls(service_url(entry.address, entry.port, opts.service_path), name=entry.name, cdr=cdr,
                   options=opts, event_backlog=backlog)

    # ================================================================ the connection

    async def connect(self) -> None:
        """Polls once (the SOAP service must answer); the MySQL is checked too, but a MySQL problem
        only disables history and the CDR's help (logged, and reported by `check()`)."""
        self._require_open()
        if self._link_up or self._pump_task is not None:
            return
        try:
            await self._resync()
        except SoapError as exc:
            raise NotConnected(f"{self.name}: the SOAP service at {self.url} failed: {exc}") from None
        if self.cdr is not None:
            try:
                await self.cdr.check()
                self.mysql_problem = None
            except CdrError as exc:
                self.mysql_problem = str(exc)
                log.warning("%s: %s; call history and the CDR's DDR are unavailable until it answers", self.name, exc)
        self._cdr_since = _now()
        self._link_established()

    async def check_parts(self) -> list[CheckResult]:
        """The SOAP service and the MySQL CDR, each on its own (the seed's "Testar" and "Testar MySQL")."""
        try:
            await self.soap.call("SituacaoAgente", {"NroAgente": 0})
            soap = CheckResult(PBX_PART, True, f"SOAP service at {self.url} answers")
        except PbxError as exc:
            soap = CheckResult(PBX_PART, False, f"SOAP service at {self.url}: {exc}")
        if self.cdr is None:
            return [soap, CheckResult(DATABASE_PART, False, (
                "MySQL: not configured (fill mysql_host, mysql_user, mysql_password and "
                "mysql_database in the PBX registry; history and the CDR's DDR need it)"))]
        try:
            await self.cdr.check()
        except CdrError as exc:
            return [soap, CheckResult(DATABASE_PART, False, str(exc))]
        return [soap, CheckResult(DATABASE_PART, True, f"{self.cdr.where} answers")]

    async def _shut_down(self) -> None:
        await self._stop_pump()
        await self.soap.close()
        if self.cdr is not None:
            await self.cdr.close()

    async def snapshot(self) -> PbxSnapshot:
        self._require_link()
        return PbxSnapshot(at=_now(), extensions=dict(self._tracker.extensions), calls=self._tracker.active_calls())

    def _down_message(self) -> str:
        return f"not connected to the Planetfone SOAP service at {self.url}{self._outage_note()}"

    # ================================================================ polling

    async def _poll_view(self):  # -> View
        opts = self.options
        channels = await self.soap.call("CanaisAtivos", {"IdLigacao": ""})
        agents = await self.soap.call("SituacaoAgente", {"NroAgente": 0}) if opts.agent_status else None
        self.polls += 1
        return read_view(channels.items("DadosCanais"), agents.items("StatusAgente") if agents else None, self._rules)

    async def _resync(self) -> None:
        async with self._lock:
            view = await self._poll_view()
            ddrs = {}
            for key, leg in view.legs.items():
                if leg.state is CallState.RINGING and leg.direction.value == "in":
                    ddrs[key] = await self._ddr_of(leg.extension, leg.call_id)
            self._tracker.reset(view, _now(), ddrs)

    async def poll(self) -> None:
        """One poll: compare, enrich, emit. Raises SoapError when the service fails."""
        async with self._lock:
            view = await self._poll_view()
            plan = self._tracker.diff(view)
            ddrs = {(leg.extension, leg.call_id): await self._ddr_of(leg.extension, leg.call_id)
                    for leg in plan.new_inbound}
            ended = await self._cdr_of_gone(plan)
            for event in self._tracker.commit(plan, _now(), ddrs=ddrs, ended=ended):
                self._stream.put(event)
            await self._sweep()

    async def _ddr_of(self, extension: str, call_id: str) -> str | None:
        """The DDR of a ringing call: BuscaDadosLigacao, AbreAtendimento (if enabled), the CDR."""
        try:
            data = await self.soap.call("BuscaDadosLigacao", {"IdLigacao": call_id})
            if data.get("NroTelefChamado"):
                return data.get("NroTelefChamado")
        except SoapError as exc:
            if isinstance(exc, NotConnected):
                raise
            log.info("%s: BuscaDadosLigacao(%s) failed: %s", self.name, call_id, exc)
        if self.options.abre_atendimento:
            try:
                data = await self.soap.call("AbreAtendimento", {"NroAgente": extension})
                if data.get("NroTelefChamado") and data.get("IdLigacao") in ("", call_id):
                    return data.get("NroTelefChamado")
            except SoapError as exc:
                if isinstance(exc, NotConnected):
                    raise
                log.info("%s: AbreAtendimento(%s) failed: %s", self.name, extension, exc)
        return None if self.mysql_problem else await self.ddr_from_cdr(call_id)

    async def ddr_from_cdr(self, call_id: str) -> str | None:
        """The DDR (`did`) the CDR holds for a call, if the MySQL is configured and has it."""
        if self.cdr is None:
            return None
        try:
            rows = await self.cdr.rows_of_call(call_id)
        except CdrError as exc:
            self.mysql_problem = str(exc)
            return None
        return next((row.did for row in rows if row.did), None)

    async def _cdr_of_gone(self, plan: Plan) -> dict[str, list[CdrLeg]]:
        if self.cdr is None or not plan.gone or self.mysql_problem:
            return {}
        ended: dict[str, list[CdrLeg]] = {}
        pattern = self._rules.channel_pattern
        for call_id in {leg.call_id for leg in plan.gone}:
            try:
                rows = await self.cdr.rows_of_call(call_id)
            except CdrError as exc:
                self.mysql_problem = str(exc)
                return ended
            ended[call_id] = [leg for row in rows for leg in legs_of(row, pattern)]
        return ended

    async def _sweep(self, *, force: bool = False) -> None:
        """The CDR rows since the last sweeps: calls the polls never saw become events, once."""
        if self.cdr is None or self._cdr_since is None:
            return
        loop = asyncio.get_running_loop()
        if not force and loop.time() - self._last_sweep < self.options.cdr_sweep_interval:
            return
        self._last_sweep = loop.time()
        now = _now()
        since = self._cdr_since.replace(microsecond=0)  # calldate has whole seconds
        try:
            rows = await self.cdr.rows_since(since)
        except CdrError as exc:
            if self.mysql_problem != str(exc):
                log.warning("%s: CDR sweep failed: %s", self.name, exc)
            self.mysql_problem = str(exc)
            # a MySQL that does not answer must not slow every poll: try it again later
            self._last_sweep = loop.time() + max(MYSQL_RETRY - self.options.cdr_sweep_interval, 0)
            return
        self.mysql_problem = None
        pattern = self._rules.channel_pattern
        legs = [leg for row in rows if row.calldate >= since for leg in legs_of(row, pattern)]
        for event in self._tracker.missed(legs):
            self._stream.put(event)
        window = timedelta(seconds=self.options.cdr_window)
        self._cdr_since = max(self._cdr_since, now - window)
        self._tracker.forget_before(now - 2 * window)

    @property
    def limit_exceeded(self) -> int:
        """How many SOAP replies passed their byte cap (each a protocol error that reset the link)."""
        return self.soap.limits.count

    async def _pump(self) -> None:
        interval = self.options.poll_interval
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except PbxError as exc:
                if self._closed:
                    return
                self.poll_failures += 1
                log.warning("%s: link down: %s", self.name, exc)
                self._link_lost(str(exc))
                await self._reconnect()
            except Exception:  # a bug must not stop the pump: log it, count it, go on polling
                self.poll_failures += 1
                log.exception("%s: poll failed unexpectedly", self.name)

    async def _reconnect(self) -> bool:
        if not await super()._reconnect():
            return False
        async with self._lock:
            await self._sweep(force=True)  # calls that began and ended while we were away
        return True

    async def _try_reconnect(self) -> bool:
        """A resync (a full poll)."""
        try:
            await self._resync()
        except PbxError as exc:
            self._outage = str(exc)
            log.info("%s: reconnect failed: %s", self.name, exc)
            return False
        return True

    # ================================================================ history

    async def call_history(self, extension: str, since: datetime) -> list[CallRecord]:
        """The extension's calls since `since`, from the PBX's CDR (newest last)."""
        self._check_extension(extension)
        if self.cdr is None:
            raise Unsupported(f"{self.name}: call history needs the PBX's MySQL (mysql_host, mysql_user, "
                              "mysql_password, mysql_database in the PBX registry)", field="mysql_host")
        rows = await self.cdr.rows_of_extension(extension, since)
        pattern = self._rules.channel_pattern
        return [record_of(leg) for row in rows for leg in legs_of(row, pattern) if leg.extension == extension]

    # ================================================================ commands

    def _check_extension(self, extension: str) -> str:
        return checked_extension(extension)

    def _check_number(self, number: str, what: str = "number") -> str:
        """The number without the spaces a person may have typed around it."""
        return checked_number(number.strip() if isinstance(number, str) else number, self.label, field=what)

    def _leg(self, extension: str, call_id: str) -> Leg:
        self._check_extension(extension)
        self._require_link()
        leg = self._tracker.leg(extension, call_id)
        if leg is None:
            raise PbxError(f"call {call_id} is not under way at extension {extension} on {self.name}",
                           field="call_id")
        return leg

    async def _command(self, operation: str, params: dict[str, object], what: str, *,
                       step: str | None = None, timeout: float | None = None) -> Result:
        self._require_link()
        result = await self.soap.call(operation, params, timeout=timeout)
        return check_result(operation, result, what, step=step)

    async def _dial(self, extension: str, number: str) -> str:
        self._check_extension(extension)
        number = self._check_number(number)
        opts = self.options
        # Disca may wait while the seller's phone rings: its timeout covers that ring time. It is sent
        # once: if no answer comes, the call may still be under way, so it is never repeated here.
        timeout = opts.dial_timeout or opts.request_timeout + opts.dial_ring_seconds
        try:
            result = await self._disca(extension, number, timeout)
        except SoapUnreachable as exc:
            raise PbxError(f"{exc}. The dial was sent once and not repeated: look at extension {extension}'s "
                           "phone before dialing again (the call may be ringing)") from None
        return result.get("IdLigacao") or result.get("IdLigacaoOrigem")

    async def _disca(self, extension: str, number: str, timeout: float) -> Result:
        opts = self.options
        return await self._command("Disca", {
            "NroTelefOrigem": extension, "NroTelefDestino": number, "QtdSegTimeout": opts.dial_ring_seconds,
            "IdtDestino": "", "NroDestino": 0, "QtdSegTimeoutDestino": opts.dial_destination_seconds,
            "CodFila": "", "NroAgente": "", "InverteOrdemChamada": 0,
            "PermissoesSistema": 1 if opts.system_permissions else 0, "NroTelefOrigemNaoRamal": 0,
            "NroIdentOrigem": "", "VariaveisOrigem": "", "VariaveisDestino": "", "CanalOrigem": "",
            "AplicacaoDestino": "", "AplicacaoParam": "", "Identificador": f"caa-{uuid.uuid4().hex}",
        }, f"call {number} from {extension}", timeout=timeout)

    async def _hangup(self, extension: str, call_id: str) -> None:
        leg = self._leg(extension, call_id)
        await self._command("DesligaChamada", {"IdLigacao": call_id, "CodCanal": leg.channel},
                            f"hang up call {call_id} at {extension}")

    async def _with_intent(self, leg: Leg, intent: Intent, operation: str, params: dict[str, object],
                           what: str, *, step: str | None = None) -> Result:
        """Sends a command that takes the call away from `leg`; the intent is set first, so that a
        poll in between reads the leg's disappearance as this command's doing."""
        before = leg.intent
        leg.intent = intent
        try:
            return await self._command(operation, params, what, step=step)
        except BaseException:
            leg.intent = before
            raise

    async def _blind_transfer(self, extension: str, call_id: str, target: str) -> None:
        leg = self._leg(extension, call_id)
        target = self._check_number(target, "target")
        if leg.state not in (CallState.ACTIVE, CallState.HELD):
            raise PbxError(f"call {call_id} at extension {extension} is {leg.state.value}: only a call in "
                           "conversation can be transferred")
        await self._with_intent(leg, Intent("transfer", target), "TransfereChamada", {
            "IdLigacao": call_id, "CodCanal": self._tracker.other_channel(leg), "NroRamalDestino": target,
            "NroAgenteDestino": 0, "QtdSegTimeout": self.options.transfer_ring_seconds,
            "IdtAguardaAtendimento": "N", "ContextoDestino": self.options.transfer_context,
        }, f"transfer call {call_id} at {extension} to {target}")

    def _consult_params(self, leg: Leg, target: str, step: str) -> dict[str, object]:
        return {"IdLigacao": leg.call_id, "CodCanal": self._tracker.other_channel(leg),
                "NroRamalOrigem": leg.extension, "NroTelefDestino": target, "NroAgenteDestino": 0,
                "QtdSegTimeout": self.options.transfer_ring_seconds, "IdtOperacao": step,
                "PermissoesSistema": 1 if self.options.system_permissions else 0}

    async def _consult(self, extension: str, call_id: str, target: str) -> None:
        leg = self._leg(extension, call_id)
        target = self._check_number(target, "target")
        if leg.state not in (CallState.ACTIVE, CallState.HELD):
            raise PbxError(f"call {call_id} at extension {extension} is {leg.state.value}: only a call in "
                           "conversation can be transferred")
        await self._with_intent(leg, Intent("consult", target), "TransfereComConsulta",
                                self._consult_params(leg, target, "C"),
                                f"start a transfer of call {call_id} at {extension} to {target}", step="C")
        if leg.state is not CallState.CONSULTING and self._tracker.leg(extension, call_id) is leg:
            self._stream.put(self._tracker.consulting(leg, target, _now()))

    async def _complete_transfer(self, extension: str, call_id: str) -> None:
        leg = self._consulting_leg(extension, call_id)
        target = leg.intent.target if leg.intent else ""
        await self._with_intent(leg, Intent("transfer", target, attended=True), "TransfereComConsulta",
                                self._consult_params(leg, target, "T"),
                                f"complete the transfer of call {call_id} at {extension} to {target}", step="T")

    async def _cancel_transfer(self, extension: str, call_id: str) -> None:
        leg = self._consulting_leg(extension, call_id)
        target = leg.intent.target if leg.intent else ""
        await self._command("TransfereComConsulta", self._consult_params(leg, target, "R"),
                            f"cancel the transfer of call {call_id} at {extension}", step="R")

    def _consulting_leg(self, extension: str, call_id: str) -> Leg:
        leg = self._leg(extension, call_id)
        if leg.state is not CallState.CONSULTING:
            raise PbxError(f"call {call_id} at extension {extension} is {leg.state.value}: no attended "
                           "transfer is under way")
        return leg

    async def _park(self, extension: str, call_id: str) -> str:
        leg = self._leg(extension, call_id)
        if leg.state not in (CallState.ACTIVE, CallState.HELD):
            raise PbxError(f"call {call_id} at extension {extension} is {leg.state.value}: only a call in "
                           "conversation can be parked")
        async with self._lock:  # the slot is known only from the answer: no poll reads the leg before
            result = await self._with_intent(leg, Intent("park"), "EstacionaChamada", {
                "IdLigacao": call_id, "CodCanal": self._tracker.other_channel(leg), "NroRamalOrigem": extension,
                "QtdSegTimeout": self.options.park_seconds,
            }, f"park call {call_id} at {extension}")
            slot = result.get("NroVagaEstac")
            leg.intent = Intent("park", slot)
        return slot

    async def _pickup(self, extension: str, slot_or_extension: str) -> None:
        self._check_extension(extension)
        self._require_link()
        where = slot_or_extension.strip()
        parked = self._tracker.view.parked.get(where)
        if parked is not None:
            await self._command("CapturaLigacao", {"CodCanal": parked.name, "NroRamalDestino": extension, "Fila": ""},
                                f"pick up the call parked at {where} from {extension}")
            return
        ringing = [leg for leg in self._tracker.legs.values()
                   if leg.extension == where and leg.state is CallState.RINGING]
        if not ringing:
            raise PbxError(f"nothing is parked at {where!r} and no call is ringing at extension {where}",
                           field="slot_or_extension")
        leg = ringing[0]
        await self._with_intent(leg, Intent("pickup", extension), "CapturaLigacao",
                                {"CodCanal": leg.channel, "NroRamalDestino": extension, "Fila": ""},
                                f"pick up the call ringing at {where} from {extension}")

    async def _play_recording(self, recording_ref: str, number: str) -> str:
        number = self._check_number(number)
        self._require_link()
        name = recording_ref.strip()
        if not name:
            raise PbxError("no recording given", field="recording_ref")
        if self.options.recording_strip_extension:
            name = re.sub(r"\.(wav|WAV|gsm|mp3|ogg|wav49)$", "", name)
        before = {leg.call_id for leg in self._tracker.legs.values() if leg.extension == number}
        result = await self._command("BuscaGravacaoParaRamal", {"IdLigacao": "", "NomeArquivo": name,
                                                                 "Ramal": number},
                                     f"play recording {recording_ref} to {number}")
        # the answer carries no call id: the call shows up at `number` in the next polls
        deadline = asyncio.get_running_loop().time() + max(3 * self.options.poll_interval, 1.0)
        while asyncio.get_running_loop().time() < deadline:
            fresh = [leg.call_id for leg in self._tracker.legs.values()
                     if leg.extension == number and leg.call_id not in before]
            if fresh:
                return fresh[0]
            await asyncio.sleep(min(self.options.poll_interval, 0.1))
        return result.get("NomeArquivo") or name
