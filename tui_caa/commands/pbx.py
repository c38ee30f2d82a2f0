"""`tui-caa pbx events` and `tui-caa pbx check`: what the PBX sends, and whether we can log in."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass

from pydantic import SecretStr

from tui_caa.commands.db import open_demo_ready_store
from tui_caa.config import Settings
from tui_caa.crm import CrmStore
from tui_caa.domain import InvalidInput, PbxRegistryEntry
from tui_caa.domain.events import PbxEvent, event_json
from tui_caa.gateway.factory import PbxOverride, make_driver, pbx_entry
from tui_caa.pbx.base import PBX_PART, CheckResult, PbxDriver, PbxError

CONNECT_TIMEOUT = 15.0


def override_from(args: argparse.Namespace) -> PbxOverride:
    return PbxOverride(kind=args.pbx, host=args.host, port=args.port, user=args.user,
                       secret=SecretStr(args.secret) if args.secret else None, url=args.url)


async def _open_driver(args: argparse.Namespace, settings: Settings) -> tuple[PbxDriver, str]:
    store, _ = await open_demo_ready_store(settings)
    try:
        entry = await pbx_entry(store, override_from(args))
        return await driver_for(entry, store, settings, rate=getattr(args, "rate", None))
    finally:
        await store.close()


async def driver_for(entry: PbxRegistryEntry, store: CrmStore | None, settings: Settings, *,
                     rate: float | None = None) -> tuple[PbxDriver, str]:
    """The driver for `entry` and the name messages give it ("Asterisk (10.0.0.5:5038)")."""
    options = {}
    if entry.kind == "simulator":
        from tui_caa.pbx.sim import SimTraffic

        options["traffic"] = SimTraffic(calls_per_minute=rate) if rate is not None else SimTraffic()
    driver = await make_driver(entry, store, settings, **options)
    where = f"{entry.address}:{entry.port}" if entry.address else "built in"
    return driver, f"{driver.label} ({where})"


@dataclass(frozen=True)
class PbxProbe:
    """What connecting to a PBX found: `failure` says why it could not connect (None: it did)."""

    name: str
    failure: str | None
    summary: str  # "connected to …; N extensions, M calls under way"
    capabilities: str
    parts: list[CheckResult]  # the driver's check_parts(), PBX and database

    @property
    def problems(self) -> list[str]:
        return [part.detail for part in self.parts if not part.ok]


async def probe_pbx(driver: PbxDriver, name: str, *, parts_when_down: bool = False) -> PbxProbe:
    """Connects, takes a snapshot and asks the driver's other services, each within CONNECT_TIMEOUT.
    With `parts_when_down`, the other services (the PBX's database) are asked even when the PBX is down."""
    summary = ""
    try:
        await asyncio.wait_for(driver.connect(), CONNECT_TIMEOUT)
        snapshot = await asyncio.wait_for(driver.snapshot(), CONNECT_TIMEOUT)
        failure = None
        summary = f"connected to {name}; {len(snapshot.extensions)} extensions, {len(snapshot.calls)} calls under way"
    except TimeoutError:
        failure = f"{name} did not answer within {CONNECT_TIMEOUT:.0f} s"
    except (PbxError, OSError) as exc:
        failure = f"{name}: {exc}"
    capabilities = ", ".join(sorted(c.value for c in driver.capabilities)) or "none"
    if failure is not None and not parts_when_down:
        return PbxProbe(name, failure, summary, capabilities, [])
    return PbxProbe(name, failure, summary, capabilities, await _parts(driver, name))


async def _parts(driver: PbxDriver, name: str) -> list[CheckResult]:
    try:
        return await asyncio.wait_for(driver.check_parts(), CONNECT_TIMEOUT)
    except TimeoutError:
        return [CheckResult(PBX_PART, False, f"{name}: its services did not answer within {CONNECT_TIMEOUT:.0f} s")]
    except (PbxError, OSError) as exc:
        return [CheckResult(PBX_PART, False, f"{name}: {exc}")]


def check_command(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_check(args, settings))


async def _check(args: argparse.Namespace, settings: Settings) -> int:
    try:
        driver, name = await _open_driver(args, settings)
    except InvalidInput as exc:  # settings that can never work (a line break in a stored AMI user…)
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    try:
        probe = await probe_pbx(driver, name)
    finally:
        await driver.close()
    if probe.failure is not None:
        print(f"FAILED: {probe.failure}", file=sys.stderr)
        return 1
    print(f"OK: {probe.summary}")
    print(f"capabilities: {probe.capabilities}")
    for problem in probe.problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if probe.problems else 0


def events_command(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_events(args, settings))


async def _events(args: argparse.Namespace, settings: Settings) -> int:
    driver, name = await _open_driver(args, settings)
    try:
        await asyncio.wait_for(driver.connect(), CONNECT_TIMEOUT)
    except (TimeoutError, PbxError, OSError) as exc:
        print(f"FAILED: {name}: {exc or 'no answer'}", file=sys.stderr)
        await driver.close()
        return 1
    print(f"connected to {name}; Ctrl+C stops", file=sys.stderr)
    shown = 0
    try:
        async for event in driver.events():
            print(json.dumps(event_json(event), ensure_ascii=False) if args.json else _line(event), flush=True)
            shown += 1
            if args.count and shown >= args.count:
                break
    finally:
        await driver.close()
    return 0


def _line(event: PbxEvent) -> str:
    row = event_json(event)
    parts = [event.at.astimezone().strftime("%H:%M:%S"), row["type"]]
    parts += [f"{key}={row[key]}" for key in ("extension", "call_id", "direction", "number", "ddr", "state",
                                              "disposition") if row.get(key)]
    parts += [f"{key}={value}" for key, value in row.items()
              if key not in ("type", "extension", "call_id", "direction", "number", "ddr", "state", "disposition",
                             "at") and value not in (None, "", False)]
    return "  ".join(parts)
