"""The `tui-caa` command: the console (default) and the integrator's tools (`phone`, `pbx`, `seller`,
`source`, `user`, `db`, `gateway`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from tui_caa import __version__
from tui_caa.config import ConfigError, Settings, load_settings
from tui_caa.domain.errors import DomainError

EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-caa",
        description="CTI console for dealership CRMs. Without a command: start the console.",
    )
    parser.add_argument("--version", action="version", version=f"tui-caa {__version__}")
    parser.add_argument("--config", metavar="PATH", help="settings file (default: config.toml in the user config dir)")
    parser.add_argument("--extension", help="the agent's extension (default: the configured one, else the first seller's)")
    parser.add_argument("--role", choices=["agent", "supervisor"], help="agent screen or supervisor monitor")
    parser.add_argument("--theme", help="colour theme (caa-dark, caa-light, caa-high-contrast or your own)")
    parser.add_argument("--lang", choices=["pt_BR", "en"], help="language of the screens (default: from the locale)")
    parser.add_argument("--no-mouse", action="store_true", help="keyboard only (no mouse capture)")
    parser.add_argument("--gateway", metavar="URL",
                        help="a site's integration service to log in to (default: gateway_url; none: embedded)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    phone = commands.add_parser("phone", help="Brazilian phone number tools").add_subparsers(
        dest="phone_command", metavar="ACTION", required=True)
    normalize = phone.add_parser("normalize", help="print the E.164 form of a caller ID or typed number")
    normalize.add_argument("number", help="the number as the PBX sends it or a person types it")
    normalize.add_argument("--ddd", help="area code for numbers without one (default: the configured ddd)")
    normalize.add_argument("--explain", action="store_true", help="also print type, rule, display and dial string")

    pbx = commands.add_parser("pbx", help="the PBX connection").add_subparsers(
        dest="pbx_command", metavar="ACTION", required=True)
    from tui_caa.commands.pbx_arguments import add_pbx_options

    check = pbx.add_parser("check", help="connect and log in to the PBX, and say why when it fails")
    add_pbx_options(check)
    events = pbx.add_parser("events", help="print the PBX's events as they happen")
    add_pbx_options(events)
    events.add_argument("--json", action="store_true", help="one JSON object per line")
    events.add_argument("--count", type=int, default=0, help="stop after this many events")
    events.add_argument("--rate", type=float, default=6.0,
                        help="simulator only: inbound calls per minute (default 6)")
    from tui_caa.commands.registry import add_registry_commands

    add_registry_commands(commands, pbx)
    from tui_caa.commands.users import add_user_commands

    add_user_commands(commands)

    from tui_caa.commands.gateway import add_gateway_command
    from tui_caa.commands.gateway_admin import add_gateway_admin_commands

    add_gateway_admin_commands(add_gateway_command(commands))

    db = commands.add_parser("db", help="the CRM database").add_subparsers(
        dest="db_command", metavar="ACTION", required=True)
    db.add_parser("init", help="create the database or migrate it to the newest schema (keeps all data)")
    demo = db.add_parser("demo", help="fill an empty database with a realistic demo dealership")
    demo.add_argument("--seed", type=int, help="random seed (same seed, same data)")
    demo.add_argument("--customers", type=int, default=500, help="how many customers (default 500)")
    telephony = db.add_parser("telephony", help="the CRM's module switch for PBX integration: show it, or turn it on or off")
    telephony.add_argument("state", nargs="?", choices=["on", "off"], help="on or off (default: show it)")
    rotate = db.add_parser("rotate-key", help="a new site key: every PBX secret in the CRM re-encrypted with it")
    rotate.add_argument("--new-key-file", metavar="PATH",
                        help="the new key's file (made if missing), when the key comes from "
                             "TUI_CAA_SITE_KEY or a systemd credential")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # every file tui-caa makes (CRM, outbox, logs, site key, SQLite's -wal/-shm) holds customers'
    # phone numbers or secrets: only the user running it may read them, whatever the login's umask
    os.umask(0o077)
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"tui-caa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    handler = _handler(args)
    _route_logs(args)
    _tighten_own_files()
    try:
        return handler(args, settings)
    except DomainError as exc:
        print(f"tui-caa: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _tighten_own_files() -> None:
    """Files older versions made readable by all (0644); the CRM and the log are fixed where they
    are opened, the gateway's outbox and the site key here."""
    from tui_caa import locations

    folder = locations.data_dir()
    locations.tighten_database(folder / "outbox.sqlite3")  # where gateway/factory.py puts it
    for key in ("site.key", "site.key.old"):  # also where a command that reads no secret runs
        locations.tighten(folder / key)


def _route_logs(args: argparse.Namespace) -> None:
    from tui_caa import logs

    if args.command is None:
        logs.to_file()  # the console owns the terminal
    elif args.command == "pbx" and args.pbx_command == "check" or \
            args.command == "gateway" and args.gateway_command == "check":
        logs.to_stderr(logging.ERROR)  # its FAILED lines already say why
    elif args.command == "gateway" and not args.gateway_command:
        logs.to_stderr(logging.INFO)  # a service: the journal keeps what it says
    else:
        logs.to_stderr(logging.WARNING)


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace, Settings], int]:
    # imported on demand so `tui-caa phone normalize` does not load the database stack
    if args.command == "phone":
        from tui_caa.commands.phone import normalize_command

        return normalize_command
    if args.command in ("seller", "source") or args.command == "pbx" and args.pbx_command in ("register", "list"):
        from tui_caa.commands import registry

        return registry.handler(args)
    if args.command == "user":
        from tui_caa.commands import users

        return users.handler(args)
    if args.command == "pbx":
        from tui_caa.commands import pbx

        return {"check": pbx.check_command, "events": pbx.events_command}[args.pbx_command]
    if args.command == "gateway" and args.gateway_command in ("check", "install"):
        from tui_caa.commands import gateway_admin

        return gateway_admin.handler(args)
    if args.command == "gateway" and not args.gateway_command:
        from tui_caa.commands.gateway import serve_command

        return serve_command
    if args.command == "db":
        from tui_caa.commands import db

        return {"init": db.init_command, "demo": db.demo_command, "telephony": db.telephony_command,
                "rotate-key": db.rotate_key_command}[args.db_command]
    from tui_caa.commands.start import start_command

    return start_command
