"""Benchmark: from a ring to the screen pop in the agent's session, on a large CRM.

    python -m tests.bench.screen_pop                          # 1,000,000 customers, 2,000 rings
    python -m tests.bench.screen_pop --customers 10000 --rings 200   # CI smoke size

Each ring goes through the whole path a console sees: the simulator emits the ring, the gateway
updates its state, looks the caller up once in the CRM (customers with vehicles and latest
activity) and delivers the pop to the agent's session. The caller then hangs up and the gateway
records the missed call, as in real life. Uses the database of `lookup.py` (built if missing).
Target: p99 under 20 ms. JSON on the last line."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from tests.bench import crmdb
from tests.bench.lookup import pick_numbers
from tui_caa.crm import open_store
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.pbx.sim import SimScenario, SimulatorDriver
from tui_caa.phones import CallerIdRules
from tui_caa.protocol.messages import ScreenPop
from tui_caa.protocol.principal import Principal, Role

TARGET_P99_MS = 20.0


async def run(path: Path, numbers: list[str], folder: Path) -> dict[str, float]:
    store = await open_store(f"sqlite+aiosqlite:///{path}", CallerIdRules(default_ddd="51"))
    sim = SimulatorDriver(SimScenario(extensions=("1001",)), seed=1, id_prefix=f"pop-{time.time_ns()}")
    gateway = Gateway(sim, store, Outbox(folder / "outbox.sqlite3"))
    await gateway.start()
    await gateway.wait_connected()
    agent = gateway.subscribe(Principal(Role.AGENT, "1001"))
    await agent.get()
    timings, matched = [], 0
    for number in numbers:
        started = time.perf_counter()
        call_id = await sim.ring("1001", number, ddr="5121010001")
        pop = None
        while pop is None:
            for message in await agent.get_batch():
                if isinstance(message, ScreenPop) and message.call_id == call_id:
                    pop = message
        timings.append((time.perf_counter() - started) * 1000)
        matched += bool(pop.lookup and pop.lookup.exact)
        await sim.remote_hangup(call_id)
    await gateway.recorder.drained()
    await gateway.stop()
    await store.close()
    warm = timings[len(timings) // 20:]  # the first 5 % warm the caches
    return {
        "rings": len(warm),
        "p50_ms": round(statistics.median(warm), 3),
        "p99_ms": round(sorted(warm)[int(0.99 * len(warm))], 3),
        "max_ms": round(max(warm), 3),
        "matched_fraction": round(matched / len(numbers), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rings", type=int, default=2_000)
    parser.add_argument("--db", type=Path, help="database file (default: the lookup benchmark's cached file)")
    args = parser.parse_args()
    path = args.db or crmdb.default_path(args.customers)
    counts = crmdb.build(path, args.customers)
    numbers = pick_numbers(path, args.rings, random.Random(5))
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(run(path, numbers, Path(folder)))
    figures = {"benchmark": "screen_pop", "customers": counts["customers"], **figures,
               "target_p99_ms": TARGET_P99_MS}
    figures["target_met"] = figures["p99_ms"] < TARGET_P99_MS
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
