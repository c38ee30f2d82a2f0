"""`tui-caa` without a command: the console, on the embedded default unless configured otherwise
(in-process gateway; the CRM's PBX, or the simulator; the demo CRM created on first start)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from tui_caa.config import Settings
from tui_caa.domain import InvalidInput
from tui_caa.protocol.principal import Role

CLOSE_TIMEOUT = 5.0


def start_command(args: argparse.Namespace, settings: Settings) -> int:
    from tui_caa.ui import i18n

    i18n.set_language(getattr(args, "lang", None) or settings.language)
    if settings.keymap:  # refused before the console starts: a console with a stolen quit key is a trap
        from tui_caa.ui.keymap import keymap_problems

        if problems := keymap_problems(settings.keymap):
            raise InvalidInput("\n".join(problems), field="keymap")
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
    from tui_caa.commands.embedded_console import EmbeddedConsole

    console = EmbeddedConsole(settings, role=Role(getattr(args, "role", None) or settings.role),
                              extension=getattr(args, "extension", None) or settings.extension,
                              theme_name=getattr(args, "theme", None) or settings.theme,
                              theme_dirs=(locations.user_themes_dir(),), keymap=settings.keymap)
    try:
        await console.app.run_async(mouse=not getattr(args, "no_mouse", False))
    finally:
        if not await console.close(CLOSE_TIMEOUT):
            print("tui-caa: closing took too long; exiting anyway", file=sys.stderr)
    if console.created:
        print("tui-caa: first start: demo CRM created", file=sys.stderr)
    if console.failure is not None:
        raise console.failure  # a DomainError is printed by cli.main, as before the console existed
    return console.app.return_code or 0
