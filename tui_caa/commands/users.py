"""`tui-caa user …`: the gateway's login accounts (for consoles started with `--gateway URL`).

Passwords never come from the command line (shell history, `ps`): they are prompted twice on a
terminal, or read as one line from standard input with `--ask-password` for scripts. Listings never
show a hash. Every change an administrator makes lands in the audit trail.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError

from tui_caa.commands.registry import ask_secret, run_with_store
from tui_caa.config import Settings
from tui_caa.domain import Account, Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from tui_caa.crm.store import CrmStore

_OPTIONS = {"login": "LOGIN", "role": "--role", "extension": "--extension"}


def add_user_commands(commands: Any) -> None:
    user = commands.add_parser("user", help="login accounts of the gateway (remote consoles)").add_subparsers(
        dest="user_command", metavar="ACTION", required=True)
    add = user.add_parser("add", help="add a login account (asks for its password)")
    add.add_argument("login", help="2 to 64 characters of a-z 0-9 . _ @ -, e.g. ana.souza")
    add.add_argument("--role", dest="account_role", required=True, metavar="agent|supervisor",
                     help="agent (one extension) or supervisor (sees every extension)")
    add.add_argument("--extension", dest="account_extension", help="the extension (ramal) this user sits at; agents need one")
    add.add_argument("--seller-extension", help="link to the seller at this extension (default: the seller of --extension)")
    _password_option(add)
    user.add_parser("list", help="the accounts, their sellers and open sessions")
    passwd = user.add_parser("passwd", help="set a new password (ends the account's sessions)")
    passwd.add_argument("login")
    _password_option(passwd)
    for action, text in (("disable", "refuse logins and end the account's sessions"),
                         ("enable", "allow logins again"),
                         ("revoke", "end the account's sessions (they log in again)")):
        user.add_parser(action, help=text).add_argument("login")
    audit = user.add_parser("audit", help="the audit trail, newest first")
    audit.add_argument("--login", dest="audit_login", help="only this account's entries")
    audit.add_argument("--limit", type=int, default=50, help="how many entries (default 50)")


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ask-password", action="store_true",
                        help="read the password as one line from standard input (for scripts)")


def handler(args: argparse.Namespace) -> Any:
    return {"add": add_command, "list": list_command, "passwd": passwd_command, "disable": disable_command,
            "enable": enable_command, "revoke": revoke_command, "audit": audit_command}[args.user_command]


def new_password(login: str, from_stdin: bool) -> SecretStr:
    """Twice on a terminal (a typo would lock the user out); one line of stdin with --ask-password."""
    if sys.stdin.isatty():
        first = ask_secret(f"new password for {login}")
        if ask_secret("the same password again").get_secret_value() != first.get_secret_value():
            raise InvalidInput("password: the two entries differ; nothing was changed", field="password")
        return first
    if not from_stdin:
        raise InvalidInput("password: standard input is not a terminal, so there is no one to ask; "
                           "pipe the password in and add --ask-password", field="password")
    return ask_secret(f"password for {login}")


def _by() -> str:
    """Who ran the command, as far as the operating system knows."""
    try:
        return f"by os user {getpass.getuser()}"
    except (OSError, KeyError):
        return "by an unknown os user"


# ---- commands ----

def add_command(args: argparse.Namespace, settings: Settings) -> int:
    account = _validated({"login": args.login, "role": args.account_role, "extension": args.account_extension})

    async def work(store: CrmStore) -> int:
        if any(existing.login == account.login for existing in await store.accounts()):
            # the store would refuse it too, but only after the administrator typed a password twice
            raise Conflict(f"login '{account.login}' already exists: choose another, or change its password "
                           f"with `tui-caa user passwd {account.login}`", field="login")
        seller_id = await _seller_id(store, args.seller_extension) if args.seller_extension else None
        password = new_password(account.login, args.ask_password)
        created = await store.create_account(account.model_copy(update={"seller_id": seller_id}), password)
        await store.audit("account_added", login=created.login,
                          detail=f"{_by()}: role {created.role}, extension {created.extension or '-'}")
        names = await _seller_names(store)
        print(f"added: {describe(created, names)}")
        return 0

    return run_with_store(settings, work)


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: CrmStore) -> int:
        accounts = await store.accounts()
        if not accounts:
            print("no accounts yet: add one with `tui-caa user add LOGIN --role agent --extension 1001`")
            return 0
        names, sessions = await _seller_names(store), await store.open_session_counts()
        print(f"{'LOGIN':<24}  {'ROLE':<10}  {'EXT':>8}  {'SELLER':<24}  {'STATE':<8}  SESSIONS")
        for account in accounts:
            print(f"{describe(account, names)}  {sessions.get(account.login, 0)}")
        return 0

    return run_with_store(settings, work)


def passwd_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: CrmStore) -> int:
        account = await store.account(args.login)  # a typo is reported before the password is asked
        await store.set_password(account.login, new_password(account.login, args.ask_password))
        await store.audit("password_changed", login=account.login, detail=f"{_by()}; its sessions were ended")
        print(f"password of {account.login} changed; its open sessions were ended")
        return 0

    return run_with_store(settings, work)


def disable_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: CrmStore) -> int:
        ended = await store.revoke_sessions(args.login)
        await store.set_account_active(args.login, False)
        login = (await store.account(args.login)).login
        await store.audit("disabled", login=login, detail=f"{_by()}; {_sessions(ended)} ended")
        print(f"{login} disabled; {_sessions(ended)} ended")
        return 0

    return run_with_store(settings, work)


def enable_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: CrmStore) -> int:
        await store.set_account_active(args.login, True)
        login = (await store.account(args.login)).login
        await store.audit("enabled", login=login, detail=_by())
        print(f"{login} enabled")
        return 0

    return run_with_store(settings, work)


def revoke_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: CrmStore) -> int:
        ended = await store.revoke_sessions(args.login)
        login = (await store.account(args.login)).login
        await store.audit("revoked", login=login, detail=f"{_by()}; {_sessions(ended)} ended")
        print(f"{_sessions(ended)} of {login} ended")
        return 0

    return run_with_store(settings, work)


def audit_command(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: CrmStore) -> int:
        entries = await store.audit_entries(args.limit, login=args.audit_login)
        if not entries:
            print("no audit entries")
        for entry in entries:
            at = entry.at.strftime("%Y-%m-%d %H:%M:%SZ")
            print(f"{at}  {entry.kind:<16}  {entry.login or '-':<24}  {entry.address or '-':<15}  {entry.detail}")
        return 0

    return run_with_store(settings, work)


# ---- helpers ----

def _validated(data: dict[str, Any]) -> Account:
    try:
        return Account.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "string_pattern_mismatch":  # the extension's regex says little to a person
                message = f"'{error['input']}' is not an extension: use 2 to 8 digits, e.g. 1001"
            problems.append(f"{_OPTIONS.get(field, field)}: {message}" if field else message)
        raise InvalidInput("; ".join(problems), field="account") from None


async def _seller_id(store: CrmStore, extension: str) -> int | None:
    try:
        return (await store.seller_by_extension(extension)).id
    except NotFound:
        raise InvalidInput(f"--seller-extension: no seller has extension {extension}; add one with "
                           f"`tui-caa seller set --extension {extension} --name NAME`",
                           field="seller_extension") from None


async def _seller_names(store: CrmStore) -> dict[int, str]:
    return {seller.id: seller.name for seller in await store.sellers() if seller.id is not None}


def describe(account: Account, seller_names: dict[int, str]) -> str:
    seller = seller_names.get(account.seller_id, "-") if account.seller_id is not None else "-"
    state = "active" if account.active else "disabled"
    return f"{account.login:<24}  {account.role.value:<10}  {account.extension or '-':>8}  {seller:<24}  {state:<8}"


def _sessions(count: int) -> str:
    return f"{count} session{'' if count == 1 else 's'}"
