"""Benchmark: the gateway as a service, with hundreds of remote consoles over real sockets.

    python -m tests.bench.remote                               # 500 consoles, 200 rings
    python -m tests.bench.remote --consoles 20 --rings 10      # CI smoke size

Starts `tui-caa gateway --demo` (built-in simulator, demo CRM in a temporary folder) in a
subprocess on a free loopback port, after adding one account (and one seller, so that the
simulator has the extension) per agent console and a few supervisor accounts. Then, in this one
process, opens N consoles with the console's own client (`RemoteSession`, headless: one
httpx client, one login token and one event stream each), every console reading its `messages()`
in a task of its own. That is one console per seller, each with its own extension: more
extensions than one site has (a site has up to ~100), so a worst case for one gateway.

Measured:
- ring → pop: R rings, one after another by default (`--ring-concurrency N`: N at once), each at
  the next agent console: from the ring (the time the gateway stamps on the CallRinging event, on
  this same machine's clock) to the `ScreenPop` of that call reaching that console's message loop.
  `request_to_pop_*` also count the console's `simulate_call()` request that made the simulator
  ring. After its pop the console answers and hangs up (untimed), as an agent would. Pops of the
  simulator's own demo traffic (~2 calls/min) are not counted.
- events/s: messages received by all consoles while the rings run, per second (cross-checked with
  the gateway's `tui_caa_events_delivered` counter, read from /metrics with a supervisor's token).
- gateway memory: VmRSS of the gateway process before any console logs in, after the logins and
  after every console's stream has delivered its snapshot; (after − before) / N per console.
- login, client-creation and connect times (argon2 makes logins cost ~50–100 ms CPU each on the
  gateway: they run 8 at a time and are reported apart).

The client side (all consoles in one Python process) shares the machine's cores with the gateway,
so the figures are pessimistic for the gateway.
Targets: pop p99 under 30 ms, under 100 KB of gateway memory per console. JSON on the last line.

Measured (2 cores, 500 consoles, 200 rings): one at a time (about 40 calls/s), pop p50 7.6 ms,
p99 20.9 ms (met), 42 KB of gateway memory per console (met); four at once (about 18 calls/s
finished, a burst no dealership sees), p50 22.6 ms, p99 88 ms: concurrent rings queue behind each
other's CRM lookups and call records (the gateway's own ring → pop published is 6 ms one at a time,
22 ms four at once). Logins take ~60–90 s for 500 (argon2id, 8 at a time)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from tui_caa.domain import Account, DomainError, Role, Seller
from tui_caa.domain.events import CallRinging
from tui_caa.protocol.messages import GatewayMessage, LinkStatus, PbxUpdate, ScreenPop, StateSnapshot
from tui_caa.remote.session import RemoteSession

ROOT = Path(__file__).resolve().parent.parent.parent
TARGET_POP_P99_MS = 30.0
TARGET_RSS_KB_PER_CONSOLE = 100.0
PASSWORD = "bench-password-1234"
FIRST_EXTENSION = 3000  # the demo's own sellers are at 1001…
RING_CONCURRENCY = 1  # one ring at a time, each as soon as the last ended: ~40 calls/s
LOGIN_CONCURRENCY = 8
ACCOUNT_CONCURRENCY = 4
RING_TIMEOUT = 10.0
SUPERVISOR_LOGIN, SUPERVISOR_PASSWORD = "supervisor", "demo1234"  # the demo's (reads /metrics)


# ---------------------------------------------------------------- the CRM, before the gateway starts

async def prepare_crm(agents: int, supervisors: int) -> list[tuple[str, Role]]:
    """The demo CRM (as the gateway would create it) plus the bench's accounts; returns the logins."""
    from tui_caa.commands.db import open_demo_ready_store
    from tui_caa.config import load_settings
    from tui_caa.server.service import ensure_demo_accounts

    store, _ = await open_demo_ready_store(load_settings())
    try:
        await ensure_demo_accounts(store)
        have = {a.login for a in await store.accounts()}
        logins: list[tuple[str, Role]] = []
        todo: list[tuple[Account, Seller | None]] = []
        for n in range(agents):
            extension = str(FIRST_EXTENSION + n)
            login = f"bench{extension}"
            logins.append((login, Role.AGENT))
            if login not in have:
                todo.append((Account(login=login, role=Role.AGENT, extension=extension),
                             Seller(name=f"Vendedor {extension}", extension=extension)))
        for n in range(supervisors):
            login = f"benchsup{n}"
            logins.append((login, Role.SUPERVISOR))
            if login not in have:
                todo.append((Account(login=login, role=Role.SUPERVISOR), None))
        extensions = {s.extension for s in await store.sellers()}
        for _, seller in todo:
            if seller is not None and seller.extension not in extensions:
                await store.save_seller(seller)  # the simulator's extensions are the sellers'
        limit = asyncio.Semaphore(ACCOUNT_CONCURRENCY)  # argon2: CPU and 64 MiB per hash

        async def create(account: Account) -> None:
            async with limit:
                await store.create_account(account, SecretStr(PASSWORD))

        await asyncio.gather(*(create(account) for account, _ in todo))
    finally:
        await store.close()
    return logins


# ---------------------------------------------------------------- the gateway process

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {process.returncode} before serving")
            with contextlib.suppress(httpx.TransportError):
                reply = await client.get(url + "/health")
                if reply.status_code == 200 and reply.json().get("link") == "connected":
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the gateway did not become healthy within {timeout:.0f} s")


def stop_gateway(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


async def read_metrics(url: str, token: str) -> dict[str, float]:
    """The gateway's counters the bench cross-checks with (unlabelled samples only)."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        reply = await client.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"})
    reply.raise_for_status()
    samples = dict(re.findall(r"^(tui_caa_[a-z_]+) (\S+)$", reply.text, re.MULTILINE))
    if "tui_caa_events_delivered_total" not in samples:
        raise RuntimeError("/metrics has no tui_caa_events_delivered_total")
    return {name: float(value) for name, value in samples.items()}


# ---------------------------------------------------------------- the consoles

@dataclass
class Console:
    login: str
    role: Role
    session: RemoteSession
    snapshot: asyncio.Event = field(default_factory=asyncio.Event)
    received: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    pops: dict[str, float] = field(default_factory=dict)  # call id → when its pop arrived
    pop_wall: dict[str, float] = field(default_factory=dict)  # the same, on the wall clock
    rang_at: dict[str, float] = field(default_factory=dict)  # call id → when the PBX rang (the event's time)
    waiting: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    link_losses: list[str] = field(default_factory=list)  # why the event stream was lost, each time
    failure: str | None = None

    async def read(self) -> None:
        try:
            async for message in self.session.messages():
                self.receive(message, time.perf_counter())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported, never silent
            self.failure = f"{type(exc).__name__}: {exc}"

    def receive(self, message: GatewayMessage, now: float) -> None:
        self.received += 1
        self.kinds[type(message).__name__] += 1
        if isinstance(message, StateSnapshot):
            self.snapshot.set()
            for call_id in message.pops:  # after a reconnection the pops come inside the snapshot
                self.popped(call_id, now)
        elif isinstance(message, ScreenPop):
            self.popped(message.call_id, now)
        elif isinstance(message, PbxUpdate) and isinstance(message.event, CallRinging) and message.event.call_id:
            # the gateway stamps the ring with its own wall clock (same machine): ring → pop without the
            # console's request that made the simulator ring
            self.rang_at.setdefault(message.event.call_id, message.event.at.timestamp())
        elif isinstance(message, LinkStatus):
            self.link_losses.append(f"{time.perf_counter():.1f} {message.reason}")

    def popped(self, call_id: str, now: float) -> None:
        if call_id in self.pops:
            return
        self.pops[call_id] = now
        self.pop_wall[call_id] = time.time()
        waiter = self.waiting.pop(call_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)

    async def pop_of(self, call_id: str, timeout: float) -> float:
        """When the pop of `call_id` reached the message loop (it may have come before the call id)."""
        if call_id in self.pops:
            return self.pops[call_id]
        waiter = self.waiting.setdefault(call_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self.waiting.pop(call_id, None)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def ring_all(agents: list[Console], rings: int,
                   concurrency: int) -> tuple[list[float], list[float], list[float], list[str], int]:
    """Rings `rings` calls, `concurrency` at a time, each at the next agent console; returns the
    ring → pop times, the simulate_call round trips (ms), pops missed and commands refused."""
    timings: list[float] = []  # the PBX's ring → the pop at the console
    requested: list[float] = []  # the console's simulate_call → its pop (adds the request's round trip)
    replies: list[float] = []
    missed: list[str] = []
    errors = 0
    queue: asyncio.Queue[Console] = asyncio.Queue()
    for n in range(rings):
        queue.put_nowait(agents[n % len(agents)])

    async def worker() -> None:
        nonlocal errors
        while not queue.empty():
            console = queue.get_nowait()
            started = time.perf_counter()
            try:
                call_id = await console.session.simulate_call()
            except DomainError:
                errors += 1
                continue
            replies.append((time.perf_counter() - started) * 1000)
            try:
                arrived = await console.pop_of(call_id, RING_TIMEOUT)
            except TimeoutError:
                missed.append(f"{console.login} {call_id}")
                continue
            requested.append((arrived - started) * 1000)
            if call_id in console.rang_at:
                timings.append((console.pop_wall[call_id] - console.rang_at[call_id]) * 1000)
            try:  # the agent answers and hangs up: the extension is free again, the call recorded
                await console.session.answer(call_id)
                await console.session.hangup(call_id)
            except DomainError:
                errors += 1  # e.g. the simulated caller gave up first

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(agents)))))
    return timings, requested, replies, missed, errors


async def run(consoles: int, supervisors: int, rings: int, ring_concurrency: int, port: int,
              folder: Path) -> dict[str, object]:
    figures: dict[str, object] = {}
    agents_wanted = consoles - supervisors
    started = time.perf_counter()
    logins = await prepare_crm(agents_wanted, supervisors)
    figures["prepare_seconds"] = round(time.perf_counter() - started, 2)
    print(f"CRM ready: {agents_wanted} agent + {supervisors} supervisor accounts "
          f"({figures['prepare_seconds']} s)", flush=True)

    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = folder / "gateway.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "tui_caa", "gateway", "--demo", "--listen", f"127.0.0.1:{port}"],
            cwd=ROOT, env=os.environ.copy(), stdout=log_file, stderr=subprocess.STDOUT)
    sessions: list[RemoteSession] = []
    readers: list[asyncio.Task[None]] = []
    try:
        await wait_healthy(url, process, 60)
        await asyncio.sleep(1.0)  # let the start-up settle before the baseline
        rss_before = rss_kb(process.pid)
        print(f"gateway pid {process.pid} healthy at {url}", flush=True)

        admin = RemoteSession(url)
        sessions.append(admin)
        await admin.login(SUPERVISOR_LOGIN, SecretStr(SUPERVISOR_PASSWORD))
        token = admin._token or ""  # noqa: SLF001 - the bench reads /metrics with the console's token

        t0 = time.perf_counter()
        clients = [Console(login, role, RemoteSession(url)) for login, role in logins]
        sessions += [c.session for c in clients]
        figures["client_seconds"] = round(time.perf_counter() - t0, 2)

        limit = asyncio.Semaphore(LOGIN_CONCURRENCY)

        async def login(console: Console) -> None:
            async with limit:
                await console.session.login(console.login, SecretStr(PASSWORD))

        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(login(c) for c in clients)), 60 + len(clients))
        figures["login_seconds"] = round(time.perf_counter() - t0, 2)
        rss_logged_in = rss_kb(process.pid)
        print(f"{len(clients)} clients made in {figures['client_seconds']} s, "
              f"logged in in {figures['login_seconds']} s", flush=True)

        t0 = time.perf_counter()
        readers += [asyncio.create_task(c.read(), name=f"console {c.login}") for c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.snapshot.wait() for c in clients)), 60 + len(clients) / 10)
        figures["connect_seconds"] = round(time.perf_counter() - t0, 2)
        await asyncio.sleep(1.0)
        rss_after = rss_kb(process.pid)
        async with httpx.AsyncClient(timeout=5.0) as client:
            connected = (await client.get(url + "/health")).json()["consoles"]
        print(f"{connected} event streams open in {figures['connect_seconds']} s", flush=True)

        agents = [c for c in clients if c.role is Role.AGENT]
        received_before = sum(c.received for c in clients)
        metrics_before = await read_metrics(url, token)
        cpu_before = cpu_seconds(process.pid), cpu_seconds(os.getpid())
        t0 = time.perf_counter()
        timings, requested, replies, missed, errors = await asyncio.wait_for(
            ring_all(agents, rings, ring_concurrency), 60 + rings * RING_TIMEOUT / ring_concurrency)
        await asyncio.sleep(0.5)  # the last hang-ups reach the consoles
        window = time.perf_counter() - t0
        gateway_cpu = cpu_seconds(process.pid) - cpu_before[0]
        bench_cpu = cpu_seconds(os.getpid()) - cpu_before[1]
        received = sum(c.received for c in clients) - received_before
        metrics_after = await read_metrics(url, token)
        delta = {name: metrics_after[name] - metrics_before.get(name, 0.0) for name in metrics_after}
        delivered = delta["tui_caa_events_delivered_total"]
        lookups = delta.get("tui_caa_screen_pop_seconds_count", 0.0)

        failures = [f"{c.login}: {c.failure}" for c in clients if c.failure]
        kinds: Counter[str] = Counter()
        for c in clients:
            kinds.update(c.kinds)
        figures |= {
            "consoles": len(clients),
            "supervisors": supervisors,
            "consoles_connected": connected,
            "rings": len(timings),
            "rings_missed": len(missed),
            "rings_missed_at": missed[:5],  # console and call id
            "ring_errors": errors,
            "ring_concurrency": ring_concurrency,
            "seconds": round(window, 2),
            "messages_received": received,
            "events_per_second": round(received / window, 1),
            "metrics_events_delivered": round(delivered),
            "metrics_events_per_second": round(delivered / window, 1),
            "pop_p50_ms": round(statistics.median(timings), 2) if timings else None,
            "pop_p99_ms": round(percentile(timings, 0.99), 2) if timings else None,
            "pop_max_ms": round(max(timings), 2) if timings else None,
            # from the console's simulate_call instead of the ring: adds one request's round trip
            "request_to_pop_p50_ms": round(statistics.median(requested), 2) if requested else None,
            "request_to_pop_p99_ms": round(percentile(requested, 0.99), 2) if requested else None,
            "gateway_pop_mean_ms": round(1000 * delta["tui_caa_screen_pop_seconds_sum"] / lookups, 2)
            if lookups else None,  # the gateway's own ring → pop published (its CRM lookup)
            "simulate_call_p50_ms": round(statistics.median(replies), 2) if replies else None,
            "gateway_cpu_share": round(gateway_cpu / window, 2),  # cores busy while the rings ran
            "bench_cpu_share": round(bench_cpu / window, 2),  # the consoles' side, same machine
            "gateway_rss_mb": round(rss_after / 1024, 1),
            "gateway_rss_before_mb": round(rss_before / 1024, 1),
            "gateway_rss_kb_per_console": round((rss_after - rss_before) / len(clients), 1),
            "gateway_rss_kb_per_login": round((rss_logged_in - rss_before) / len(clients), 1),
            "gateway_rss_kb_per_stream": round((rss_after - rss_logged_in) / len(clients), 1),
            "link_losses": sum(len(c.link_losses) for c in clients),
            "link_loss_reasons": [f"{c.login}: {why}" for c in clients for why in c.link_losses][:5],
            "console_failures": failures[:5],
            "message_kinds": dict(kinds),
        }
    except BaseException:
        tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        print(f"gateway log (end):\n{tail}", file=sys.stderr)
        raise
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        figures["gateway_exit"] = stop_gateway(process)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consoles", type=int, default=500, help="consoles, supervisors included (default 500)")
    parser.add_argument("--supervisors", type=int, default=5, help="of the consoles, supervisors (default 5)")
    parser.add_argument("--rings", type=int, default=200)
    parser.add_argument("--ring-concurrency", type=int, default=RING_CONCURRENCY,
                        help=f"rings under way at once (default {RING_CONCURRENCY}; 1: one after the other)")
    parser.add_argument("--port", type=int, default=0, help="the gateway's port (0: a free one)")
    args = parser.parse_args()
    if args.ring_concurrency < 1 or args.rings < 1:
        parser.error("--rings and --ring-concurrency must be at least 1")
    if not 0 <= args.supervisors < args.consoles:
        parser.error("--supervisors must leave at least one agent console")
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as folder:
        home = Path(folder)
        for name in [n for n in os.environ if n.startswith("TUI_CAA_")]:
            del os.environ[name]  # the machine's own configuration has no say here
        os.environ |= {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
                       "XDG_CONFIG_HOME": str(home / "config")}
        figures = asyncio.run(asyncio.wait_for(
            run(args.consoles, args.supervisors, args.rings, args.ring_concurrency, args.port, home), 300 + 2 * args.consoles + 3 * args.rings))
    figures = {"benchmark": "remote", **figures, "targets": {
        "pop_p99_ms": TARGET_POP_P99_MS, "rss_kb_per_console": TARGET_RSS_KB_PER_CONSOLE}}
    p99, rss = figures["pop_p99_ms"], figures["gateway_rss_kb_per_console"]
    figures["target_met"] = (p99 is not None and p99 < TARGET_POP_P99_MS  # type: ignore[operator]
                             and rss < TARGET_RSS_KB_PER_CONSOLE)  # type: ignore[operator]
    print(f"{figures['consoles']} consoles: ring → pop p50 {figures['pop_p50_ms']} ms, p99 {p99} ms, "
          f"max {figures['pop_max_ms']} ms over {figures['rings']} rings ({figures['rings_missed']} missed); "
          f"{figures['events_per_second']} events/s; gateway {figures['gateway_rss_mb']} MB, "
          f"{rss} KB per console; logins {figures['login_seconds']} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
