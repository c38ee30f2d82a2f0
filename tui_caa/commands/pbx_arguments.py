"""The `--pbx/--host/…` options of the commands that reach a PBX.

Apart from commands/pbx.py so that building the parser, which every start does, imports no CRM,
gateway or driver (a remote console never needs them)."""

from __future__ import annotations

import argparse


def add_pbx_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pbx", metavar="KIND", help="PBX family for this run (simulator, asterisk, …)")
    parser.add_argument("--host", help="PBX address")
    parser.add_argument("--port", type=int, help="PBX port")
    parser.add_argument("--user", help="login (AMI user, API e-mail…)")
    parser.add_argument("--secret", help="password or API key (prefer the CRM's PBX registry: no shell history)")
    parser.add_argument("--url", help="base URL, for PBXs reached over HTTP")
