"""`tui-caa pbx register/list`, `seller set/list`, `source set/list`: the administrator's setup."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tui_caa.config import load_settings
from tui_caa.crm import open_store


@pytest.fixture(autouse=True)
def cli_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CRM and settings these commands run against (the `run` fixture is in conftest)."""
    monkeypatch.setenv("TUI_CAA_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}")
    monkeypatch.setenv("TUI_CAA_DDD", "51")


def stored_pbx():
    async def read():
        settings = load_settings()
        store = await open_store(settings.database.connect_url(), settings.caller_id)
        try:
            return await store.pbx_entries()
        finally:
            await store.close()

    return asyncio.run(read())


def test_a_digitro_pbx_is_registered_with_account_route_and_a_secret_read_from_stdin(run) -> None:
    result = run("pbx", "register", "--name", "Matriz", "--pbx", "digitro", "--host", "10.0.0.5",
                 "--port", "8080", "--account", "77", "--route", "0", "--ask-secret", stdin="k3y-s3cret\n")
    assert result.returncode == 0, result.stderr
    assert "registered: Matriz [digitro]  ACTIVE  host=10.0.0.5  port=8080  account=77  route=0" in result.stdout
    assert "secret=(set)" in result.stdout and "k3y-s3cret" not in result.stdout
    [entry] = stored_pbx()
    assert entry.secret is not None and entry.secret.get_secret_value() == "k3y-s3cret"
    listed = run("pbx", "list")
    assert "Matriz [digitro]" in listed.stdout and "k3y-s3cret" not in listed.stdout


def test_registering_again_by_name_changes_only_what_is_given(run) -> None:
    run("pbx", "register", "--name", "PF", "--pbx", "planetfone", "--host", "http://pf.central.com.br", "--port", "3080")
    result = run("pbx", "register", "--name", "PF", "--mysql-host", "10.0.0.9", "--mysql-user", "crm",
                 "--mysql-database", "asteriskcdrdb", "--ask-mysql-password", stdin="m\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("updated: PF [planetfone]")
    [entry] = stored_pbx()
    assert (entry.address, entry.port, entry.mysql_host, entry.mysql_database) == (
        "http://pf.central.com.br", 3080, "10.0.0.9", "asteriskcdrdb")


def test_a_second_active_pbx_deactivates_the_first(run) -> None:
    run("pbx", "register", "--name", "A", "--pbx", "asterisk", "--host", "10.0.0.1", "--port", "5038")
    run("pbx", "register", "--name", "B", "--pbx", "asterisk", "--host", "10.0.0.2", "--port", "5038")
    assert {e.name: e.active for e in stored_pbx()} == {"A": False, "B": True}


@pytest.mark.parametrize("args, message", [
    (["--pbx", "digitro", "--host", "10.0.0.5", "--port", "80"], "a digitro PBX needs --account, --route"),
    (["--pbx", "asterisk", "--host", "not a host", "--port", "5038"], "--host: 'not a host' is not an IP address"),
    (["--pbx", "asterisk", "--host", "10.0.0.1", "--port", "70000"], "--port: Input should be less than or equal to 65535"),
    (["--pbx", "nortel", "--host", "10.0.0.1"], "--pbx: Input should be 'digitro', 'planetfone', 'forip'"),
])
def test_a_bad_registry_entry_names_the_option_and_saves_nothing(run, args: list[str], message: str) -> None:
    result = run("pbx", "register", "--name", "X", *args)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert stored_pbx() == []


def test_an_empty_secret_is_refused(run) -> None:
    result = run("pbx", "register", "--name", "A", "--pbx", "asterisk", "--host", "10.0.0.1", "--port", "5038",
                 "--ask-secret", stdin="\n")
    assert result.returncode == 1 and "no password or API key" in result.stderr


def test_sellers_get_extensions_and_passwords(run) -> None:
    created = run("seller", "set", "--extension", "1001", "--name", "Ana Souza", "--ask-password", stdin="9911\n")
    assert created.returncode == 0, created.stderr
    assert "created:     1001  Ana Souza  password=(set)" in created.stdout and "9911" not in created.stdout
    renamed = run("seller", "set", "--extension", "1001", "--name", "Ana S. Souza")
    assert renamed.stdout.startswith("updated:") and "password=(set)" in renamed.stdout
    assert run("seller", "list").stdout.strip() == "1001  Ana S. Souza  password=(set)"


def test_a_new_extension_needs_a_name_and_taken_extensions_are_refused(run) -> None:
    result = run("seller", "set", "--extension", "1002")
    assert result.returncode == 1 and "give --name" in result.stderr
    bad = run("seller", "set", "--extension", "10a", "--name", "X")
    assert bad.returncode == 1 and "--extension" in bad.stderr


def test_traffic_sources_get_their_ddr_normalised(run) -> None:
    result = run("source", "set", "--name", "Rádio", "--ddr", "2101-0005")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "created: Rádio  (51) 2101-0005"
    clash = run("source", "set", "--name", "Jornal", "--ddr", "(51) 2101-0005")
    assert clash.returncode == 1 and "already the DDR of traffic source 'Rádio'" in clash.stderr
    assert run("source", "list").stdout.strip() == "Rádio  (51) 2101-0005"
