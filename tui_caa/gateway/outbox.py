"""A durable journal of call records not yet in the CRM.

Every finished call is written here first (a local SQLite file, apart from the CRM database,
which may be a remote server that is down), then into the CRM, then removed from here. After a
crash or an outage the journal is replayed; the CRM's `record_call` is idempotent, so a record
that reached the CRM just before a crash is not written twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tui_caa.domain import CallRecord

BUSY_TIMEOUT = 0.1  # seconds


class Outbox:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # a short busy timeout: these calls block the event loop, and the recorder keeps records in
        # memory and retries while the file is locked, rather than stalling every console for 5 s
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed record survives a crash of the gateway; only a power cut
        # in the same instant could lose the last one, and fsync per call would cap call rates
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY, record TEXT NOT NULL)"
        )
        # records the CRM refused for a reason other than being down: kept for a person to look at
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS refused (id INTEGER PRIMARY KEY, record TEXT NOT NULL, reason TEXT NOT NULL)"
        )

    def add(self, record: CallRecord) -> int:
        cursor = self._db.execute("INSERT INTO pending(record) VALUES (?)", (record.model_dump_json(),))
        return int(cursor.lastrowid or 0)

    def pending(self, limit: int = 500) -> list[tuple[int, CallRecord]]:
        rows = self._db.execute("SELECT id, record FROM pending ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [(row_id, CallRecord.model_validate_json(text)) for row_id, text in rows]

    def remove(self, *entry_ids: int) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM pending WHERE id = ?", [(entry_id,) for entry_id in entry_ids])

    def refuse(self, entry_id: int, reason: str) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO refused(id, record, reason) SELECT id, record, ? FROM pending WHERE id = ?",
                (reason, entry_id),
            )
            self._db.execute("DELETE FROM pending WHERE id = ?", (entry_id,))

    def refused(self) -> list[tuple[CallRecord, str]]:
        rows = self._db.execute("SELECT record, reason FROM refused ORDER BY id").fetchall()
        return [(CallRecord.model_validate_json(text), reason) for text, reason in rows]

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])

    def close(self) -> None:
        self._db.close()
