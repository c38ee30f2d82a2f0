"""`tui-caa db init`, `tui-caa db demo` and `tui-caa db telephony`."""

from __future__ import annotations

import argparse
import asyncio
import os

from tui_caa.config import Settings
from tui_caa.crm import sitekey
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
    key, created = sitekey.ensure_key_file()
    if created:
        print(f"site key: made {key.path} (readable by this user only); it encrypts the PBX secrets "
              "in the CRM: keep a copy, and copy it to every machine that runs the gateway")
    else:
        print(f"site key: {key.where}")
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
    sitekey.ensure_key_file()  # the demo's extension passwords are encrypted, as `db init` would
    await load_demo(store)
    return store, True


def rotate_key_command(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_rotate_key(settings, args.new_key_file))


async def _rotate_key(settings: Settings, new_key_file: str | None) -> int:
    """A new site key; the database is changed in one transaction before the key file is replaced."""
    from pathlib import Path

    current = sitekey.load()
    if not current.from_file and new_key_file is None:
        raise sitekey.SiteKeyError(
            f"the site key comes from {current.where}, which tui-caa cannot change: run "
            "`tui-caa db rotate-key --new-key-file PATH` (PATH is made with a new key if missing), then "
            f"put that key in {sitekey.KEY_ENV} or the systemd credential {sitekey.CREDENTIAL} of every "
            "gateway and restart them")
    if new_key_file is not None:
        target = Path(new_key_file).expanduser()
        new = sitekey.read_key_file(target) if target.is_file() else sitekey.write_key_file(sitekey.new_key(), target)
        new.encrypt("")  # a file that holds no key stops here, before the database is touched
    else:
        sitekey.write_key_file(current.key, sitekey.old_key_file())  # kept until the next rotation
        new = sitekey.write_key_file(sitekey.new_key(), sitekey.key_file().with_name("site.key.next"))
    store = await open_store(settings.database.connect_url(), settings.caller_id, site_key=current)
    try:
        count = await store.rotate_site_key(new)
    except BaseException:
        if new_key_file is None:
            new.path.unlink(missing_ok=True)  # type: ignore[union-attr]
        raise
    finally:
        await store.close()
    print(f"database {safe_url(settings.database.url)}: {count} secret value(s) re-encrypted with the new site key")
    if new_key_file is None:
        os.replace(new.path, sitekey.key_file())  # type: ignore[arg-type]
        print(f"site key: {sitekey.key_file()} replaced; the old key is kept in {sitekey.old_key_file()} "
              "until the next rotation; copy the new key to every other machine that runs the gateway")
    else:
        print(f"site key: the secrets now need the key in {new.path}: put it in {sitekey.KEY_ENV} or the "
              f"systemd credential {sitekey.CREDENTIAL} of every gateway, and restart them")
    return 0
