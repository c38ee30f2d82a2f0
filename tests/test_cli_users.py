"""`tui-caa user …`: the administrator manages the gateway's login accounts."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

from tui_caa.cli import main
from tui_caa.config import load_settings
from tui_caa.crm import CrmStore, open_store, passwords

PASSWORD = "s3nha-do-gateway"


@pytest.fixture(autouse=True)
def cli_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CRM and settings these commands run against (the `run` fixture is in conftest)."""
    monkeypatch.setenv("TUI_CAA_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}")
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def with_store(work):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        settings = load_settings()
        store: CrmStore = await open_store(settings.database.connect_url(), settings.caller_id)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(go())


def login_ok(login: str, password: str) -> bool:
    async def work(store: CrmStore) -> bool:
        try:
            await store.verify_login(login, SecretStr(password))
        except Exception:
            return False
        return True

    return with_store(work)


def open_session(login: str) -> str:
    async def work(store: CrmStore) -> str:
        return await store.open_auth_session(await store.account(login), ttl=timedelta(hours=8), address="10.1.1.1")

    return with_store(work)


def test_an_agent_is_added_with_a_password_from_stdin_and_linked_to_its_seller(run) -> None:
    assert run("seller", "set", "--extension", "1001", "--name", "Ana Souza").returncode == 0
    result = run("user", "add", "Ana.Souza", "--role", "agent", "--extension", "1001", "--ask-password",
                 stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["added:", "ana.souza", "agent", "1001", "Ana", "Souza", "active"]
    assert login_ok("ana.souza", PASSWORD)
    listed = run("user", "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1].split() == ["ana.souza", "agent", "1001", "Ana", "Souza", "active", "0"]
    assert "argon2" not in listed.stdout and PASSWORD not in listed.stdout + result.stdout
    [entry] = with_store(lambda store: store.audit_entries())
    assert (entry.kind, entry.login) == ("account_added", "ana.souza") and "role agent" in entry.detail


def test_a_supervisor_may_be_linked_to_another_sellers_extension(run) -> None:
    run("seller", "set", "--extension", "1002", "--name", "Bia")
    result = run("user", "add", "chefe", "--role", "supervisor", "--seller-extension", "1002", "--ask-password",
                 stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "Bia" in result.stdout
    missing = run("user", "add", "outro", "--role", "supervisor", "--seller-extension", "1009", "--ask-password",
                  stdin=PASSWORD + "\n")
    assert missing.returncode == 1
    assert "tui-caa: --seller-extension: no seller has extension 1009" in missing.stderr


def test_without_a_terminal_or_ask_password_there_is_no_password_source(run) -> None:
    result = run("user", "add", "ana", "--role", "agent", "--extension", "1001", stdin=PASSWORD + "\n")
    assert result.returncode == 1
    assert result.stderr.startswith("tui-caa: password: standard input is not a terminal")
    assert "--ask-password" in result.stderr and "Traceback" not in result.stderr
    assert run("user", "list").stdout.startswith("no accounts yet")


def test_on_a_terminal_the_password_is_asked_twice_and_must_match(run, monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([PASSWORD, PASSWORD + "x", PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    monkeypatch.setattr(sys, "stdin", Tty())
    mismatch = main(["user", "add", "ana", "--role", "supervisor"])
    assert mismatch == 1 and not login_ok("ana", PASSWORD)
    assert main(["user", "add", "ana", "--role", "supervisor"]) == 0
    assert login_ok("ana", PASSWORD)


@pytest.mark.parametrize("args, message", [
    (["--role", "boss", "--extension", "1001"], "tui-caa: --role: Input should be 'agent' or 'supervisor'"),
    (["--role", "agent"], "tui-caa: an agent needs an extension: give --extension"),
    (["--role", "agent", "--extension", "12a"], "tui-caa: --extension: '12a' is not an extension: use 2 to 8 digits"),
])
def test_a_bad_role_or_extension_is_named_before_any_password_is_read(run, args: list[str], message: str) -> None:
    result = run("user", "add", "ana", *args, "--ask-password", stdin=PASSWORD + "\n")
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_login_short_password_and_duplicates_are_one_line_errors(run) -> None:
    bad = run("user", "add", "Ana Souza", "--role", "supervisor", "--ask-password", stdin=PASSWORD + "\n")
    assert bad.stderr.startswith("tui-caa: LOGIN: 'Ana Souza' is not a valid login")
    short = run("user", "add", "ana", "--role", "supervisor", "--ask-password", stdin="curta\n")
    assert (short.returncode, short.stderr) == (1, "tui-caa: password: must be 8 to 1024 characters long\n")
    run("user", "add", "ana", "--role", "supervisor", "--ask-password", stdin=PASSWORD + "\n")
    again = run("user", "add", "ANA", "--role", "supervisor", "--ask-password", stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "tui-caa: login 'ana' already exists" in again.stderr
    unknown = run("user", "revoke", "nobody")
    assert unknown.returncode == 1 and "no account with login 'nobody'" in unknown.stderr


def test_passwd_changes_the_password_and_ends_sessions(run) -> None:
    run("user", "add", "ana", "--role", "supervisor", "--ask-password", stdin=PASSWORD + "\n")
    open_session("ana")
    assert run("user", "list").stdout.splitlines()[1].split()[-1] == "1"
    result = run("user", "passwd", "ana", "--ask-password", stdin="uma senha nova\n")
    assert result.returncode == 0, result.stderr
    assert login_ok("ana", "uma senha nova") and not login_ok("ana", PASSWORD)
    assert run("user", "list").stdout.splitlines()[1].split()[-1] == "0"


def test_disable_enable_and_revoke_say_what_they_ended_and_are_audited(run) -> None:
    run("user", "add", "ana", "--role", "supervisor", "--ask-password", stdin=PASSWORD + "\n")
    open_session("ana")
    open_session("ana")
    revoked = run("user", "revoke", "ana")
    assert (revoked.returncode, revoked.stdout) == (0, "2 sessions of ana ended\n")
    open_session("ana")
    disabled = run("user", "disable", "ana")
    assert disabled.stdout == "ana disabled; 1 session ended\n"
    assert not login_ok("ana", PASSWORD)
    assert "disabled" in run("user", "list").stdout
    assert run("user", "enable", "ana").stdout == "ana enabled\n"
    assert login_ok("ana", PASSWORD)
    audit = run("user", "audit", "--login", "ana", "--limit", "3")
    kinds = [line.split()[2] for line in audit.stdout.splitlines()]
    assert kinds == ["enabled", "disabled", "revoked"]
    assert "2 sessions ended" in run("user", "audit").stdout


def test_the_user_command_does_not_load_textual() -> None:
    code = ("import sys; from tui_caa.cli import build_parser, _handler;"
            "_handler(build_parser().parse_args(['user', 'list'])); print('textual' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
