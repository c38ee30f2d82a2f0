"""`tui-caa gateway check`: the seed's "Testar" and "Testar MySQL" for the whole service. One line per
component, OK or FAILED with what failed and the fix: the CRM database, the module switch, the PBX,
the PBX's own database. Every component is tried, and nothing is changed (no demo, no migration)."""

from __future__ import annotations

import argparse
import asyncio

from tui_caa.commands.db import MODULE_SWITCH
from tui_caa.commands.pbx import CONNECT_TIMEOUT, driver_for, override_from, probe_pbx
from tui_caa.config import Settings
from tui_caa.crm import CrmStore
from tui_caa.crm.database import DatabaseUnavailable, existing_database, safe_url, schema_revision
from tui_caa.domain import DomainError, PbxKind, PbxRegistryEntry
from tui_caa.gateway.factory import SIMULATOR_ENTRY, PbxOverride, pbx_entry
from tui_caa.pbx.base import DATABASE_PART, PBX_PART


class Report:
    """Prints each line as soon as it is known (a down component can take CONNECT_TIMEOUT), all on
    stdout so that the order holds when piped; remembers whether any failed."""

    def __init__(self) -> None:
        self.failed = False

    def ok(self, component: str, detail: str) -> None:
        print(f"OK: {component}: {detail}", flush=True)

    def fail(self, component: str | None, detail: str) -> None:
        """`component` None: `detail` names it already (a DatabaseUnavailable message does)."""
        self.failed = True
        print(f"FAILED: {component + ': ' if component else ''}{detail}", flush=True)


def check_command(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(run_checks(args, settings))


async def run_checks(args: argparse.Namespace, settings: Settings) -> int:
    report = Report()
    store = await _check_crm(settings, report)
    try:
        await _check_module_switch(store, report)
        await _check_pbx(args, settings, store, report)
    finally:
        if store is not None:
            await store.close()
    return 1 if report.failed else 0


async def _check_crm(settings: Settings, report: Report) -> CrmStore | None:
    """The CRM store when the database answers and has a schema this tui-caa can read, else None."""
    name = f"CRM database {safe_url(settings.database.url)}"
    try:
        engine = existing_database(settings.database.connect_url())
    except DatabaseUnavailable as exc:
        report.fail(None, str(exc))
        return None
    try:
        revision = await asyncio.wait_for(schema_revision(engine), CONNECT_TIMEOUT)
    except TimeoutError:
        await engine.dispose()
        report.fail(name, f"no answer within {CONNECT_TIMEOUT:.0f} s: is the server up, and database.url right?")
        return None
    except DatabaseUnavailable as exc:
        await engine.dispose()
        report.fail(None, f"{exc}; check database.url and database.password")
        return None
    newest = ", ".join(revision.head)
    if revision.unknown:
        await engine.dispose()
        report.fail(name, f"schema {', '.join(revision.unknown)} is newer than this tui-caa knows ({newest}): "
                          "upgrade tui-caa on this server")
        return None
    if not revision.current:
        await engine.dispose()
        report.fail(name, "connected, but it has no schema yet: `tui-caa db init` creates it")
        return None
    if revision.pending:  # the gateway migrates on start; said here so that it is no surprise
        report.ok(name, f"connected; schema {', '.join(revision.current)}, migrations to {newest} pending "
                        "(applied when the gateway starts, or now by `tui-caa db init`; data is kept)")
    else:
        report.ok(name, f"connected; schema {newest} (the newest)")
    return CrmStore(engine, settings.caller_id)


async def _check_module_switch(store: CrmStore | None, report: Report) -> None:
    component = f"module switch {MODULE_SWITCH}"
    if store is None:
        report.fail(component, "not checked: it is a CRM setting and the CRM database is not available")
        return
    try:
        enabled = await asyncio.wait_for(store.telephony_enabled(), CONNECT_TIMEOUT)
    except (TimeoutError, DomainError) as exc:
        report.fail(component, f"cannot be read: {exc or 'no answer'}")
        return
    if enabled:
        report.ok(component, "on")
    else:
        report.fail(component, "off: turn it on with `tui-caa db telephony on`")


async def _check_pbx(args: argparse.Namespace, settings: Settings, store: CrmStore | None,
                     report: Report) -> None:
    entry = await _pbx_entry(override_from(args), store, report)
    if entry is None:
        return
    try:
        driver, name = await driver_for(entry, store, settings)
    except DomainError as exc:
        report.fail("PBX", str(exc))
        return
    try:
        probe = await probe_pbx(driver, name, parts_when_down=True)
    finally:
        await driver.close()
    if probe.failure is None:
        report.ok("PBX", f"{probe.summary}; capabilities: {probe.capabilities}")
    else:
        report.fail("PBX", probe.failure)
    for part in probe.parts:
        if part.part == PBX_PART and probe.failure is None and not part.ok:
            report.fail("PBX", part.detail)  # e.g. a Dígitro extension it refused to monitor
        elif part.part == DATABASE_PART:
            (report.ok if part.ok else report.fail)("PBX database", part.detail)


async def _pbx_entry(override: PbxOverride, store: CrmStore | None, report: Report) -> PbxRegistryEntry | None:
    """The CRM's active PBX with the command line's overrides; without the CRM, the overrides alone."""
    try:
        if store is not None:
            return await asyncio.wait_for(pbx_entry(store, override), CONNECT_TIMEOUT)
        if override.kind is None or override.kind == PbxKind.SIMULATOR.value:
            report.fail("PBX", "not checked: the PBX registry is in the CRM database, which is not available "
                               "(or give the PBX on the command line: --pbx KIND --host … --port …)")
            return None
        return override.apply(SIMULATOR_ENTRY)  # another family: nothing of the simulator entry is kept
    except TimeoutError:
        report.fail("PBX", f"the CRM's PBX registry did not answer within {CONNECT_TIMEOUT:.0f} s")
    except DomainError as exc:
        report.fail("PBX", str(exc))
    return None
