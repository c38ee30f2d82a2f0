"""Issue 11 item 4: bad input gives one clear line and a non-zero exit, never a traceback, and
quotes at most ~80 characters of what was given; config errors never show a secret."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from tui_caa.cli import main
from tui_caa.config import ConfigError, load_settings
from tui_caa.domain import DomainError, PbxRegistryEntry
from tui_caa.domain.crm import Contact, Customer, Seller, TrafficSource

SECRETS = ("SUPERSECRETPW", "12345678", "MYSQLPASSWORD9")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TUI_CAA_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}")

    def run(*args: str, stdin: str = "") -> tuple[int, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out + err

    return run


def one_clear_line(code: int, output: str, limit: int = 400) -> str:
    assert code != 0
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert len(output) < limit, output[:500]
    return lines[0]


# 1. a config file that is not UTF-8
def test_a_config_file_that_is_not_utf8(cli, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'ddd = "51"\ntheme = "\xff\xfe"\n')
    line = one_clear_line(*cli("--config", str(path), "phone", "normalize", "51999998888"))
    assert "not UTF-8" in line and "line 2" in line and "save it as UTF-8" in line


# 2. bad JSON in a TUI_CAA_* variable of a nested key
@pytest.mark.parametrize("name, value", [("TUI_CAA_KEYMAP", "{bad"), ("TUI_CAA_DATABASE", "{"),
                                         ("TUI_CAA_DIALING", '{"password": "SUPERSECRETPW"')])
def test_bad_json_in_a_variable(cli, monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.delenv("TUI_CAA_DATABASE__URL")
    monkeypatch.setenv(name, value)
    line = one_clear_line(*cli("phone", "normalize", "51999998888"))
    assert name in line and "not valid JSON" in line and "SUPERSECRETPW" not in line


# 3. a database URL without its async driver
@pytest.mark.parametrize("url, fix", [
    ("postgresql://u:SUPERSECRETPW@db.example/crm", "pip install asyncpg"),
    ("postgres://db.example/crm", "pip install asyncpg"),
    ("postgresql+psycopg2://db.example/crm", "postgresql+asyncpg://"),
    ("mysql+mysqldb://u:SUPERSECRETPW@db.example/crm", "mysql+aiomysql://"),
    ("mysql+pymysql://db.example/crm", "mysql+aiomysql://"),
])
def test_a_database_url_without_its_async_driver(cli, monkeypatch: pytest.MonkeyPatch, url: str, fix: str) -> None:
    pytest.importorskip("sqlalchemy")
    if "asyncpg" in fix:
        monkeypatch.setitem(sys.modules, "asyncpg", None)  # as on a machine without it
    monkeypatch.setenv("TUI_CAA_DATABASE__URL", url)
    line = one_clear_line(*cli("seller", "list"))
    assert fix in line and "SUPERSECRETPW" not in line


def test_plain_sqlite_and_mysql_urls_get_their_async_driver() -> None:
    from tui_caa.crm.database import async_url

    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("mysql://u@h/crm") == "mysql+aiomysql://u@h/crm"
    assert async_url("mariadb://u@h/crm") == "mysql+aiomysql://u@h/crm"
    assert async_url("mssql://u@dsn") == "mssql+aioodbc://u@dsn"
    assert async_url("mysql+aiomysql://u@h/crm") == "mysql+aiomysql://u@h/crm"


def test_a_plain_sqlite_url_just_works(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TUI_CAA_DATABASE__URL", f"sqlite:///{tmp_path / 'plain.sqlite3'}")
    code, output = cli("seller", "list")
    assert code == 0 and "Traceback" not in output


# 4. an empty or huge name
@pytest.mark.parametrize("name, says", [("", "at least 1 character"), ("   ", "at least 1 character"),
                                        ("x" * 100_000, "at most 120 characters")])
def test_source_set_with_an_empty_or_huge_name(cli, name: str, says: str) -> None:
    line = one_clear_line(*cli("source", "set", "--name", name))
    assert "--name" in line and says in line


def test_seller_set_with_a_huge_name_or_extension(cli) -> None:
    line = one_clear_line(*cli("seller", "set", "--extension", "2001", "--name", "y" * 100_000))
    assert "at most 120 characters" in line
    line = one_clear_line(*cli("seller", "set", "--extension", "9" * 100_000))
    assert len(line) < 300


# 5. the ForIP tickets database without unixODBC
def test_forip_loads_without_unixodbc_and_says_what_to_install() -> None:
    code = (
        "import sys, asyncio\n"
        "sys.modules['pyodbc'] = None; sys.modules['aioodbc'] = None\n"  # ImportError, as without libodbc.so.2
        "import tui_caa.pbx.forip, tui_caa.pbx.registry, tui_caa.cli\n"
        "from tui_caa.pbx.forip.tickets import TicketStore, DatabaseError\n"
        "store = TicketStore('Driver=x', None, timeout=1, zone='America/Sao_Paulo', table='t', ddr_query='', limit=1)\n"
        "try:\n"
        "    asyncio.run(store.check())\n"
        "except DatabaseError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "apt-get install unixodbc odbc-postgresql" in result.stdout


# 6. a config file that is no file, or far too big; theme files too
def test_a_config_file_that_is_a_device_or_huge(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TUI_CAA_CONFIG_FILE", "/dev/zero")
    line = one_clear_line(*cli("phone", "normalize", "51999998888"))
    assert "not a regular file" in line
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (2 * 1024 * 1024))
    monkeypatch.setenv("TUI_CAA_CONFIG_FILE", str(big))
    line = one_clear_line(*cli("phone", "normalize", "51999998888"))
    assert "larger than 1024 KiB" in line


def test_a_theme_file_too_big_is_refused(tmp_path: Path) -> None:
    from tui_caa.ui.themes import load_theme_file

    big = tmp_path / "big.toml"
    big.write_text('name = "big"\n# ' + "x" * (1024 * 1024))
    with pytest.raises(ValueError, match="larger than"):
        load_theme_file(big)


# 7. a huge config value is quoted short
def test_a_huge_config_value_is_quoted_short(cli, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'role = "{"r" * 400_000}"\nddd = "{"9" * 400_000}"\n')  # under the file cap
    code, output = cli("--config", str(path), "phone", "normalize", "51999998888")
    assert code != 0 and "Traceback" not in output
    assert len(output) < 1000 and "400002 characters)" in output


# 8. phone normalize quotes its input short
def test_phone_normalize_quotes_its_input_short(cli) -> None:
    line = one_clear_line(*cli("phone", "normalize", "9" * 100_000))
    assert "too long" in line
    line = one_clear_line(*cli("phone", "normalize", "a" * 100_000))
    line = one_clear_line(*cli("phone", "normalize", "--ddd", "x" * 100_000, "1"))
    assert "area code" in line


# 9. stored text: no control characters, no more than the column
@pytest.mark.parametrize("build", [
    lambda: Seller(name="Ana\x1b[2J\x07"),
    lambda: Seller(name="Ana", extension_password=SecretStr("p" * 100_000)),
    lambda: TrafficSource(name="Rádio\x1b]0;owned\x07"),
    lambda: TrafficSource(name="Site", ddr_raw="5" * 41),
    lambda: Customer(name="Beto\u202e"),
    lambda: Customer(name="Beto", notes="ok\n\x1b[31m"),
    lambda: Contact(customer_id=1, outcome="sale", notes="n" * 4001),
    lambda: PbxRegistryEntry(kind="simulator", login="ami\x1b"),
    lambda: PbxRegistryEntry(kind="simulator", account="1" * 65),
    lambda: PbxRegistryEntry(kind="simulator", secret=SecretStr("s" * 256)),
])
def test_stored_text_refuses_control_characters_and_over_long_values(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as caught:
        build()
    text = str(caught.value.errors()[0]["msg"])
    assert "control character" in text or "at most" in text


def test_notes_keep_their_line_breaks() -> None:
    assert Contact(customer_id=1, outcome="sale", notes="one\r\ntwo\tthree").notes == "one\r\ntwo\tthree"


def test_seller_set_refuses_an_escape_in_the_name(cli) -> None:
    line = one_clear_line(*cli("seller", "set", "--extension", "2001", "--name", "Ana\x1b[2J"))
    assert "control characters" in line and "\x1b" not in line


def test_a_huge_password_is_refused_naming_the_limit(cli) -> None:
    line = one_clear_line(*cli("seller", "set", "--extension", "2001", "--name", "Ana", "--ask-password",
                                stdin="p" * 100_000 + "\n"))
    assert "at most 128 characters" in line and "ppppp" not in line


# 10. unknown TUI_CAA_* variables
def test_an_unknown_variable_is_reported_with_a_suggestion(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_CAA_DATABSE__URL", "sqlite+aiosqlite:///x.db")
    line = one_clear_line(*cli("phone", "normalize", "51999998888"))
    assert "TUI_CAA_DATABSE__URL" in line and "did you mean 'database'" in line
    monkeypatch.delenv("TUI_CAA_DATABSE__URL")
    monkeypatch.setenv("TUI_CAA_DATABASE__URLL", "x")
    line = one_clear_line(*cli("phone", "normalize", "51999998888"))
    assert "did you mean 'url'" in line


def test_variables_that_are_not_settings_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUI_CAA_TEST_SOMETHING", "1")
    monkeypatch.setenv("TUI_CAA_SITE_KEY", "k")
    monkeypatch.setenv("TUI_CAA_KEYMAP__CALL.HANGUP", "f12")
    load_settings()


# item 3, config half: config errors never print a secret
@pytest.mark.parametrize("env", [
    {"TUI_CAA_DATABASE": '{"url": "bad url", "password": "SUPERSECRETPW"}'},
    {"TUI_CAA_DATABASE__URL": "mysql://u:SUPERSECRETPW@host:notaport/crm"},
    {"TUI_CAA_DATABASE__PASSWORD": "12345678", "TUI_CAA_DATABASE__URL": "bad url"},
    {"TUI_CAA_PBX__PLANETFONE__MYSQL_PASSWORD": "MYSQLPASSWORD9", "TUI_CAA_PBX__PLANETFONE__NOPE": "1"},
])
def test_config_errors_never_show_a_secret(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert not any(secret in str(caught.value) for secret in SECRETS), str(caught.value)


@pytest.mark.parametrize("toml", [
    "[database]\npassword = 12345678\n",
    '[database]\nurl = "mysql://u:SUPERSECRETPW@h:x/crm"\n',
    'database = {url = "bad url", password = "SUPERSECRETPW"}\n',
    '[pbx.digitro]\napi_key = ["SUPERSECRETPW"]\n',
])
def test_config_file_errors_never_show_a_secret(tmp_path: Path, toml: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    try:
        load_settings(path)
    except ConfigError as exc:
        assert not any(secret in str(exc) for secret in SECRETS), str(exc)


def test_the_command_line_never_tracebacks_on_a_domain_error_either() -> None:
    assert issubclass(ConfigError, Exception) and issubclass(DomainError, Exception)


def test_the_module_runs_as_a_command_with_a_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe\x00")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TUI_CAA_CONFIG_FILE": str(path)}
    result = subprocess.run([sys.executable, "-m", "tui_caa", "phone", "normalize", "1"], capture_output=True,
                            text=True, env=env, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
