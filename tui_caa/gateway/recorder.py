"""Writes every finished call into the CRM exactly once, also while the CRM database is down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tui_caa.clock import Clock
from tui_caa.crm import CrmStore, DatabaseUnavailable
from tui_caa.domain import CallRecord
from tui_caa.gateway.outbox import Outbox

log = logging.getLogger(__name__)


class CallRecorder:
    """Journal first (outbox), CRM second. One task drains the journal in order; when the CRM is
    unavailable it waits (backoff up to `max_backoff` seconds) and tries again, forever."""

    def __init__(self, store: CrmStore, outbox: Outbox, clock: Clock, *, max_backoff: float = 30.0,
                 on_written: Callable[[list[CallRecord]], None] | None = None) -> None:
        self._store = store
        self._on_written = on_written  # told after each write: the records are in the CRM now
        self._outbox = outbox
        self._clock = clock
        self._max_backoff = max_backoff
        self._work = asyncio.Event()
        self._idle = asyncio.Event()
        self.written = 0
        self.failures = 0
        self.crm_available = True

    def record(self, record: CallRecord) -> None:
        """Never blocks and never fails for a CRM outage: the record is journaled at once."""
        self._outbox.add(record)
        self._idle.clear()
        self._work.set()

    @property
    def waiting(self) -> int:
        return len(self._outbox)

    async def run(self) -> None:
        backoff = 0.5
        self._work.set()  # records left by a previous run
        while True:
            await self._work.wait()
            self._work.clear()
            while batch := self._outbox.pending():
                try:
                    await self._write_batch(batch)
                except DatabaseUnavailable as exc:
                    self.failures += 1
                    if self.crm_available:
                        log.warning("CRM unavailable, %d call record(s) wait in the outbox: %s", self.waiting, exc)
                    self.crm_available = False
                    await self._clock.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff)
                    continue
                if not self.crm_available:
                    log.info("CRM available again; call records written")
                self.crm_available = True
                backoff = 0.5
            self._idle.set()

    async def _write_batch(self, batch: list[tuple[int, CallRecord]]) -> None:
        """One transaction for the whole batch; record by record if the CRM refuses one of them."""
        try:
            await self._store.record_calls([record for _, record in batch])
        except DatabaseUnavailable:
            raise
        except Exception:  # noqa: BLE001 - find the bad one, write the others
            for entry_id, record in batch:
                await self._write(entry_id, record)
            return
        self._outbox.remove(*(entry_id for entry_id, _ in batch))
        self.written += len(batch)
        self._written([record for _, record in batch])

    async def _write(self, entry_id: int, record: CallRecord) -> None:
        try:
            await self._store.record_call(record)
        except DatabaseUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the others
            log.error("CRM refused call record %s/%s, kept in the outbox: %s",
                      record.pbx_call_id, record.extension, exc)
            self._outbox.refuse(entry_id, str(exc))
            return
        self._outbox.remove(entry_id)
        self.written += 1
        self._written([record])

    def _written(self, records: list[CallRecord]) -> None:
        if self._on_written is not None:
            try:
                self._on_written(records)
            except Exception:  # noqa: BLE001 - telling the consoles must never stop the recording
                log.exception("could not announce %d written call record(s)", len(records))

    async def drained(self) -> None:
        """Waits until every journaled record is in the CRM (for tests and orderly shutdown)."""
        while self.waiting:
            self._idle.clear()
            self._work.set()
            await self._idle.wait()
