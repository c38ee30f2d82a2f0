"""Benchmark: the screen-pop lookup (`CrmStore.lookup_by_phone`, with vehicles and the latest
contacts and appointments) on a large SQLite CRM, next to a naive LIKE scan over phone text.

    python -m tests.bench.lookup                       # 1,000,000 customers, 10,000 lookups
    python -m tests.bench.lookup --customers 10000 --lookups 1000   # CI smoke size

Target: p99 under 5 ms. The last line printed is JSON with the figures."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import time
from pathlib import Path

from sqlalchemy import text

from tests.bench import crmdb
from tui_caa.crm import open_store
from tui_caa.phones import CallerIdRules

TARGET_P99_MS = 5.0
# how legacy CRMs find a caller: strip the punctuation of every stored phone and scan for the digits
NAIVE_SCAN = text(
    "SELECT DISTINCT customer_id FROM customer_phones WHERE "
    "replace(replace(replace(replace(replace(raw, '(', ''), ')', ''), '-', ''), ' ', ''), '+', '') "
    "LIKE '%' || :digits || '%'"
)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def pick_numbers(path: Path, count: int, rng: random.Random) -> list[str]:
    """Mostly numbers of customers (as a PBX sends them: 0 + DDD + number), some unknown."""
    with sqlite3.connect(path) as db:
        top = db.execute("SELECT max(id) FROM customer_phones").fetchone()[0]
        numbers = []
        while len(numbers) < count:
            if rng.random() < 0.8:
                row = db.execute("SELECT e164 FROM customer_phones WHERE id = ?", (rng.randint(1, top),)).fetchone()
                if row:
                    numbers.append("0" + row[0][3:])
            else:
                numbers.append("0" + crmdb.random_number(rng, mobile=rng.random() < 0.7)[1][3:])
    return numbers


async def measure(path: Path, numbers: list[str], naive_samples: int) -> dict[str, float]:
    store = await open_store(f"sqlite+aiosqlite:///{path}", CallerIdRules(default_ddd="51"))
    try:
        for number in numbers[:200]:  # warm the page cache and the connection pool
            await store.lookup_by_phone(number)
        timings, matched = [], 0
        for number in numbers:
            started = time.perf_counter()
            found = await store.lookup_by_phone(number)
            timings.append((time.perf_counter() - started) * 1000)
            matched += bool(found.exact)
        naive = []
        async with store.engine.connect() as conn:
            for number in numbers[:naive_samples]:
                started = time.perf_counter()
                await conn.execute(NAIVE_SCAN, {"digits": number[-8:]})
                naive.append((time.perf_counter() - started) * 1000)
    finally:
        await store.close()
    return {
        "p50_ms": round(statistics.median(timings), 3),
        "p99_ms": round(percentile(timings, 0.99), 3),
        "max_ms": round(max(timings), 3),
        "matched_fraction": round(matched / len(numbers), 3),
        "naive_samples": len(naive),
        "naive_p50_ms": round(statistics.median(naive), 3) if naive else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--naive", type=int, default=20, help="naive scans to time (each reads every phone)")
    parser.add_argument("--db", type=Path, help="database file (default: a cached file under /tmp)")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    path = args.db or crmdb.default_path(args.customers)
    counts = crmdb.build(path, args.customers, rebuild=args.rebuild)
    numbers = pick_numbers(path, args.lookups, random.Random(11))
    figures = asyncio.run(measure(path, numbers, args.naive))
    ratio = figures["naive_p50_ms"] / figures["p50_ms"] if figures["naive_p50_ms"] else None
    result = {
        "benchmark": "lookup_by_phone",
        "customers": counts["customers"],
        "phones": counts["customer_phones"],
        "lookups": len(numbers),
        **figures,
        "naive_to_indexed_p50_ratio": round(ratio, 1) if ratio else None,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": figures["p99_ms"] < TARGET_P99_MS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
