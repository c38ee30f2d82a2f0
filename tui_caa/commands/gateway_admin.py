"""The gateway's admin actions, `tui-caa gateway check` and `tui-caa gateway install`, beside the
service itself (`tui-caa gateway` with no action)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from tui_caa.config import Settings


def add_gateway_admin_commands(gateway_subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from tui_caa.commands.gateway_install import add_install_arguments
    from tui_caa.commands.pbx_arguments import add_pbx_options

    check = gateway_subparsers.add_parser(
        "check", help="test every connection the service needs (CRM, module switch, PBX, PBX database)")
    add_pbx_options(check)
    install = gateway_subparsers.add_parser("install", help="write a systemd unit that runs the service")
    add_install_arguments(install)


def handler(args: argparse.Namespace) -> Callable[[argparse.Namespace, Settings], int]:
    if args.gateway_command == "check":
        from tui_caa.commands.gateway_check import check_command

        return check_command
    from tui_caa.commands.gateway_install import install_command

    return install_command
