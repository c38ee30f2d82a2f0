"""Call records: written once per call and extension, read as the extension's paged history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tui_caa.crm import rows
from tui_caa.crm.base import StoreBase
from tui_caa.crm.schema import call_records, contacts, customer_phones, customers
from tui_caa.domain import (
    CallRecord,
    HistoryCursor,
    HistoryFilter,
    HistoryPage,
    HistoryRow,
    NotFound,
)


class CallOps(StoreBase):
    async def record_call(self, record: CallRecord) -> tuple[CallRecord, bool]:
        """Writes the record unless this call is already recorded for this extension.

        Returns the stored record and whether it was written now. Safe to repeat: a call
        replayed after a crash or a reconnect is never written twice."""
        return (await self.record_calls([record]))[0]

    async def record_calls(self, records: Sequence[CallRecord]) -> list[tuple[CallRecord, bool]]:
        """`record_call` for many records in one transaction (an outbox replayed after an outage)."""
        records = [self._with_e164(record) for record in records]
        try:
            async with self._write() as conn:
                stored = await _find_many(conn, [(r.pbx_call_id, r.extension) for r in records])
                fresh = list({(r.pbx_call_id, r.extension): r for r in records if
                              (r.pbx_call_id, r.extension) not in stored}.values())
                if fresh:
                    linked = await self._linked(conn, fresh)
                    await conn.execute(insert(call_records), [r.model_dump(exclude={"id"}) for r in linked])
                    written = await _find_many(conn, [(r.pbx_call_id, r.extension) for r in fresh])
                else:
                    written = {}
        except IntegrityError:
            # another writer recorded one of these calls between our check and our insert
            if len(records) == 1:
                async with self._read() as conn:
                    again = await _find_many(conn, [(records[0].pbx_call_id, records[0].extension)])
                if not again:
                    raise
                return [(next(iter(again.values())), False)]
            return [await self.record_call(record) for record in records]
        seen: set[tuple[str, str]] = set()
        results = []
        for record in records:
            key = (record.pbx_call_id, record.extension)
            created = key in written and key not in seen
            seen.add(key)
            results.append((written[key] if key in written else stored[key], created))
        return results

    def _with_e164(self, record: CallRecord) -> CallRecord:
        """Fills the E.164 forms of the remote number and the DDR when the PBX gave them raw.
        A caller ID that is not a phone (anonymous, an extension) simply stays without one."""
        changes = {}
        for raw, e164 in (("remote_raw", "remote_e164"), ("ddr_raw", "ddr_e164")):
            if getattr(record, e164) is None and getattr(record, raw):
                changes[e164] = self._e164_or_none(getattr(record, raw))
        return record.model_copy(update=changes) if changes else record

    async def _linked(self, conn: AsyncConnection, records: list[CallRecord]) -> list[CallRecord]:
        """Fills the contact opened during each call and, when only one customer has the number,
        the customer."""
        opened: dict[str, tuple[int, int]] = {}
        for contact_id, customer_id, call_id in await conn.execute(
            select(contacts.c.id, contacts.c.customer_id, contacts.c.call_id)
            .where(contacts.c.call_id.in_({r.pbx_call_id for r in records})).order_by(contacts.c.id.desc())
        ):
            opened[call_id] = (contact_id, customer_id)  # the first contact of the call wins
        owners: dict[str, set[int]] = {}
        numbers = {r.remote_e164 for r in records if r.remote_e164}
        if numbers:
            for e164, customer_id in await conn.execute(
                select(customer_phones.c.e164, customer_phones.c.customer_id)
                .where(customer_phones.c.e164.in_(numbers)).distinct()
            ):
                owners.setdefault(e164, set()).add(customer_id)
        linked = []
        for record in records:
            changes: dict[str, int] = {}
            if record.contact_id is None and record.pbx_call_id in opened:
                changes["contact_id"], changes["customer_id"] = opened[record.pbx_call_id]
            if record.customer_id is None and "customer_id" not in changes:
                candidates = owners.get(record.remote_e164 or "", set())
                if len(candidates) == 1:
                    changes["customer_id"] = next(iter(candidates))
            linked.append(record.model_copy(update=changes) if changes else record)
        return linked

    async def get_call(self, pbx_call_id: str, extension: str) -> CallRecord:
        async with self._read() as conn:
            found = await _find(conn, pbx_call_id, extension)
        if found is None:
            raise NotFound(f"no call {pbx_call_id} recorded for extension {extension}", field="pbx_call_id")
        return found

    async def call_counts_since(self, since: datetime) -> dict[str, int]:
        """How many calls each extension has had since `since` (the monitor's calls of the day)."""
        async with self._read() as conn:
            result = await conn.execute(
                select(call_records.c.extension, func.count())
                .where(call_records.c.started_at >= since).group_by(call_records.c.extension)
            )
            return {extension: count for extension, count in result}

    async def recordings(self, limit: int = 1000) -> list[tuple[str, int]]:
        """(recording reference, talk seconds) of the newest recorded calls."""
        async with self._read() as conn:
            result = await conn.execute(
                select(call_records.c.recording_ref, call_records.c.talk_seconds)
                .where(call_records.c.recording_ref.is_not(None))
                .order_by(call_records.c.started_at.desc()).limit(limit)
            )
            return [(ref, seconds) for ref, seconds in result]

    async def call_history(
        self,
        extension: str,
        filters: HistoryFilter | None = None,
        *,
        after: HistoryCursor | None = None,
        limit: int = 50,
    ) -> HistoryPage:
        """One page of the extension's calls, newest first, each with its contact and customer."""
        filters = filters or HistoryFilter()
        c = call_records.c
        conditions = [c.extension == extension]
        if filters.missed_only:
            conditions.append(c.missed.is_(True))
        if filters.direction is not None:
            conditions.append(c.direction == filters.direction.value)
        if filters.since is not None:
            conditions.append(c.started_at >= filters.since)
        if filters.until is not None:
            conditions.append(c.started_at < filters.until)
        if after is not None:
            conditions.append(or_(
                c.started_at < after.started_at,
                and_(c.started_at == after.started_at, c.id < after.id),
            ))
        query = (
            select(call_records, customers.c.name.label("customer_name"))
            .outerjoin(customers, customers.c.id == c.customer_id)
            .where(*conditions)
            .order_by(c.started_at.desc(), c.id.desc())
            .limit(limit + 1)
        )
        async with self._read() as conn:
            found = (await conn.execute(query)).mappings().all()
        page = [
            HistoryRow(call=rows.call_record(row), customer_name=row["customer_name"], contact_id=row["contact_id"])
            for row in found[:limit]
        ]
        next_cursor = None
        if len(found) > limit:
            last = page[-1].call
            next_cursor = HistoryCursor(started_at=last.started_at, id=last.id or 0)
        return HistoryPage(rows=tuple(page), next_cursor=next_cursor)


async def _find(conn: AsyncConnection, pbx_call_id: str, extension: str) -> CallRecord | None:
    return (await _find_many(conn, [(pbx_call_id, extension)])).get((pbx_call_id, extension))


async def _find_many(conn: AsyncConnection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], CallRecord]:
    """The stored records of these (call id, extension) pairs."""
    if not keys:
        return {}
    wanted = set(keys)
    found = await conn.execute(
        select(call_records).where(call_records.c.pbx_call_id.in_({call_id for call_id, _ in wanted}))
    )
    return {
        (row["pbx_call_id"], row["extension"]): rows.call_record(row)
        for row in found.mappings() if (row["pbx_call_id"], row["extension"]) in wanted
    }
