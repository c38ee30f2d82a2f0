"""Writes every finished call into the CRM exactly once, also while the CRM database is down
and while the outbox file itself cannot be written (locked, disk full, I/O error)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Callable

from tui_caa.clock import Clock
from tui_caa.crm import CrmStore, DatabaseUnavailable
from tui_caa.domain import CallRecord
from tui_caa.gateway.outbox import Outbox

log = logging.getLogger(__name__)

# what a local SQLite file does when it is locked, full or failing: the outbox is retried
OUTBOX_ERRORS = (sqlite3.Error, OSError)
LOG_EVERY = 100  # while the outbox is unavailable, a line per this many records kept in memory


class CallRecorder:
    """Journal first (outbox), CRM second. One task drains the journal in order; when the CRM is
    unavailable it waits (backoff up to `max_backoff` seconds) and tries again, forever.

    A record the outbox cannot take at once (file locked, disk full) waits in memory, in order, and
    journaling is retried with the same backoff: the state model has already let go of that call, so
    dropping or raising here would lose it. Memory is bounded by what a real outage produces."""

    def __init__(self, store: CrmStore, outbox: Outbox, clock: Clock, *, max_backoff: float = 30.0,
                 on_written: Callable[[list[CallRecord]], None] | None = None,
                 on_problem: Callable[[str | None], None] | None = None) -> None:
        self._store = store
        self._on_written = on_written  # told after each write: the records are in the CRM now
        self._on_problem = on_problem  # told when the outbox fails (a sentence) and works again (None)
        self._outbox = outbox
        self._unjournaled: deque[CallRecord] = deque()
        self._outbox_failing: str | None = None
        self._journaled_count = 0  # the outbox's size when last read (it cannot be read while failing)
        self._clock = clock
        self._max_backoff = max_backoff
        self._work = asyncio.Event()
        self._idle = asyncio.Event()
        self.written = 0
        self.failures = 0
        self.crm_available = True

    def record(self, record: CallRecord) -> None:
        """Never fails: the record is journaled at once, or kept in memory while the outbox is
        unavailable (behind the ones already waiting there: order is kept)."""
        self._unjournaled.append(record)
        if self._outbox_failing is None:
            try:
                self._journal()
            except OUTBOX_ERRORS as exc:
                self._outbox_failed(exc)
        elif len(self._unjournaled) % LOG_EVERY == 0:
            log.warning("outbox still unavailable, %d call record(s) kept in memory", len(self._unjournaled))
        self._idle.clear()
        self._work.set()

    @property
    def waiting(self) -> int:
        if self._outbox_failing is None:
            try:
                self._journaled_count = len(self._outbox)
            except OUTBOX_ERRORS:
                pass
        return self._journaled_count + len(self._unjournaled)

    @property
    def in_memory(self) -> int:
        return len(self._unjournaled)

    def _journal(self) -> None:
        """Moves the records kept in memory into the outbox, oldest first; raises if it cannot."""
        while self._unjournaled:
            self._outbox.add(self._unjournaled[0])
            self._unjournaled.popleft()

    def _outbox_failed(self, exc: BaseException) -> None:
        problem = f"the call outbox {self._outbox.path} cannot be written ({type(exc).__name__}: {exc})"
        if self._outbox_failing is None:
            log.error("%s; %d call record(s) kept in memory until it can", problem, len(self._unjournaled))
        self._outbox_failing = problem
        self._tell(problem)

    def _outbox_works(self) -> None:
        if self._outbox_failing is not None:
            log.info("call outbox writable again")
        self._outbox_failing = None
        self._tell(None)

    def _tell(self, problem: str | None) -> None:
        if self._on_problem is not None:
            self._on_problem(problem)

    async def run(self) -> None:
        backoff = 0.5
        self._work.set()  # records left by a previous run
        while True:
            await self._work.wait()
            self._work.clear()
            while True:
                try:
                    self._journal()
                    batch = self._outbox.pending()
                    if batch:
                        await self._write_batch(batch)
                except OUTBOX_ERRORS as exc:
                    self._outbox_failed(exc)
                    await self._clock.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff)
                    continue
                except DatabaseUnavailable as exc:
                    self.failures += 1
                    if self.crm_available:
                        log.warning("CRM unavailable, %d call record(s) wait in the outbox: %s", self.waiting, exc)
                    self.crm_available = False
                    await self._clock.sleep(backoff)
                    backoff = min(backoff * 2, self._max_backoff)
                    continue
                self._outbox_works()
                if not batch:
                    break
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
