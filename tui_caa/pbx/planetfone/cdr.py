"""The Planetfone PBX's MySQL: its Asterisk-style CDR table, read with aiomysql.

Used for call history, the recording of a call (`recordingfile`), the DDR of inbound calls (`did`)
and calls that began and ended between two polls. Table and column names come from
`[pbx.planetfone]` (`cdr_table`, `cdr_columns`); an empty column name means the site has no such
column. `calldate` is the PBX's local time without a zone (`cdr_timezone`).

How a row maps to extensions (Asterisk semantics, reference §2.7): the extension whose channel is
`dstchannel` received the call (inbound, or internal when `channel` is an extension too); the one
whose channel is `channel` placed it (outbound, or internal). The call id is `cdr_call_id_column`
(`linkedid` by default), which equals the IdLigacao the SOAP service reports.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiomysql
from pydantic import SecretStr

from tui_caa.domain.telephony import CallRecord, Direction, Disposition
from tui_caa.pbx.base import NotConnected
from tui_caa.pbx.options.planetfone import CDR_COLUMNS

ROW_LIMIT = 5000  # one sweep or history page; more than this in one window is not a dealership

DISPOSITIONS = {
    "ANSWERED": Disposition.ANSWERED,
    "NO ANSWER": Disposition.NO_ANSWER,
    "NOANSWER": Disposition.NO_ANSWER,
    "BUSY": Disposition.BUSY,
    "FAILED": Disposition.FAILED,
    "CONGESTION": Disposition.FAILED,
}


class CdrError(NotConnected):
    """The MySQL server could not be reached, refused the login, or the CDR table is not as configured."""


@dataclass(frozen=True, slots=True)
class CdrRow:
    calldate: datetime  # aware
    call_id: str
    uniqueid: str
    src: str
    dst: str
    channel: str
    dstchannel: str
    disposition: Disposition
    duration: int
    billsec: int
    did: str | None
    recordingfile: str | None

    @property
    def ended_at(self) -> datetime:
        return self.calldate + timedelta(seconds=self.duration)

    @property
    def answered_at(self) -> datetime | None:
        if self.disposition is not Disposition.ANSWERED:
            return None
        return self.calldate + timedelta(seconds=max(self.duration - self.billsec, 0))


@dataclass(frozen=True, slots=True)
class CdrLeg:
    """One extension's part in one CDR row."""

    extension: str
    direction: Direction
    number: str
    ddr: str | None
    row: CdrRow


def legs_of(row: CdrRow, pattern: re.Pattern[str]) -> list[CdrLeg]:
    src_ext = _ext(pattern, row.channel)
    dst_ext = _ext(pattern, row.dstchannel)
    legs = []
    if dst_ext:
        direction = Direction.INTERNAL if src_ext else Direction.INBOUND
        legs.append(CdrLeg(dst_ext, direction, src_ext or row.src, row.did if not src_ext else None, row))
    if src_ext and src_ext != dst_ext:
        direction = Direction.INTERNAL if dst_ext else Direction.OUTBOUND
        legs.append(CdrLeg(src_ext, direction, dst_ext or row.dst, None, row))
    return legs


def record_of(leg: CdrLeg) -> CallRecord:
    row = leg.row
    answered = row.answered_at
    disposition = row.disposition if answered or row.disposition is not Disposition.ANSWERED else Disposition.NO_ANSWER
    return CallRecord(
        pbx_call_id=row.call_id or row.uniqueid, extension=leg.extension, direction=leg.direction,
        remote_raw=leg.number or "", ddr_raw=leg.ddr or None, started_at=row.calldate, answered_at=answered,
        ended_at=row.ended_at, talk_seconds=max(row.billsec, 0) if answered else 0,
        missed=leg.direction is Direction.INBOUND and answered is None,
        disposition=disposition, recording_ref=row.recordingfile or None,
    )


def _ext(pattern: re.Pattern[str], channel: str) -> str | None:
    found = pattern.match(channel or "")
    return found.group("ext") if found else None


class CdrStore:
    def __init__(self, host: str, port: int, user: str, password: SecretStr | None, database: str, *,
                 table: str = "cdr", columns: dict[str, str] | None = None, call_id_column: str = "linkedid",
                 timezone: str = "America/Sao_Paulo", timeout: float = 5.0) -> None:
        self.host, self.port, self.user, self.database = host, port, user, database
        self._password = password
        self.table = table
        self.zone = ZoneInfo(timezone)
        self.timeout = timeout
        names = {name: name for name in CDR_COLUMNS}
        names.update(columns or {})
        names["call_id"] = names.get(call_id_column, call_id_column) if call_id_column in CDR_COLUMNS else call_id_column
        self._names = names
        self._pool: aiomysql.Pool | None = None
        self._lock = asyncio.Lock()
        self.queries = 0
        self.failures = 0

    @property
    def where(self) -> str:
        return f"MySQL at {self.host}:{self.port} (database {self.database}, table {self.table})"

    def __repr__(self) -> str:  # never the password
        return f"CdrStore({self.host}:{self.port}/{self.database}, user={self.user})"

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
            await pool.wait_closed()

    async def check(self) -> None:
        """Connects and reads the CDR table once; CdrError names what failed."""
        await self._fetch(f"SELECT {self._select()} FROM `{self.table}` LIMIT 0", ())

    # ---- queries ----
    async def rows_since(self, since: datetime) -> list[CdrRow]:
        sql = (f"SELECT {self._select()} FROM `{self.table}` WHERE `{self._names['calldate']}` >= %s "
               f"ORDER BY `{self._names['calldate']}` LIMIT {ROW_LIMIT}")
        return await self._rows(sql, (self.local(since),))

    async def rows_of_call(self, call_id: str) -> list[CdrRow]:
        column = self._names["call_id"]
        if not column:
            return []
        sql = (f"SELECT {self._select()} FROM `{self.table}` WHERE `{column}` = %s "
               f"ORDER BY `{self._names['calldate']}` LIMIT 100")
        return await self._rows(sql, (call_id,))

    async def rows_of_extension(self, extension: str, since: datetime) -> list[CdrRow]:
        channel, dst = self._names["channel"], self._names["dstchannel"]
        like = f"%/{extension}-%"
        sql = (f"SELECT {self._select()} FROM `{self.table}` WHERE `{self._names['calldate']}` >= %s "
               f"AND (`{channel}` LIKE %s OR `{dst}` LIKE %s) ORDER BY `{self._names['calldate']}` LIMIT {ROW_LIMIT}")
        return await self._rows(sql, (self.local(since), like, like))

    def local(self, moment: datetime) -> datetime:
        """An aware moment as the PBX's naive local calldate."""
        return moment.astimezone(self.zone).replace(tzinfo=None)

    # ---- plumbing ----
    def _select(self) -> str:
        out = []
        for name in (*CDR_COLUMNS, "call_id"):
            column = self._names.get(name) or ""
            out.append(f"`{column}` AS `{name}`" if column else f"NULL AS `{name}`")
        return ", ".join(out)

    async def _rows(self, sql: str, args: tuple[Any, ...]) -> list[CdrRow]:
        return [row for row in (self._row(raw) for raw in await self._fetch(sql, args)) if row is not None]

    def _row(self, raw: dict[str, Any]) -> CdrRow | None:
        calldate = raw.get("calldate")
        if not isinstance(calldate, datetime):
            return None
        if calldate.tzinfo is None:
            calldate = calldate.replace(tzinfo=self.zone)
        disposition = DISPOSITIONS.get(str(raw.get("disposition") or "").strip().upper(), Disposition.FAILED)
        return CdrRow(
            calldate=calldate.astimezone(UTC), call_id=_text(raw.get("call_id")) or _text(raw.get("uniqueid")),
            uniqueid=_text(raw.get("uniqueid")), src=_text(raw.get("src")), dst=_text(raw.get("dst")),
            channel=_text(raw.get("channel")), dstchannel=_text(raw.get("dstchannel")), disposition=disposition,
            duration=_int(raw.get("duration")), billsec=_int(raw.get("billsec")),
            did=_text(raw.get("did")) or None, recordingfile=_text(raw.get("recordingfile")) or None,
        )

    async def _fetch(self, sql: str, args: Iterable[Any]) -> list[dict[str, Any]]:
        self.queries += 1
        try:
            pool = await self._get_pool()
            async with pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cursor:
                await asyncio.wait_for(cursor.execute(sql, tuple(args)), self.timeout)
                return list(await cursor.fetchall())
        except CdrError:
            self.failures += 1
            raise
        except TimeoutError:
            self.failures += 1
            raise CdrError(f"{self.where}: no answer within {self.timeout:g} s (mysql_timeout in [pbx.planetfone])") from None
        except Exception as exc:  # pymysql's errors carry (code, message)
            self.failures += 1
            if self._pool is not None and isinstance(exc, (OSError, aiomysql.OperationalError)):
                await self.close()  # a broken pool: open a fresh one next time
            raise CdrError(f"{self.where}: {_mysql_reason(exc)}") from None

    async def _get_pool(self) -> aiomysql.Pool:
        async with self._lock:
            if self._pool is None:
                try:
                    self._pool = await asyncio.wait_for(aiomysql.create_pool(
                        host=self.host, port=self.port, user=self.user, db=self.database,
                        password=self._password.get_secret_value() if self._password else "",
                        minsize=0, maxsize=2, connect_timeout=self.timeout, autocommit=True,
                        pool_recycle=300, charset="utf8mb4"), self.timeout + 1)
                except TimeoutError:
                    raise CdrError(f"{self.where}: no connection within {self.timeout:g} s") from None
                except Exception as exc:
                    raise CdrError(f"{self.where}: {_mysql_reason(exc)}") from None
            return self._pool


def _mysql_reason(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        code, message = args[0], str(args[1])
        hint = {1045: " (check mysql_user and mysql_password in the PBX registry)",
                1049: " (check mysql_database in the PBX registry)",
                1146: " (check cdr_table in [pbx.planetfone])",
                1054: " (check cdr_columns in [pbx.planetfone])",
                2003: " (is the server up, and mysql_host/mysql_port right?)"}.get(code, "")
        return f"error {code}: {message}{hint}"
    return f"{type(exc).__name__}: {exc}"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip()


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
