"""`tui-caa` without a command: the console, on the embedded default unless configured otherwise
(in-process gateway; the CRM's PBX, or the simulator; the demo CRM created on first start)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from tui_caa.config import Settings
from tui_caa.domain import DomainError, InvalidInput
from tui_caa.protocol.principal import Role

CLOSE_TIMEOUT = 5.0


def start_command(args: argparse.Namespace, settings: Settings) -> int:
    from tui_caa.ui import i18n

    i18n.set_language(getattr(args, "lang", None) or settings.language)
    gateway = getattr(args, "gateway", None) or settings.gateway_url
    if gateway:
        return asyncio.run(_remote_console(args, settings, gateway))
    return asyncio.run(_console(args, settings))


async def _remote_console(args: argparse.Namespace, settings: Settings, gateway: str) -> int:
    """A seat of a site: logs in to the gateway; role and extension come from the account."""
    from tui_caa import locations
    from tui_caa.remote import RemoteSession
    from tui_caa.ui.app import CaaApp

    if getattr(args, "role", None) or getattr(args, "extension", None):
        raise InvalidInput("--role and --extension are not used with a gateway: they come from your login",
                           field="--role" if getattr(args, "role", None) else "--extension")
    session = RemoteSession(gateway, ca=settings.gateway_ca)
    app = CaaApp(session, theme_name=getattr(args, "theme", None) or settings.theme,
                 theme_dirs=(locations.user_themes_dir(),), keymap=settings.keymap,
                 remembered_login=locations.remembered_login)
    try:
        await app.run_async(mouse=not getattr(args, "no_mouse", False))
    finally:
        try:
            await asyncio.wait_for(session.logout(), CLOSE_TIMEOUT)
        except TimeoutError:
            pass
        await session.close()
    return app.return_code or 0


async def _console(args: argparse.Namespace, settings: Settings) -> int:
    from tui_caa import locations
    from tui_caa.commands.db import open_demo_ready_store
    from tui_caa.gateway.embedded import start_embedded
    from tui_caa.ui.app import CaaApp

    role = Role(getattr(args, "role", None) or settings.role)
    store, created = await open_demo_ready_store(settings)
    if created:
        print("tui-caa: first start: demo CRM created", file=sys.stderr)
    try:
        embedded = await start_embedded(store, settings, role=role,
                                        extension=getattr(args, "extension", None) or settings.extension)
    except DomainError:
        await store.close()
        raise
    app = CaaApp(embedded.session, role=role, simulated=embedded.simulated,
                 theme_name=getattr(args, "theme", None) or settings.theme,
                 theme_dirs=(locations.user_themes_dir(),), keymap=settings.keymap,
                 clock=embedded.gateway.clock)
    try:
        await app.run_async(mouse=not getattr(args, "no_mouse", False))
    finally:
        try:  # a query cut short by the exit must not keep the process alive
            await asyncio.wait_for(embedded.close(), CLOSE_TIMEOUT)
        except TimeoutError:
            print("tui-caa: closing took too long; exiting anyway", file=sys.stderr)
    return app.return_code or 0
