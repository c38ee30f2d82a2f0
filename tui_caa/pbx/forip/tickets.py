"""ForIP's call tickets, DDRs and recordings, read from its PostgreSQL through aioodbc + psqlODBC.

[C] `f_bilhetes_chamadas` (origem, destino, linked_id, horario, status, tempo, id_destino, gravacao,
atendido, arquivo_gravacao…); direction from `id_destino`: > 0 outgoing, -1 incoming, 0 internal
(ForIP Manager's `bilhetes.py`). Recordings are `GRAVACOES/<YYYYMMDD of horario>/<arquivo_gravacao>.WAV`.
[I] assumed, hence settings: `horario` is local time in `timezone`; for an incoming ticket `destino`
is the extension, for an outgoing one `origem` is; `atendido`/`status` say whether it was answered;
the DDR comes from `ddr_query` (default: the newest `f_direcionamento` row of the caller).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from tui_caa.domain.telephony import Direction, Disposition
from tui_caa.pbx.base import PbxError

if TYPE_CHECKING:
    import aioodbc
    import pyodbc

log = logging.getLogger(__name__)

_ANSWERED = {"s", "sim", "y", "yes", "1", "t", "true", "atendido", "answered", "answer"}
_DISPOSITIONS = {
    "ANSWERED": Disposition.ANSWERED, "ANSWER": Disposition.ANSWERED, "ATENDIDA": Disposition.ANSWERED,
    "NO ANSWER": Disposition.NO_ANSWER, "NOANSWER": Disposition.NO_ANSWER, "NAO ATENDIDA": Disposition.NO_ANSWER,
    "BUSY": Disposition.BUSY, "OCUPADO": Disposition.BUSY,
    "CANCEL": Disposition.ABANDONED, "ABANDONED": Disposition.ABANDONED, "ABANDONADA": Disposition.ABANDONED,
    "FAILED": Disposition.FAILED, "CONGESTION": Disposition.FAILED, "CHANUNAVAIL": Disposition.FAILED,
}
_RECORDING_REF = re.compile(r"^(?:GRAVACOES/)?(?P<day>\d{8})/(?P<name>[^/\\?&#]+?)(?:\.WAV)?$", re.IGNORECASE)
_COLUMNS = ("id", "origem", "destino", "linked_id", "horario", "status", "tempo", "id_destino", "gravacao",
            "atendido", "arquivo_gravacao")


class DatabaseError(PbxError):
    """ForIP's database cannot be reached or read; the message names the setting to fix."""


@dataclass(frozen=True, slots=True)
class CallTicket:
    """One row of f_bilhetes_chamadas, seen from `extension`."""

    id: int
    linked_id: str
    extension: str
    direction: Direction
    number: str  # the other party
    started_at: datetime  # aware (UTC)
    talk_seconds: int
    answered: bool
    disposition: Disposition
    status: str  # as ForIP wrote it
    recording_ref: str | None  # GRAVACOES/YYYYMMDD/<name>.WAV
    origem: str
    destino: str


def recording_ref(day: datetime | str, name: str) -> str:
    """The GRAVACOES path ForIP's web server serves for `name` recorded on `day`."""
    folder = day if isinstance(day, str) else f"{day:%Y%m%d}"
    base = name[:-4] if name.upper().endswith(".WAV") else name
    return f"GRAVACOES/{folder}/{base}.WAV"


def parse_recording_ref(ref: str) -> tuple[str, str]:
    """(YYYYMMDD, file name with .WAV) of a recording ref, a GRAVACOES path or a ForIP CRM call id."""
    match = _RECORDING_REF.match(ref.strip()) if isinstance(ref, str) else None
    if match is None:
        raise PbxError(f"'{ref}' is not a ForIP recording: expected GRAVACOES/YYYYMMDD/<name>.WAV "
                       "or a call id such as 20261126/CRM-1001-5551999887766-101500", field="recording_ref")
    return match["day"], f"{match['name']}.WAV"


def _odbc() -> tuple[Any, Any]:
    """aioodbc and pyodbc, loaded only when the tickets database is used: pyodbc needs the system's
    unixODBC (libodbc.so.2), which a site without ForIP has no reason to install."""
    try:
        import aioodbc
        import pyodbc
    except ImportError as exc:
        raise DatabaseError(
            f"ForIP's database needs unixODBC and the PostgreSQL ODBC driver, which are not installed ({exc}); "
            "install them: apt-get install unixodbc odbc-postgresql", field="db_host") from None
    return aioodbc, pyodbc


class TicketStore:
    def __init__(self, dsn: str, password: SecretStr | None, *, timeout: float, zone: str, table: str,
                 ddr_query: str, limit: int, label: str = "ForIP") -> None:
        self._dsn = dsn
        self._password = password
        self.timeout = timeout
        self.zone = ZoneInfo(zone)
        self.table = table
        self.ddr_query = ddr_query
        self.limit = limit
        self.label = label
        self._conn: aioodbc.Connection | None = None
        self._lock = asyncio.Lock()
        self.errors = 0

    def __repr__(self) -> str:
        return f"TicketStore({self._dsn!r})"  # the password is never part of it

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def check(self) -> None:
        """Raises DatabaseError unless the tickets table can be read."""
        await self._fetch(f"SELECT COUNT(*) FROM {self.table} WHERE 1 = 0", ())

    async def call_history(self, extension: str, since: datetime, until: datetime | None = None
                           ) -> list[CallTicket]:
        """The tickets of `extension` from `since` (aware) on, oldest first."""
        if since.tzinfo is None:
            raise PbxError("call_history needs an aware datetime (with a time zone)", field="since")
        params: list[Any] = [extension, extension, self._local(since)]
        sql = (f"SELECT {', '.join(_COLUMNS)} FROM {self.table} "
               "WHERE (origem = ? OR destino = ?) AND horario >= ?")
        if until is not None:
            sql += " AND horario < ?"
            params.append(self._local(until))
        sql += f" ORDER BY horario, id LIMIT {self.limit}"
        rows = await self._fetch(sql, params)
        return [ticket for row in rows if (ticket := self._ticket(row, extension)) is not None]

    async def ticket_by_linked_id(self, linked_id: str) -> list[CallTicket]:
        rows = await self._fetch(f"SELECT {', '.join(_COLUMNS)} FROM {self.table} WHERE linked_id = ? "
                                 "ORDER BY id", [linked_id])
        tickets = []
        for row in rows:
            ext = row[1] if int(row[7] or 0) > 0 else row[2]
            ticket = self._ticket(row, str(ext))
            if ticket is not None:
                tickets.append(ticket)
        return tickets

    async def ddr_of(self, number: str, extension: str) -> str | None:
        rows = await self._fetch(self.ddr_query, [number, extension])
        if not rows or rows[0][0] is None:
            return None
        return str(rows[0][0]).strip() or None

    # ---- plumbing ----

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _ticket(self, row: Sequence[Any], extension: str) -> CallTicket | None:
        (id_, origem, destino, linked_id, horario, status, tempo, id_destino, gravacao, atendido, arquivo) = row
        origem, destino = str(origem or "").strip(), str(destino or "").strip()
        try:
            kind = int(id_destino or 0)
        except (TypeError, ValueError):
            kind = 0
        if kind > 0:
            direction, number = Direction.OUTBOUND, destino
        elif kind == -1:
            direction, number = Direction.INBOUND, origem
        else:
            direction, number = Direction.INTERNAL, destino if origem == extension else origem
        if not isinstance(horario, datetime):
            self.errors += 1
            log.warning("%s: ticket %s skipped: horario %r is not a timestamp", self.label, id_, horario)
            return None
        started = horario.replace(tzinfo=self.zone).astimezone(UTC) if horario.tzinfo is None else horario
        status_text = str(status or "").strip()
        answered = str(atendido or "").strip().lower() in _ANSWERED or status_text.upper() in ("ANSWERED", "ANSWER")
        disposition = Disposition.ANSWERED if answered else _DISPOSITIONS.get(status_text.upper(), Disposition.NO_ANSWER)
        ref = None
        if arquivo and str(arquivo).strip() and (gravacao is None or bool(gravacao)):
            ref = recording_ref(started.astimezone(self.zone), str(arquivo).strip())
        try:
            talk = max(0, int(tempo or 0)) if answered else 0
        except (TypeError, ValueError):
            talk = 0
        return CallTicket(id=int(id_), linked_id=str(linked_id or ""), extension=extension, direction=direction,
                          number=number, started_at=started, talk_seconds=talk, answered=answered,
                          disposition=disposition, status=status_text, recording_ref=ref,
                          origem=origem, destino=destino)

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        _aioodbc, pyodbc = _odbc()
        async with self._lock:
            for attempt in (1, 2):
                reused = self._conn is not None  # only a connection that worked before may have been lost
                try:
                    conn = await self._connect()
                    return await asyncio.wait_for(self._run(conn, sql, params), self.timeout)
                except TimeoutError:
                    self.errors += 1
                    await self._drop()
                    raise DatabaseError(f"{self.label}'s database did not answer within {self.timeout:g} s; "
                                        "raise db_timeout in [pbx.forip] if it is just slow", field="db_timeout"
                                        ) from None
                except pyodbc.Error as exc:
                    self.errors += 1
                    await self._drop()
                    if attempt == 2 or not reused or not _connection_lost(exc):
                        raise DatabaseError(self._explain(exc), field=_field_of(exc)) from None
                    log.info("%s: database connection lost, reconnecting once: %s", self.label, self._clean(exc))
        raise AssertionError("unreachable")

    @staticmethod
    async def _run(conn: aioodbc.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        async with conn.cursor() as cursor:
            await cursor.execute(sql, *params)
            return [tuple(row) for row in await cursor.fetchall()]

    async def _connect(self) -> aioodbc.Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        dsn = self._dsn
        if self._password is not None:
            dsn += ";Pwd={" + self._password.get_secret_value().replace("}", "}}") + "}"
        aioodbc, _pyodbc = _odbc()
        try:
            self._conn = await asyncio.wait_for(
                aioodbc.connect(dsn=dsn, autocommit=True, timeout=max(1, int(self.timeout))), self.timeout + 1)
        except TimeoutError:
            raise DatabaseError(f"cannot connect to {self.label}'s database within {self.timeout:g} s "
                                f"({self._dsn}); check db_host and db_port in [pbx.forip]", field="db_host") from None
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except _odbc()[1].Error:
                pass

    def _clean(self, exc: BaseException) -> str:
        text = " ".join(str(arg) for arg in exc.args) if exc.args else str(exc)
        if self._password is not None and self._password.get_secret_value():
            text = text.replace(self._password.get_secret_value(), "******")
        return text

    def _explain(self, exc: pyodbc.Error) -> str:
        text = self._clean(exc)
        lowered = text.lower()
        if "data source name not found" in lowered or "can't open lib" in lowered:
            hint = "the ODBC driver is not installed: install unixodbc and odbc-postgresql, and check odbc_driver"
        elif "password authentication failed" in lowered:
            hint = "check db_user and db_password in [pbx.forip]"
        elif "could not connect" in lowered or "connection refused" in lowered or "timeout expired" in lowered:
            hint = "check db_host and db_port in [pbx.forip]"
        elif "does not exist" in lowered and "database" in lowered:
            hint = "check db_name in [pbx.forip]"
        elif "relation" in lowered and "does not exist" in lowered:
            hint = "check tickets_table and ddr_query in [pbx.forip]"
        else:
            hint = "see the driver's message"
        return f"{self.label}'s database: {hint} ({text})"


def _connection_lost(exc: pyodbc.Error) -> bool:
    state = exc.args[0] if exc.args else ""
    return isinstance(state, str) and (state.startswith("08") or state == "HY000" and "connection" in str(exc).lower())


def _field_of(exc: pyodbc.Error) -> str:
    lowered = str(exc).lower()
    if "password" in lowered:
        return "db_password"
    if "relation" in lowered:
        return "tickets_table"
    return "db_host"
