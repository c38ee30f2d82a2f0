"""`tui-caa db init`, `tui-caa db demo` and `tui-caa db telephony`."""

from __future__ import annotations

import argparse
import asyncio

from tui_caa.config import Settings
from tui_caa.crm.database import create_engine, migrate, safe_url
from tui_caa.crm.demo import DEMO_SEED, load_demo
from tui_caa.crm.store import CrmStore, open_store
from tui_caa.phones import CallerIdRules


def init_command(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_init(settings))


async def _init(settings: Settings) -> int:
    engine = create_engine(settings.database.connect_url())
    try:
        changed = await migrate(engine)
    finally:
        await engine.dispose()
    state = "migrated to the newest schema" if changed else "already at the newest schema"
    print(f"database {safe_url(settings.database.url)}: {state}")
    return 0


def demo_command(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_demo(settings, args.seed if args.seed is not None else DEMO_SEED, args.customers))


async def _demo(settings: Settings, seed: int, customers: int) -> int:
    store = await open_store(settings.database.connect_url(), demo_rules(settings))
    try:
        summary = await load_demo(store, seed=seed, customers=customers)
    finally:
        await store.close()
    print(f"database {safe_url(settings.database.url)}: demo dealership loaded (seed {seed})")
    print(describe(summary))
    return 0


MODULE_SWITCH = "“Utilizar serviços de integração com centrais telefônicas”"


def telephony_command(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_telephony(settings, None if args.state is None else args.state == "on"))


async def _telephony(settings: Settings, enabled: bool | None) -> int:
    """Shows, or turns on or off, the CRM's telephony module switch (the seed's setting of that name)."""
    store = await open_store(settings.database.connect_url(), settings.caller_id)
    try:
        if enabled is not None:
            await store.set_telephony_enabled(enabled)
        state = await store.telephony_enabled()
    finally:
        await store.close()
    print(f"database {safe_url(settings.database.url)}: {MODULE_SWITCH} is {'on' if state else 'off'}")
    return 0


def demo_rules(settings: Settings) -> CallerIdRules:
    """The demo's numbers are from Porto Alegre (DDD 51) unless the site says otherwise."""
    from tui_caa.crm.demo import DEMO_DDD

    if settings.caller_id.default_ddd:
        return settings.caller_id
    return settings.caller_id.model_copy(update={"default_ddd": DEMO_DDD})


def describe(summary: object) -> str:
    counts = summary.model_dump() if hasattr(summary, "model_dump") else vars(summary)
    return "\n".join(f"  {name.replace('_', ' ')}: {value}" for name, value in counts.items())


async def open_demo_ready_store(settings: Settings) -> tuple[CrmStore, bool]:
    """The configured store; an empty one is filled with the demo first. True if it was."""
    store = await open_store(settings.database.connect_url(), demo_rules(settings))
    if any((await store.record_counts()).values()):
        return store, False
    await load_demo(store)
    return store, True
