"""PBX settings that can never work (a line break in an AMI user or secret) are refused when stored,
and a row stored before that rule is found by `pbx check` with a clear line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from tui_caa.crm.schema import pbx_registry
from tui_caa.domain import PbxRegistryEntry

GOOD = {"name": "Matriz", "kind": "asterisk", "address": "10.0.0.5", "port": 5038, "login": "crm", "secret": "s3cret"}


@pytest.mark.parametrize("field, value", [
    ("login", "cr\rm"), ("login", "cr\nm"), ("secret", "s3\r\nAction: Originate"), ("account", "7\x1b7"),
    ("mysql_password", "p\nw"),
])
def test_control_characters_in_what_is_sent_to_the_pbx_are_refused_naming_the_field(field: str, value: str) -> None:
    data = {**GOOD, field: value}
    if field == "mysql_password":
        data.update(kind="planetfone", mysql_host="10.0.0.9", mysql_user="crm", mysql_database="cdr")
    with pytest.raises(ValidationError) as caught:
        PbxRegistryEntry.model_validate(data)
    error = caught.value.errors()[0]
    assert error["loc"] == (field,)
    assert f"{field} contains a control character" in error["msg"] and "type it again without it" in error["msg"]
    assert value not in str(caught.value)  # a refused secret is not echoed back


def test_a_clean_entry_is_still_accepted() -> None:
    assert PbxRegistryEntry.model_validate(GOOD).login == "crm"


@pytest.fixture(autouse=True)
def cli_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CRM and settings these commands run against (the `run` fixture is in conftest)."""
    monkeypatch.setenv("TUI_CAA_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}")
    monkeypatch.setenv("TUI_CAA_DDD", "51")


def test_pbx_register_refuses_a_line_break_in_the_secret(run) -> None:  # type: ignore[no-untyped-def]
    result = run("pbx", "register", "--name", "A", "--pbx", "asterisk", "--host", "10.0.0.1", "--port", "5038",
                 "--user", "crm", "--ask-secret", stdin="s3c\rret\n")
    assert result.returncode == 1 and "secret contains a control character" in result.stderr, result.stderr
    assert "s3c" not in result.stderr + result.stdout


def test_pbx_check_finds_a_bad_row_stored_before_the_rule(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stored = run("pbx", "register", "--name", "Matriz", "--pbx", "asterisk", "--host", "127.0.0.1", "--port", "9",
                 "--user", "crm", "--ask-secret", stdin="s3cret\n")
    assert stored.returncode == 0, stored.stderr
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    with engine.begin() as connection:  # as an older version stored it, without the rule
        connection.execute(sa.update(pbx_registry).values(login="cr\rm"))
    engine.dispose()
    listed = run("pbx", "list")
    assert listed.returncode == 0 and "Matriz" in listed.stdout, listed.stderr
    result = run("pbx", "check")
    assert result.returncode == 1
    assert result.stderr.startswith("FAILED: the PBX registry entry 'Matriz' cannot be used: login contains a "
                                    "control character"), result.stderr
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
