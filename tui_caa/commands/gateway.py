"""`tui-caa gateway`: run the integration service (the `check` and `install` actions live beside it)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from tui_caa.config import Settings


def add_gateway_command(commands: Any) -> Any:
    """The `gateway` command; returns its sub-command group for `check` and `install`."""
    from tui_caa.commands.pbx_arguments import add_pbx_options

    gateway = commands.add_parser(
        "gateway", help="the integration service: one per PBX, records every call, serves the consoles")
    gateway.add_argument("--listen", metavar="HOST:PORT",
                         help="where consoles connect (default: gateway.listen, 127.0.0.1:8640)")
    gateway.add_argument("--tls-cert", metavar="PATH", help="certificate (PEM) to serve HTTPS")
    gateway.add_argument("--tls-key", metavar="PATH", help="private key (PEM) of --tls-cert")
    gateway.add_argument("--demo", action="store_true",
                         help="built-in PBX simulator and demo CRM (created on first start), with demo logins")
    add_pbx_options(gateway)
    return gateway.add_subparsers(dest="gateway_command", metavar="ACTION")


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from tui_caa.commands.pbx import override_from
    from tui_caa.domain import InvalidInput
    from tui_caa.server.service import parse_listen, run_gateway, tls_context

    listen = parse_listen(args.listen) if args.listen else parse_listen(settings.gateway.listen, "gateway.listen")
    cert = Path(args.tls_cert) if args.tls_cert else settings.gateway.tls_cert
    key = Path(args.tls_key) if args.tls_key else settings.gateway.tls_key
    tls = tls_context(cert, key)
    if args.demo and not listen.loopback:
        raise InvalidInput("--demo serves its demo logins (published password) on loopback only; "
                           "drop --listen or use 127.0.0.1", field="--listen")
    override = override_from(args)
    try:
        return asyncio.run(run_gateway(settings, demo=args.demo, listen=listen, tls=tls,
                                       override=None if override == type(override)() else override))
    except KeyboardInterrupt:
        print("tui-caa: gateway stopped", file=sys.stderr)
        return 0
