"""The `tui-caa` command as a user runs it: a real process, its output and exit code."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def tui_caa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A real `tui-caa` process."""
    return subprocess.run(
        [sys.executable, "-m", "tui_caa", *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("number, ddd, printed", [
    ("(51) 98765-4321", None, "+5551987654321"),
    ("0 15 11 98765-4321", None, "+5511987654321"),
    ("98765-4321", "11", "+5511987654321"),
    ("1187654321", None, "+5511987654321"),
    ("0014155551212", None, "+14155551212"),
    ("anonymous", None, "anonymous"),
    ("2001", None, "extension"),
])
def test_phone_normalize_prints_the_e164_form(run, number: str, ddd: str | None, printed: str) -> None:
    result = run("phone", "normalize", number, *(["--ddd", ddd] if ddd else []))
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, printed, "")


def test_phone_normalize_explains(run) -> None:
    result = run("phone", "normalize", "(51) 8765-4321", "--ddd", "51", "--explain")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "+5551987654321", "kind: phone", "type: mobile", "display: (51) 98765-4321",
        "rule: national+ninth-digit", "dial string: 987654321",
    ]


@pytest.mark.parametrize("number, reason", [
    ("98765-4321", "no area code (DDD) and no default DDD configured"),
    ("12a", "contains letters"),
    ("(20) 3333-4444", "invalid area code 20"),
])
def test_phone_normalize_says_why_a_number_is_not_one(run, number: str, reason: str) -> None:
    result = run("phone", "normalize", number)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == f"error: '{number}' is not a phone number: {reason}"


def test_bad_ddd_option_and_bad_config_are_usage_errors(tmp_path: Path) -> None:
    result = tui_caa("phone", "normalize", "1234", "--ddd", "20")
    assert result.returncode == 2 and "--ddd '20' is not a Brazilian area code" in result.stderr
    config = tmp_path / "c.toml"
    config.write_text('ddd = "51"\nrol = "agent"\n')
    result = tui_caa("--config", str(config), "phone", "normalize", "1234")
    assert result.returncode == 2
    assert "unknown key 'rol'; did you mean 'role'?" in result.stderr and "Traceback" not in result.stderr


def test_configured_ddd_is_used(run) -> None:
    result = run("phone", "normalize", "3333-4444", env={"TUI_CAA_DDD": "48"})
    assert result.stdout.strip() == "+554833334444"


def test_db_init_creates_then_finds_the_schema_current(tmp_path: Path) -> None:
    env = {"TUI_CAA_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"}
    first = tui_caa("db", "init", env=env)
    assert first.returncode == 0 and "migrated to the newest schema" in first.stdout
    again = tui_caa("db", "init", env=env)
    assert again.returncode == 0 and "already at the newest schema" in again.stdout


def test_unreachable_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = tui_caa("db", "init", env={"TUI_CAA_DATABASE__URL": f"sqlite+aiosqlite:///{blocker}/crm.sqlite3"})
    assert result.returncode == 1
    assert "cannot create its folder" in result.stderr and "Traceback" not in result.stderr


def test_mysql_password_never_printed(run) -> None:
    result = run("db", "init", env={"TUI_CAA_DATABASE__URL": "mysql+aiomysql://crm:s3cret@127.0.0.1:1/crm"})
    assert result.returncode == 1
    assert "unavailable" in result.stderr and "s3cret" not in result.stderr + result.stdout


async def test_first_start_creates_the_embedded_demo_once() -> None:
    """What `tui-caa` does before it opens the console (the console itself: tests/ui/test_tmux.py)."""
    from tui_caa.commands.db import open_demo_ready_store
    from tui_caa.config import load_settings

    settings = load_settings()
    store, created = await open_demo_ready_store(settings)
    assert created and (await store.active_pbx()).kind == "simulator"
    assert {s.extension for s in await store.sellers()} == {str(n) for n in range(1001, 1011)}
    await store.close()
    store, created = await open_demo_ready_store(settings)
    assert not created
    await store.close()


def test_db_demo_fills_an_empty_database_and_refuses_a_used_one(run, tmp_path: Path) -> None:
    env = {"TUI_CAA_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"}
    filled = run("db", "demo", "--customers", "40", "--seed", "3", env=env)
    assert filled.returncode == 0, filled.stderr
    assert "demo dealership loaded (seed 3)" in filled.stdout and "customers: 40" in filled.stdout
    refused = run("db", "demo", env=env)
    assert refused.returncode == 1
    assert "already has data (40 customers" in refused.stderr and "never polluted" in refused.stderr


def test_pbx_check_on_the_embedded_simulator(run, demo_database) -> None:
    result = run("pbx", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: connected to Simulador (built in); 10 extensions, 0 calls under way")
    assert "capabilities: answer, attended_transfer, barge" in result.stdout


def test_pbx_check_names_an_unknown_family_and_a_bad_option(run, demo_database) -> None:
    result = run("pbx", "check", "--pbx", "nosuchpbx", "--host", "127.0.0.1", "--port", "5038")
    assert result.returncode == 1
    assert "PBX options: --pbx: Input should be 'digitro', 'planetfone', 'forip', 'asterisk' or 'simulator'" in result.stderr
    result = run("pbx", "check", "--pbx", "digitro", "--host", "10.0.0.1", "--port", "80")
    assert result.returncode == 1
    assert "PBX options: a digitro PBX needs account, route" in result.stderr


def test_pbx_events_json_lines_have_the_documented_keys(run, demo_database) -> None:
    import json

    result = run("pbx", "events", "--json", "--count", "6", "--rate", "600")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 6 and rows[0]["type"] == "driver_connected"
    for row in rows:
        assert {"type", "extension", "call_id", "direction", "number", "ddr", "state", "disposition", "at"} <= set(row)
    ringing = [row for row in rows if row["type"] == "call_ringing"]
    assert ringing and all(row["direction"] == "in" and row["state"] == "ringing" for row in ringing)


def test_the_console_logs_to_a_file_and_the_tools_to_stderr(tmp_path, monkeypatch) -> None:
    import logging

    from tui_caa import logs

    path = logs.to_file(tmp_path / "logs" / "tui-caa.log")
    logging.getLogger("tui_caa.test").warning("link to the PBX lost")
    logging.getLogger("httpx").info("HTTP Request: POST http://pbx/wenvpabx2 200 OK")  # every poll: not kept
    logs.to_stderr()  # replaces the file handler: one tui-caa handler at a time
    logging.getLogger("tui_caa.test").info("not shown on stderr")
    assert "WARNING tui_caa.test: link to the PBX lost" in path.read_text(encoding="utf-8")
    assert "HTTP Request" not in path.read_text(encoding="utf-8")
    assert sum(getattr(h, "_tui_caa", False) for h in logging.getLogger().handlers) == 1
