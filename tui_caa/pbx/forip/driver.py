"""The ForIP driver: ForIP Manager's CRM API for dialing, its Asterisk's AMI for the rest, its
PostgreSQL for history, DDR and recordings.

What ForIP offers, and so what this driver can honestly do:
- the CRM API (`login_crm`, `disca_crm`) only places calls, now or at a given time
  (`schedule_dial`). It pushes nothing and has no hang-up, transfer or status endpoint;
- when AMI access is configured (`ami_user`, `ami_secret` in [pbx.forip]; ForIP runs Asterisk), an
  `AsteriskDriver` is composed: its events are forwarded and its commands offered, so the
  capabilities are DIAL plus whatever that driver supports. Call ids in events are then Asterisk's
  Linkedids, while `dial` returns ForIP's own call id (YYYYMMDD/CRM-<agent>-<phone>-HHMMSS, which
  also names the call's recording);
- WITHOUT AMI the capabilities are just DIAL, and `events()` carries the link state
  (DriverDisconnected / DriverConnected / DriverResynced) and the dial outcomes that can be known:
  `dial` returns ForIP's call id or raises ForIP's refusal, and, when the database is configured,
  an accepted dial is CallDialing until its ticket appears, then CallAnswered / CallEnded
  (`dials.py`). Inbound calls, ringing and hang-ups cannot be known live; the finished calls are
  in `call_history`;
- with the database configured (`odbc_dsn` or `db_user`…): `call_history`, `ddr_of`, `recording_url`;
  and, with AMI too, the calls that began and ended while the link was down: when it is back, the
  tickets of the outage (from `outage_margin` s before the loss) become the events of every call
  leg never reported live, once (`outages.py`). A database that fails then is logged, counted
  (`recovery_failures`) and read again every `outage_retry` s; the link comes back regardless.

The link is up when the CRM API answers and, with AMI, when the AMI driver is resynced. It is
watched by a probe (a harmless GET of login_crm every `probe_interval` s) and by every request; when
it fails: DriverDisconnected(reason), then log-in is retried with exponential backoff, then
DriverConnected, DriverResynced. A dial whose outcome is unknown (timeout, connection lost after
sending, HTTP error, bad JSON) is never sent again; one refused for an expired key is (ForIP
refused it: nothing happened), once, after a new login.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from pydantic import SecretStr, ValidationError

from tui_caa.domain.events import CallEvent, DriverConnected, DriverDisconnected, DriverResynced, PbxSnapshot
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import Capability, Direction
from tui_caa.pbx.base import (
    DATABASE_PART,
    CheckResult,
    NotConnected,
    PbxDriver,
    PbxError,
    Unsupported,
    checked_extension,
    checked_number,
)
from tui_caa.pbx.forip.api import ApiDown, ApiTooLarge, ForipApi
from tui_caa.pbx.forip.dials import TICKET_SLACK, DialTracker
from tui_caa.pbx.forip.outages import OutageWindow, SeenCalls, events_of, unseen
from tui_caa.pbx.forip.tickets import CallTicket, TicketStore, parse_recording_ref
from tui_caa.pbx.link import EVENT_BACKLOG, LinkedDriver
from tui_caa.pbx.options.forip import ForipOptions

log = logging.getLogger(__name__)

API, AMI = "CRM API", "AMI"


def _now() -> datetime:
    return datetime.now(UTC)


class ForipDriver(LinkedDriver):
    kind = "forip"
    label = "ForIP"
    capabilities = frozenset({Capability.DIAL})  # per instance: plus the AMI driver's, when configured

    def __init__(self, base_url: str, email: str, password: SecretStr, *, options: ForipOptions | None = None,
                 name: str | None = None, host: str = "127.0.0.1", ami: PbxDriver | None = None,
                 event_backlog: int = EVENT_BACKLOG) -> None:
        self.options = options or ForipOptions()
        super().__init__(name, event_backlog, reconnect_delay=self.options.reconnect_delay,
                         reconnect_max_delay=self.options.reconnect_max_delay)
        self.api = ForipApi(base_url, email, password, timeout=self.options.request_timeout,
                            key_error_pattern=self.options.key_error_pattern, label=self.label)
        self.tickets = _ticket_store(self.options, host, self.label)
        self.recordings_url = self.options.recordings_url or f"http://{host}"
        self._ami = ami if ami is not None else _ami_driver(self.options, host, self.name)
        if self._ami is not None:
            self.capabilities = frozenset({Capability.DIAL}) | self._ami.capabilities
        # without AMI, dial outcomes come from the tickets (when there is a database to read them from)
        self._dials = (DialTracker(self.options.dial_outcome_timeout)
                       if self._ami is None and self.tickets is not None else None)
        self._dials_wake = asyncio.Event()
        # the link is up when every part is (see `connected`; LinkedDriver's `_link_up` is not used here)
        self._parts: dict[str, bool] = {API: False, **({AMI: False} if self._ami else {})}
        self._reasons: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self.dials = 0  # disca_crm requests sent (each at most once)
        # calls of an outage, from the tickets (with AMI and a database; see outages.py)
        self._seen = SeenCalls()
        self._outage_window = OutageWindow(self.options.outage_margin, self.options.outage_recheck,
                                           self.options.outage_retry)
        self._recover_wake = asyncio.Event()
        self.recoveries = 0  # reads of an outage's tickets that worked
        self.recovery_failures = 0  # …and that failed (logged; retried)
        self.recovered_calls = 0  # call legs told from tickets

    @classmethod
    def from_entry(cls, entry: PbxRegistryEntry, **options: Any) -> ForipDriver:
        """Options: the fields of `ForipOptions` (the [pbx.forip] table); also `ami=` may be a
        ready driver (tests), and `event_backlog`."""
        if str(getattr(entry, "kind", "")) != "forip":
            raise PbxError(f"registry entry '{entry.name}' is a {entry.kind} PBX, not ForIP", field="kind")
        if not entry.address or not entry.port:
            raise PbxError(f"registry entry '{entry.name}' needs the address and port of ForIP's CRM API",
                           field="address")
        if not entry.login or entry.secret is None:
            raise PbxError(f"registry entry '{entry.name}' needs the agent's ForIP e-mail (login) and password "
                           "(secret) for the CRM API's login_crm", field="login")
        extra = {k: options.pop(k) for k in ("event_backlog",) if k in options}
        ami = options.pop("ami", None)
        if isinstance(ami, PbxDriver):
            extra["ami"] = ami
        elif ami is not None:
            options["ami"] = ami
        try:
            opts = ForipOptions(**options)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "pbx.forip"
            raise PbxError(f"[pbx.forip] {where}: {error['msg'].removeprefix('Value error, ')}", field=where) from None
        base_url, host = _base_url(entry.address, entry.port, opts.api_path)
        return cls(base_url, entry.login, entry.secret, options=opts, name=entry.name, host=host, **extra)

    # ================================================================ the connection

    @property
    def connected(self) -> bool:
        return self._started and not self._closed and all(self._parts.values())

    @property
    def ami_driver(self) -> PbxDriver | None:
        return self._ami

    @property
    def errors(self) -> dict[str, int]:
        """Bad answers and failures so far, by kind (each was also logged or raised with its reason)."""
        counts = dict(self.api.errors)
        if self.tickets is not None:
            counts["database"] = self.tickets.errors
        if self._recovers:
            counts["outage_recovery"] = self.recovery_failures
        return counts

    async def connect(self) -> None:
        self._require_open()
        if self._started:
            return
        await self.api.login()  # ApiDown / ApiRefused pass through with their clear message
        self._parts[API] = True
        if self._ami is not None:
            await self._ami.connect()
            self._parts[AMI] = True
        self._started = True
        self._announce_up()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._watch_api(), name=f"forip-api {self.name}"))
        if self._ami is not None:
            self._tasks.append(loop.create_task(self._forward_ami(), name=f"forip-ami {self.name}"))
        if self._dials is not None:
            self._tasks.append(loop.create_task(self._watch_dials(), name=f"forip-dials {self.name}"))
        if self._recovers:
            self._tasks.append(loop.create_task(self._recover_outages(), name=f"forip-outages {self.name}"))

    async def _shut_down(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ami is not None:
            await self._ami.close()
        await self.api.close()
        if self.tickets is not None:
            await self.tickets.close()

    async def snapshot(self) -> PbxSnapshot:
        self._require_link()
        if self._ami is not None:
            return await self._ami.snapshot()
        # the CRM API tells nothing about extensions or calls: only the dials still waiting for a ticket
        return PbxSnapshot(at=_now(), calls=self._dials.active_calls() if self._dials is not None else ())

    @property
    def limit_exceeded(self) -> int:
        """How many API replies passed their byte cap (each a protocol error: the API link is down)."""
        return self.api.errors["too_large"]

    def _down_message(self) -> str:
        if not self._started:
            return "not connected to ForIP (call connect() first)"
        down = [f"{part}: {self._reasons.get(part, 'down')}" for part, up in self._parts.items() if not up]
        return f"the link to ForIP is down ({'; '.join(down)})"

    # ---- link state: up when every part is ----

    def _part_down(self, part: str, reason: str) -> None:
        was_up = self.connected
        self._parts[part] = False
        self._reasons[part] = reason
        if was_up:
            self._outage_window.lost(_now())
            log.warning("%s: %s down: %s", self.name, part, reason)
            self._announce_down(f"{self.label} {part}: {reason}")
        if part == API:
            self._wake.set()

    def _part_up(self, part: str) -> None:
        was_up = self.connected
        self._parts[part] = True
        self._reasons.pop(part, None)
        if not was_up and self.connected:
            self.reconnects += 1
            self._announce_up()
            self._outage_over()

    async def _watch_api(self) -> None:
        """Probes the API while it is up; logs in again with backoff while it is down."""
        while not self._closed:
            if self._parts[API]:
                await self._probe_api()
            elif await self._retry(self._try_login):
                self._part_up(API)

    async def _probe_api(self) -> None:
        """Waits `probe_interval` (or a wake-up), then probes the API if it still seems up."""
        opts = self.options
        self._wake.clear()
        timeout = opts.probe_interval or None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        if self._parts[API] and opts.probe_interval:
            try:
                await self.api.probe()
            except ApiDown as exc:
                self._part_down(API, str(exc))

    async def _try_login(self) -> bool:
        """One attempt to log in to the CRM API again; a failure is noted as the API's reason."""
        try:
            await self.api.login()
        except ApiTooLarge as exc:  # counted and logged by the API client (once, then rate-limited)
            self._reasons[API] = str(exc)
            return False
        except PbxError as exc:
            self._reasons[API] = str(exc)
            log.warning("%s: CRM API still down: %s", self.name, exc)
            return False
        return True

    async def _forward_ami(self) -> None:
        """The AMI driver's events, its link events folded into ours."""
        assert self._ami is not None
        async for event in self._ami.events():
            if self._closed:
                return
            if isinstance(event, DriverDisconnected):
                self._part_down(AMI, event.reason)
            elif isinstance(event, DriverConnected):
                continue  # not trusted until resynced
            elif isinstance(event, DriverResynced):
                if self._parts[AMI] and self.connected:
                    continue  # the resync announced by connect()
                self._part_up(AMI)
            else:
                if isinstance(event, CallEvent) and event.call_id and event.extension:
                    self._seen.add(event.call_id, event.extension)
                self._stream.put(event)

    # ---- calls that began and ended during an outage (outages.py) ----

    @property
    def _recovers(self) -> bool:
        return self._ami is not None and self.tickets is not None

    def _outage_over(self) -> None:
        """The link is back: the outage's tickets are to be read (now, then once more later)."""
        if self._recovers and self._outage_window.back(asyncio.get_running_loop().time()):
            self._recover_wake.set()

    async def _recover_outages(self) -> None:
        """Reads the pending outage's tickets while the link is up; a failure is retried later."""
        loop = asyncio.get_running_loop()
        while not self._closed:
            self._recover_wake.clear()
            timeout = self._outage_window.wait(loop.time()) if self.connected else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recover_wake.wait(), timeout)
            since = self._outage_window.due(loop.time())
            if since is None or not self.connected:
                continue
            try:
                await self._recover(since)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PbxError (database, AMI gone again) or a bug: never the pump's end
                self.recovery_failures += 1
                if isinstance(exc, PbxError):
                    log.warning("%s: the calls of the outage were not read (again in %g s): %s", self.name,
                                self.options.outage_retry, exc)
                else:
                    log.exception("%s: reading the calls of the outage failed", self.name)
                self._outage_window.failed(loop.time())
                continue
            self.recoveries += 1
            self._outage_window.read(loop.time())

    async def _recover(self, since: datetime) -> None:
        """The tickets since `since` of the extensions the AMI reports: the events of every call leg
        never reported and no longer under way. All are read before any is told (a failure tells none)."""
        assert self._ami is not None and self.tickets is not None
        snapshot = await self._ami.snapshot()
        for call in snapshot.calls:  # the reader knows these from the resync's snapshot
            self._seen.add(call.call_id, call.extension)
        active = {call.call_id for call in snapshot.calls}
        extensions = sorted(set(snapshot.extensions) | self._seen.extensions())
        tickets = []
        for extension in extensions:
            tickets += await self.tickets.call_history(extension, since)
        told = []
        for ticket in unseen(tickets, self._seen, active):
            ddr = None
            if ticket.direction is Direction.INBOUND and ticket.number:
                ddr = await self.tickets.ddr_of(ticket.number, ticket.extension)
            told.append((ticket, events_of(ticket, ddr)))
        for ticket, events in told:
            if (ticket.linked_id, ticket.extension) in self._seen:
                continue  # reported live while the database was read
            self._seen.add(ticket.linked_id, ticket.extension)
            log.info("%s: call %s at %s (%s) began and ended during the outage: told from its ticket",
                     self.name, ticket.linked_id, ticket.extension, ticket.direction.value)
            for event in events:
                self._stream.put(event)
            self.recovered_calls += 1

    # ================================================================ commands

    def require(self, capability: Capability) -> None:
        if capability in self.capabilities:
            return
        name = capability.value.replace("_", " ")
        if self._ami is None:
            raise Unsupported(f"{name} is not supported by {self.label} without AMI access: ForIP's CRM API only "
                              "dials; set ami_user and ami_secret in [pbx.forip] to enable the other commands",
                              field="ami_user")
        raise Unsupported(f"{name} is not supported by {self.label}, not even through its AMI",
                          field=capability.value)

    async def _dial(self, extension: str, number: str) -> str:
        return await self._disca(extension, number, 0)

    async def schedule_dial(self, extension: str, number: str, at: datetime) -> str:
        """Asks ForIP to call `number` from `extension` at `at` (aware); returns ForIP's call id."""
        self.require(Capability.DIAL)
        if not isinstance(at, datetime) or at.tzinfo is None:
            raise PbxError("a scheduled call needs an aware date and time (with its time zone)", field="at")
        if at <= _now():
            raise PbxError(f"{at:%Y-%m-%d %H:%M:%S %Z} has passed: dial now instead of scheduling", field="at")
        return await self._disca(extension, number, int(at.timestamp()))

    async def _disca(self, extension: str, number: str, ts: int) -> str:
        checked_extension(extension)
        checked_number(number, self.label)
        self._require_api()
        self.dials += 1
        try:
            callid = await self.api.dial(extension, number, ts)
        except ApiDown as exc:
            self._part_down(API, str(exc))
            raise  # ApiRefused (ForIP's {"error"}) passes through as it is: the link is fine
        if self._dials is not None:
            self._dials.accepted(callid, extension, number, datetime.fromtimestamp(ts, UTC) if ts else _now())
            self._dials_wake.set()
        return callid

    async def _watch_dials(self) -> None:
        """Without AMI: CallDialing when an accepted dial is due, its end when its ticket shows up."""
        tracker, store = self._dials, self.tickets
        assert tracker is not None and store is not None
        while not self._closed:
            for event in tracker.announce_due(_now()):
                self._stream.put(event)
            by_agent: dict[str, list] = {}
            for dial in tracker.watched():
                by_agent.setdefault(dial.agent, []).append(dial)
            for agent, dials in by_agent.items():
                since = min(d.due for d in dials) - TICKET_SLACK
                try:
                    tickets = await store.call_history(agent, since)
                except PbxError as exc:
                    log.warning("%s: dial outcomes not read: %s", self.name, exc)
                    tickets = []
                for dial in dials:
                    for event in tracker.settle(dial, tickets, _now()):
                        self._stream.put(event)
            waits = []
            if tracker.watched():
                waits.append(self.options.outcome_poll_interval)
            if (due := tracker.next_due()) is not None:
                waits.append(max(0.0, (due - _now()).total_seconds()))
            self._dials_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dials_wake.wait(), min(waits) if waits else None)

    def _require_api(self) -> None:
        self._require_open()
        if not self._started or not self._parts[API]:
            raise NotConnected(f"{self.name}: ForIP's CRM API is down ({self._reasons.get(API, 'not connected')})")

    # everything but dial goes to the AMI driver (require() has checked it offers the command)
    async def _answer(self, extension: str, call_id: str) -> None:
        await self._ami_cmd().answer(extension, call_id)

    async def _hangup(self, extension: str, call_id: str) -> None:
        await self._ami_cmd().hangup(extension, call_id)

    async def _blind_transfer(self, extension: str, call_id: str, target: str) -> None:
        await self._ami_cmd().blind_transfer(extension, call_id, target)

    async def _consult(self, extension: str, call_id: str, target: str) -> None:
        await self._ami_cmd().consult(extension, call_id, target)

    async def _complete_transfer(self, extension: str, call_id: str) -> None:
        await self._ami_cmd().complete_transfer(extension, call_id)

    async def _cancel_transfer(self, extension: str, call_id: str) -> None:
        await self._ami_cmd().cancel_transfer(extension, call_id)

    async def _hold(self, extension: str, call_id: str) -> None:
        await self._ami_cmd().hold(extension, call_id)

    async def _resume(self, extension: str, call_id: str) -> None:
        await self._ami_cmd().resume(extension, call_id)

    async def _send_dtmf(self, extension: str, call_id: str, digits: str) -> None:
        await self._ami_cmd().send_dtmf(extension, call_id, digits)

    async def _park(self, extension: str, call_id: str) -> str:
        return await self._ami_cmd().park(extension, call_id)

    async def _pickup(self, extension: str, slot_or_extension: str) -> None:
        await self._ami_cmd().pickup(extension, slot_or_extension)

    async def _play_recording(self, recording_ref: str, number: str) -> str:
        day, name = parse_recording_ref(recording_ref)
        path = f"{self.options.recordings_path.rstrip('/')}/{day}/{name[:-4]}"  # Playback takes no extension
        return await self._ami_cmd().play_recording(path, number)

    async def _monitor(self, mode: Capability, supervisor_extension: str, target_extension: str) -> None:
        await self._ami_cmd().monitor(mode, supervisor_extension, target_extension)

    def _ami_cmd(self) -> PbxDriver:
        assert self._ami is not None
        self._require_link()
        return self._ami

    # ================================================================ history, DDR, recordings

    async def call_history(self, extension: str, since: datetime, until: datetime | None = None) -> list[CallTicket]:
        """ForIP's call tickets of `extension` since `since` (aware), oldest first."""
        return await self._db().call_history(extension, since, until)

    async def ddr_of(self, call: CallTicket | str, extension: str | None = None) -> str | None:
        """The DDR an inbound call came in on: a ticket, or a Linkedid (the call id in AMI events)."""
        store = self._db()
        if isinstance(call, str):
            tickets = [t for t in await store.ticket_by_linked_id(call) if extension in (None, t.extension)]
            if not tickets:
                return None
            call = tickets[0]
        if call.direction.value != "in":
            return None
        return await store.ddr_of(call.number, call.extension)

    def recording_url(self, ref: str) -> str:
        """Where ForIP's web server serves a recording (download_audio.php, as ForIP Manager links it)."""
        day, name = parse_recording_ref(ref)
        return f"{self.recordings_url}/download_audio.php?diretorio={day}&arquivo={name}"

    async def check_parts(self) -> list[CheckResult]:
        """The database (the CRM API and AMI were checked by `connect()`). It is optional: without it
        the driver works on live events only, so "not configured" is no failure."""
        if self.tickets is None:
            return [CheckResult(DATABASE_PART, True, (
                f"{self.label}'s database: not configured; call history and calls made during an outage "
                "need it (odbc_dsn, or db_user and db_password, in [pbx.forip])"))]
        try:
            await self.check_database()
        except PbxError as exc:
            return [CheckResult(DATABASE_PART, False, str(exc))]
        return [CheckResult(DATABASE_PART, True, f"{self.label}'s database answers (table {self.tickets.table})")]

    async def check_database(self) -> None:
        """Raises DatabaseError with the setting to fix unless the tickets table can be read."""
        await self._db().check()

    def _db(self) -> TicketStore:
        if self.tickets is None:
            raise Unsupported(f"{self.label}: call history needs ForIP's database: set odbc_dsn, or db_user and "
                              "db_password, in [pbx.forip]", field="db_user")
        return self.tickets


# ---- construction helpers ----

def _base_url(address: str, port: int, api_path: str) -> tuple[str, str]:
    """(the API's base URL, the PBX host) from the registry address ("10.0.0.5" or "http://pbx/path")."""
    if re.match(r"^https?://", address, re.IGNORECASE):
        parsed = urlparse(address)
        host = parsed.hostname or address
        path = parsed.path.rstrip("/") or api_path
        netloc = f"{host}:{parsed.port or port}"
        return f"{parsed.scheme.lower()}://{netloc}{path}", host
    return f"http://{address}:{port}{api_path}", address


def _ticket_store(options: ForipOptions, host: str, label: str) -> TicketStore | None:
    if not options.db_enabled:
        return None
    if options.odbc_dsn is not None:
        dsn = options.odbc_dsn.rstrip(";")
    else:
        dsn = (f"Driver={{{options.odbc_driver}}};Server={options.db_host or host};Port={options.db_port};"
               f"Database={options.db_name};Uid={options.db_user}")
    return TicketStore(dsn, options.db_password, timeout=options.db_timeout, zone=options.timezone,
                       table=options.tickets_table, ddr_query=options.ddr_query, limit=options.history_limit,
                       label=label)


def _ami_driver(options: ForipOptions, host: str, name: str) -> PbxDriver | None:
    if not options.ami_enabled:
        return None
    from tui_caa.pbx.asterisk.driver import AsteriskDriver  # only sites with AMI load it

    assert options.ami_user is not None and options.ami_secret is not None
    return AsteriskDriver(options.ami_host or host, options.ami_port, options.ami_user, options.ami_secret,
                          name=f"{name} AMI", options=options.ami)
