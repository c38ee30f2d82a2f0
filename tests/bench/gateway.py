"""Benchmark: events from the simulator through the gateway (state, fan-out, call records) to
200 consoles (agents and supervisors).

    python -m tests.bench.gateway                     # 200,000 events, 195 agents + 5 supervisors
    python -m tests.bench.gateway --events 20000      # CI smoke size

Each simulated call is rung or dialled, answered, held and resumed a few times and hung up, so the
gateway also writes one call record per call into a SQLite CRM as it goes. Inbound callers are
withheld (no CRM lookup: `screen_pop.py` measures that path). Latency is from the moment the
simulator emits an event (its timestamp) to the moment a console's task reads it.
Target: >= 50,000 events/s end to end and p99 < 20 ms. JSON on the last line."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tui_caa.crm import open_store
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.pbx.sim import SimScenario, SimulatorDriver
from tui_caa.phones import CallerIdRules
from tui_caa.protocol.messages import PbxUpdate
from tui_caa.protocol.principal import Principal, Role

TARGET_EVENTS_PER_SECOND = 50_000
TARGET_P99_MS = 20.0
HOLDS_PER_CALL = 3
EVENTS_PER_CALL = 2 + 2 + 4 * HOLDS_PER_CALL + 2  # ring/dial, answer, hold+resume…, hang up (each + state)


async def console(subscription, expected: int, latencies: list[float], sample_every: int) -> None:  # type: ignore[no-untyped-def]
    seen = 0
    while seen < expected:
        batch = await subscription.get_batch()
        if not batch:
            return
        now = datetime.now(UTC)
        for message in batch:
            if isinstance(message, PbxUpdate):
                seen += 1
                if seen % sample_every == 0:
                    latencies.append((now - message.event.at).total_seconds() * 1000)


async def run(events: int, agents: int, supervisors: int, folder: Path) -> dict[str, float]:
    extensions = tuple(str(2000 + n) for n in range(agents))
    store = await open_store(f"sqlite+aiosqlite:///{folder / 'crm.sqlite3'}", CallerIdRules(default_ddd="51"))
    sim = SimulatorDriver(SimScenario(extensions=extensions), seed=1, id_prefix="b")
    gateway = Gateway(sim, store, Outbox(folder / "outbox.sqlite3"))
    await gateway.start()
    await gateway.wait_connected()

    calls = events // EVENTS_PER_CALL
    total = calls * EVENTS_PER_CALL
    per_extension = {ext: 0 for ext in extensions}
    for n in range(calls):
        per_extension[extensions[n % agents]] += EVENTS_PER_CALL
    latencies: list[float] = []
    readers = []
    for ext in extensions:
        subscription = gateway.subscribe(Principal(Role.AGENT, ext), backlog=100_000)
        await subscription.get()  # the initial snapshot
        readers.append(console(subscription, per_extension[ext], latencies, 10))
    for _ in range(supervisors):
        subscription = gateway.subscribe(Principal(Role.SUPERVISOR), backlog=1_000_000)
        await subscription.get()
        readers.append(console(subscription, total, latencies, 200))
    consoles = asyncio.gather(*readers)

    started = time.perf_counter()
    for n in range(calls):
        ext = extensions[n % agents]
        if n % 2:
            call_id = await sim.ring(ext, "anonymous", ddr="5121010001")
            await sim.answer(ext, call_id)
        else:
            call_id = await sim.dial(ext, "33334444")
            await sim.remote_answer(call_id)
        for _ in range(HOLDS_PER_CALL):
            await sim.hold(ext, call_id)
            await sim.resume(ext, call_id)
        await sim.hangup(ext, call_id)
        if n % 5 == 0:
            await asyncio.sleep(0)  # let the gateway and the consoles run, as a PBX socket would
    await consoles
    elapsed = time.perf_counter() - started
    await gateway.recorder.drained()
    recorded = gateway.recorder.written
    await gateway.stop()
    await store.close()
    return {
        "events": total,
        "subscribers": agents + supervisors,
        "deliveries": total * (1 + supervisors),
        "calls_recorded": recorded,
        "seconds": round(elapsed, 3),
        "events_per_second": round(total / elapsed),
        "latency_samples": len(latencies),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(sorted(latencies)[int(0.99 * len(latencies))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--agents", type=int, default=195)
    parser.add_argument("--supervisors", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(run(args.events, args.agents, args.supervisors, Path(folder)))
    figures |= {
        "benchmark": "gateway",
        "target_events_per_second": TARGET_EVENTS_PER_SECOND,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": figures["events_per_second"] >= TARGET_EVENTS_PER_SECOND and figures["p99_ms"] < TARGET_P99_MS,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
