"""What every part of the CRM store shares: the engine, the phone rules, the clock, error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import Table, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tui_caa.crm.database import unavailable
from tui_caa.domain.errors import InvalidInput, NotFound
from tui_caa.phones import CallerIdRules, InvalidPhoneNumber, NormalizedNumber, normalize, normalize_phone


def utc_now() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    def __init__(
        self,
        engine: AsyncEngine,
        rules: CallerIdRules | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.rules = rules or CallerIdRules()
        self.clock = clock

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as connection:
                yield connection
        except IntegrityError:
            raise
        except (DBAPIError, OSError) as exc:
            raise unavailable(self.engine, exc) from exc

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction: all of it is written, or none of it."""
        try:
            async with self.engine.begin() as connection:
                yield connection
        except IntegrityError:
            raise
        except (DBAPIError, OSError) as exc:
            raise unavailable(self.engine, exc) from exc

    def _e164_or_none(self, raw: str) -> str | None:
        try:
            return normalize(raw, self.rules).e164
        except InvalidPhoneNumber:
            return None

    def _phone(self, raw: str, field: str) -> NormalizedNumber:
        try:
            return normalize_phone(raw, self.rules)
        except InvalidPhoneNumber as exc:
            raise InvalidInput(f"{field}: {exc}", field=field) from exc

    async def _require(self, conn: AsyncConnection, table: Table, row_id: int, field: str) -> None:
        """NotFound naming the record, e.g. 'customer 12 does not exist'."""
        if (await conn.execute(select(table.c.id).where(table.c.id == row_id))).first() is None:
            what = table.name.removesuffix("s").replace("_", " ")
            raise NotFound(f"{what} {row_id} does not exist", field=field)
