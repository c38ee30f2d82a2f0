"""Builds (once, then reuses) a large SQLite CRM for the benchmarks: N customers, ~2.5 phones each,
vehicles, contacts and appointments, with the real schema (made by the real migrations).

Rows are written with the sqlite3 module in bulk: going through the store one customer at a time
would take hours for a million customers and measures nothing we care about here."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tui_caa.crm.database import create_engine, migrate
from tui_caa.crm.demo_names import CAR_MODELS, FEMALE_FIRST_NAMES, MALE_FIRST_NAMES, SURNAMES
from tui_caa.domain.documents import cpf_with_check_digits
from tui_caa.domain.text import fold
from tui_caa.phones import near_key

FORMAT_VERSION = "1"
DDDS = ("51", "51", "51", "54", "53", "11", "21", "41", "48")
SLOTS = ("celular", "residencial", "comercial", "recado")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 20_000


def default_path(customers: int) -> Path:
    return Path("/tmp/tui-caa-bench") / f"crm-{customers}.sqlite3"


def build(path: Path, customers: int, *, seed: int = 7, rebuild: bool = False) -> dict[str, int]:
    """Makes sure `path` holds the benchmark CRM; returns its row counts."""
    if not rebuild and _is_complete(path, customers):
        return _counts(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    asyncio.run(_migrate(path))
    started = time.perf_counter()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA synchronous=OFF")
        _fill(db, customers, random.Random(seed))
        db.execute("INSERT INTO settings(key, value) VALUES ('bench_format', ?)", (f"{FORMAT_VERSION}:{customers}",))
    print(f"built {path} with {customers} customers in {time.perf_counter() - started:.0f} s", flush=True)
    return _counts(path)


async def _migrate(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    await engine.dispose()


def _is_complete(path: Path, customers: int) -> bool:
    if not path.exists():
        return False
    try:
        with sqlite3.connect(path) as db:
            row = db.execute("SELECT value FROM settings WHERE key = 'bench_format'").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == f"{FORMAT_VERSION}:{customers}"


def _counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("customers", "customer_phones", "vehicles", "contacts", "appointments")}


def _fill(db: sqlite3.Connection, customers: int, rng: random.Random) -> None:
    now = EPOCH.replace(tzinfo=None)
    for start in range(1, customers + 1, BATCH):
        ids = range(start, min(start + BATCH, customers + 1))
        people, phones, cars, contacts, visits = [], [], [], [], []
        for customer_id in ids:
            name = _name(rng)
            people.append((customer_id, name, fold(name), cpf_with_check_digits(f"{rng.randrange(10**9):09d}"), now, now))
            phones.extend(_phones(rng, customer_id))
            for _ in range(rng.choice((0, 1, 1, 1, 2))):
                model, first, last, _ = rng.choice(CAR_MODELS)
                cars.append((customer_id, _plate(rng), model, rng.randint(first, last)))
            for _ in range(rng.choice((0, 1, 1, 2))):
                contacts.append((customer_id, "interested", False, "", now - timedelta(minutes=rng.randrange(500_000))))
            if rng.random() < 0.4:
                visits.append((customer_id, "Revisão", "", now + timedelta(hours=rng.randrange(-5000, 2000)), now))
        db.executemany("INSERT INTO customers(id, name, name_folded, document, created_at, updated_at) VALUES (?,?,?,?,?,?)", people)
        db.executemany("INSERT INTO customer_phones(customer_id, slot, raw, e164, near_key) VALUES (?,?,?,?,?)", phones)
        db.executemany("INSERT INTO vehicles(customer_id, plate, model, year) VALUES (?,?,?,?)", cars)
        db.executemany("INSERT INTO contacts(customer_id, outcome, traffic_source_locked, notes, created_at) VALUES (?,?,?,?,?)", contacts)
        db.executemany("INSERT INTO appointments(customer_id, service, notes, scheduled_at, created_at) VALUES (?,?,?,?,?)", visits)


def _name(rng: random.Random) -> str:
    first = rng.choice(MALE_FIRST_NAMES if rng.random() < 0.5 else FEMALE_FIRST_NAMES)
    return f"{first} {rng.choice(SURNAMES)} {rng.choice(SURNAMES)}"


_shared: list[tuple[str, str]] = []  # recent numbers a family member may share


def _phones(rng: random.Random, customer_id: int) -> Iterator[tuple[int, str, str, str, str | None]]:
    slots = rng.sample(SLOTS, k=rng.choice((1, 2, 2, 3, 3, 4)))
    for slot in slots:
        if _shared and rng.random() < 0.05:
            raw, e164 = rng.choice(_shared)
        else:
            raw, e164 = random_number(rng, mobile=slot in ("celular", "recado"))
            if len(_shared) < 1000:
                _shared.append((raw, e164))
            else:
                _shared[rng.randrange(1000)] = (raw, e164)
        yield customer_id, slot, raw, e164, near_key(e164)


def random_number(rng: random.Random, *, mobile: bool) -> tuple[str, str]:
    """A valid number as people type it, and its E.164 form."""
    ddd = rng.choice(DDDS)
    subscriber = f"9{rng.randint(6, 9)}{rng.randrange(10**7):07d}" if mobile else f"3{rng.randrange(10**7):07d}"
    raw = rng.choice((f"({ddd}) {subscriber[:-4]}-{subscriber[-4:]}", f"{ddd}{subscriber}", f"0{ddd} {subscriber}"))
    return raw, f"+55{ddd}{subscriber}"


def _plate(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(3))
    if rng.random() < 0.5:
        return f"{letters}{rng.randrange(10)}{rng.choice('ABCDEFGHIJ')}{rng.randrange(100):02d}"
    return f"{letters}{rng.randrange(10000):04d}"
