"""`tui-caa` without a command: the embedded default.

The Textual console is not built yet; until it is, starting tui-caa prepares the embedded CRM
(created and filled with the demo dealership on first start) and prints what is in it."""

from __future__ import annotations

import argparse

from tui_caa import __version__
from tui_caa.commands.db import open_demo_ready_store
from tui_caa.config import Settings
from tui_caa.crm.database import safe_url


async def start_command(args: argparse.Namespace, settings: Settings) -> int:
    store, filled = await open_demo_ready_store(settings)
    try:
        sellers = await store.sellers()
        sources = await store.traffic_sources()
        pbx = await store.active_pbx()
        enabled = await store.telephony_enabled()
    finally:
        await store.close()
    print(f"tui-caa {__version__}")
    print(f"CRM database: {safe_url(settings.database.url)}"
          + (" (created now with the demo dealership)" if filled else ""))
    print(f"telephony integration: {'on' if enabled else 'off'}; "
          f"active PBX: {f'{pbx.name} ({pbx.kind})' if pbx else 'none'}")
    print(f"sellers: {', '.join(f'{s.name} ({s.extension})' for s in sellers if s.extension) or 'none'}")
    print("traffic sources: " + (", ".join(
        f"{s.name}" + (f" DDR {s.ddr_raw}" if s.ddr_raw else "") for s in sources) or "none"))
    print("The console screens are not part of this version yet: try `tui-caa phone normalize NUMBER`.")
    return 0
