"""The administrator's registry commands: the PBX ("Centrais Telefônicas"), the sellers' extensions
and the traffic sources' DDRs, as the seed's setup screens have them.

`tui-caa pbx register` creates or updates an entry by name, keeping what is not given. Secrets are
never taken on the command line (shell history, `ps`): `--ask-secret` and friends prompt for them,
or read one line from standard input when it is not a terminal. Listings show whether a secret is
set, never the secret.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError

from tui_caa.config import Settings
from tui_caa.domain import InvalidInput, NotFound, PbxRegistryEntry
from tui_caa.domain.crm import Seller, TrafficSource
from tui_caa.domain.text import clip
from tui_caa.phones import display

if TYPE_CHECKING:
    from tui_caa.crm.store import CrmStore

# registry field -> (option, help); the order is the order of the seed's screen
PBX_FIELDS: dict[str, tuple[str, str]] = {
    "kind": ("--pbx", "PBX family: digitro, planetfone, forip, asterisk or simulator"),
    "address": ("--host", "IP address or host name (Planetfone/ForIP: also an http:// address with its path)"),
    "port": ("--port", "port of the PBX's integration service"),
    "account": ("--account", "Dígitro: account code (Conta) of generated calls"),
    "route": ("--route", "Dígitro: outbound route (Rota) of generated calls, usually 0"),
    "login": ("--user", "login: AMI user, ForIP e-mail…"),
    "ecr_address": ("--ecr-host", "Dígitro EasyCall Record address (only when contracted)"),
    "ecr_port": ("--ecr-port", "EasyCall Record port"),
    "ecr_user": ("--ecr-user", "EasyCall Record user"),
    "mysql_host": ("--mysql-host", "Planetfone: the PBX's MySQL server"),
    "mysql_port": ("--mysql-port", "Planetfone: MySQL port (default 3306)"),
    "mysql_user": ("--mysql-user", "Planetfone: MySQL user"),
    "mysql_database": ("--mysql-database", "Planetfone: MySQL database"),
}
_INT_FIELDS = {"port", "ecr_port", "mysql_port"}
# secret field -> (flag that asks for it, what the prompt says)
PBX_SECRETS: dict[str, tuple[str, str]] = {
    "secret": ("--ask-secret", "password or API key of the PBX (AMI secret, Dígitro x-api-key, ForIP password)"),
    "ecr_password": ("--ask-ecr-password", "EasyCall Record password"),
    "mysql_password": ("--ask-mysql-password", "Planetfone MySQL password"),
}


def add_registry_commands(commands: Any, pbx: Any) -> None:
    """`pbx register`, `pbx list`, and the `seller` and `source` command groups."""
    register = pbx.add_parser("register", help="add or change a PBX in the registry (by --name) and make it active")
    register.add_argument("--name", required=True, help="the entry's name, e.g. 'Central Matriz'")
    for field, (option, text) in PBX_FIELDS.items():
        register.add_argument(option, dest=field, type=int if field in _INT_FIELDS else str, help=text)
    for field, (flag, text) in PBX_SECRETS.items():
        register.add_argument(flag, dest=f"ask_{field}", action="store_true", help=f"prompt for the {text}")
    register.add_argument("--inactive", action="store_true", help="save without making it the active PBX")
    pbx.add_parser("list", help="the PBX registry (secrets are shown only as set / not set)")

    seller = commands.add_parser("seller", help="sellers and their extensions").add_subparsers(
        dest="seller_command", metavar="ACTION", required=True)
    seller_set = seller.add_parser("set", help="give a seller an extension (creates the seller when new)")
    seller_set.add_argument("--extension", required=True, help="the extension (ramal), 2 to 8 digits")
    seller_set.add_argument("--name", help="the seller's name (required for a new seller)")
    seller_set.add_argument("--ask-password", action="store_true",
                            help="prompt for the extension's password (Dígitro sends it with every command)")
    seller_set.add_argument("--inactive", action="store_true", help="mark the seller inactive")
    seller.add_parser("list", help="the sellers and their extensions")

    source = commands.add_parser("source", help="traffic sources and their DDRs").add_subparsers(
        dest="source_command", metavar="ACTION", required=True)
    source_set = source.add_parser("set", help="add or change a traffic source (by --name)")
    source_set.add_argument("--name", required=True, help="e.g. 'Rádio', 'Site', 'Jornal'")
    source_set.add_argument("--ddr", help="the number advertised for it, e.g. '(51) 2101-0005'")
    source_set.add_argument("--inactive", action="store_true", help="mark the source inactive")
    source.add_parser("list", help="the traffic sources and their DDRs")


def handler(args: argparse.Namespace) -> Any:
    if args.command == "seller":
        return {"set": seller_set_command, "list": seller_list_command}[args.seller_command]
    if args.command == "source":
        return {"set": source_set_command, "list": source_list_command}[args.source_command]
    return {"register": register_command, "list": list_command}[args.pbx_command]


def run_with_store(settings: Settings, work: Any) -> int:
    """Runs `work(store)` on the configured CRM store, closing it after."""
    from tui_caa.crm.store import open_store  # the database stack loads only for these commands

    async def main() -> int:
        store = await open_store(settings.database.connect_url(), settings.caller_id)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


def ask_secret(what: str) -> SecretStr:
    """Prompts without echo on a terminal; otherwise reads one line (for scripts and tests)."""
    if sys.stdin.isatty():
        value = getpass.getpass(f"{what}: ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise InvalidInput(f"no {what} given; type it at the prompt or pipe it on standard input", field="secret")
    return SecretStr(value)


# ---- the PBX registry ----

def register_command(args: argparse.Namespace, settings: Settings) -> int:
    changes: dict[str, Any] = {field: getattr(args, field) for field in PBX_FIELDS if getattr(args, field) is not None}
    for field, (_flag, what) in PBX_SECRETS.items():
        if getattr(args, f"ask_{field}"):
            changes[field] = ask_secret(what)

    async def work(store: CrmStore) -> int:
        current = next((e for e in await store.pbx_entries() if e.name == args.name), None)
        base = current.model_dump() if current else {"name": args.name}
        entry = _validated({**base, **changes, "active": not args.inactive})
        saved = await store.save_pbx(entry)
        print(f"{'updated' if current else 'registered'}: {describe_pbx(saved)}")
        return 0

    return run_with_store(settings, work)


def _validated(data: dict[str, Any]) -> PbxRegistryEntry:
    try:
        return PbxRegistryEntry.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            option = PBX_FIELDS.get(field, (PBX_SECRETS.get(field, (f"--{field}",))[0],))[0] if field else ""
            message = clip(error["msg"].removeprefix("Value error, "), 200)  # validators quote the input
            problems.append(f"{option}: {message}" if option else _with_options(message))
        raise InvalidInput("PBX registry: " + "; ".join(problems), field="pbx") from None


def _with_options(message: str) -> str:
    """Whole-entry messages name registry fields ('needs account, route'): say the options instead."""
    return re.sub(r"\b[a-z]+(?:_[a-z]+)*\b", lambda m: PBX_FIELDS.get(m.group(), (m.group(),))[0]
                  if m.group() != "kind" else m.group(), message)


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: CrmStore) -> int:
        entries = await store.pbx_entries()
        if not entries:
            print("no PBX registered: the console uses the built-in simulator (tui-caa pbx register --help)")
        for entry in entries:
            print(describe_pbx(entry))
        return 0

    return run_with_store(settings, work)


def describe_pbx(entry: PbxRegistryEntry) -> str:
    parts = [f"{entry.name} [{entry.kind.value}]", "ACTIVE" if entry.active else "inactive"]
    for field, (option, _text) in PBX_FIELDS.items():
        value = getattr(entry, field)
        if field != "kind" and value is not None:
            parts.append(f"{option.removeprefix('--')}={value}")
    for field in PBX_SECRETS:
        if getattr(entry, field) is not None:
            parts.append(f"{field.replace('_', '-')}=(set)")
    return "  ".join(parts)


def _checked(model: Any, data: dict[str, Any], what: str) -> Any:
    """`model` validated from `data`, or InvalidInput naming the option: never a traceback, and the
    message quotes no more than ~80 characters of what was typed."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        option = {"extension_password": "--ask-password", "ddr_raw": "--ddr"}.get(field, f"--{field.replace('_', '-')}")
        message = clip(error["msg"].removeprefix("Value error, "), 200)
        raise InvalidInput(f"{what}: {option}: {message}" if field else f"{what}: {message}", field=field or what
                           ) from None


# ---- sellers ----

def seller_set_command(args: argparse.Namespace, settings: Settings) -> int:
    password = ask_secret(f"password of extension {clip(args.extension)}") if args.ask_password else None

    async def work(store: CrmStore) -> int:
        try:
            current: Seller | None = await store.seller_by_extension(args.extension)
        except NotFound:
            current = None
        if current is None and not args.name:
            raise InvalidInput(f"extension {clip(args.extension)} has no seller yet: give --name to create one",
                               field="name")
        data = current.model_dump() if current else {}
        data.update({"extension": args.extension, "active": not args.inactive})
        if args.name:
            data["name"] = args.name
        if password is not None:
            data["extension_password"] = password
        seller = _checked(Seller, data, "seller")
        saved = await store.save_seller(seller)
        print(f"{'updated' if current else 'created'}: {describe_seller(saved)}")
        return 0

    return run_with_store(settings, work)


def seller_list_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: CrmStore) -> int:
        for seller in await store.sellers():
            print(describe_seller(seller))
        return 0

    return run_with_store(settings, work)


def describe_seller(seller: Seller) -> str:
    password = "password=(set)" if seller.extension_password is not None else "no password"
    return f"{seller.extension or '-':>8}  {seller.name}  {password}{'' if seller.active else '  inactive'}"


# ---- traffic sources ----

def source_set_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: CrmStore) -> int:
        current = next((s for s in await store.traffic_sources() if s.name == args.name), None)
        data = current.model_dump() if current else {"name": args.name}
        data["active"] = not args.inactive
        if args.ddr is not None:
            data["ddr_raw"] = args.ddr or None
        saved = await store.save_traffic_source(_checked(TrafficSource, data, "traffic source"))
        print(f"{'updated' if current else 'created'}: {describe_source(saved)}")
        return 0

    return run_with_store(settings, work)


def source_list_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: CrmStore) -> int:
        for source in await store.traffic_sources():
            print(describe_source(source))
        return 0

    return run_with_store(settings, work)


def describe_source(source: TrafficSource) -> str:
    ddr = display(source.ddr_e164) if source.ddr_e164 else "no DDR"
    return f"{source.name}  {ddr}{'' if source.active else '  inactive'}"
