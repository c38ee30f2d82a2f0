"""`tui-caa gateway check` (the seed's "Testar" / "Testar MySQL" for the whole service) and
`tui-caa gateway install` (the systemd unit), as an integrator runs them."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tui_caa import locations
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.pbx.base import DATABASE_PART, PBX_PART
from tui_caa.pbx.registry import driver_class

SWITCH = "module switch “Utilizar serviços de integração com centrais telefônicas”"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


# ---------------------------------------------------------------- check

def test_check_on_the_demo_simulator_passes(run, demo_database: Path) -> None:
    before = demo_database.read_bytes()
    result = run("gateway", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["OK"] * 3, lines
    assert lines[0].startswith("OK: CRM database sqlite+aiosqlite:///") and "(the newest)" in lines[0]
    assert lines[1] == f"OK: {SWITCH}: on"  # the demo turns it on
    assert lines[2].startswith("OK: PBX: connected to Simulador (built in); 10 extensions")
    assert "capabilities: answer, attended_transfer" in lines[2]
    assert demo_database.read_bytes() == before  # a check changes nothing


def test_check_creates_no_database(run) -> None:
    result = run("gateway", "check")
    assert result.returncode == 1
    first, switch, pbx = result.stdout.splitlines()
    assert first.startswith("FAILED: CRM database ") and "does not exist: `tui-caa db init` creates it" in first
    assert switch.startswith(f"FAILED: {SWITCH}: not checked")
    assert pbx.startswith("FAILED: PBX: not checked: the PBX registry is in the CRM database")
    assert not locations.data_dir().exists()


def test_an_unreachable_crm_is_named_without_its_password(run) -> None:
    port = closed_port()
    url = f"mysql+aiomysql://crm:s3cr3t-pw@127.0.0.1:{port}/crm"
    result = run("gateway", "check", env={"TUI_CAA_DATABASE__URL": url})
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"FAILED: CRM database mysql+aiomysql://crm:***@127.0.0.1:{port}/crm is unavailable")
    assert "check database.url and database.password" in lines[0]
    assert lines[1].startswith(f"FAILED: {SWITCH}: not checked")
    assert "s3cr3t-pw" not in result.stdout + result.stderr


def test_with_the_crm_down_a_pbx_given_in_full_is_still_tried(run) -> None:
    env = {"TUI_CAA_DATABASE__URL": f"mysql+aiomysql://crm@127.0.0.1:{closed_port()}/crm"}
    port = closed_port()
    result = run("gateway", "check", "--pbx", "asterisk", "--host", "127.0.0.1", "--port", str(port),
                 "--user", "crm", "--secret", "ami-pw-7", env=env)
    assert result.returncode == 1
    pbx = result.stdout.splitlines()[2]
    assert pbx.startswith(f"FAILED: PBX: Asterisk (127.0.0.1:{port}): ") and "cannot connect" in pbx
    assert "ami-pw-7" not in result.stdout + result.stderr


def test_the_module_switch_off_fails_and_says_how_to_turn_it_on(run, demo_database: Path) -> None:
    assert "is off" in run("db", "telephony", "off").stdout
    result = run("gateway", "check")
    assert result.returncode == 1
    assert f"FAILED: {SWITCH}: off: turn it on with `tui-caa db telephony on`" in result.stdout.splitlines()
    assert "is on" in run("db", "telephony", "on").stdout
    assert run("gateway", "check").returncode == 0


def test_a_refused_pbx_fails_at_once(run, demo_database: Path) -> None:
    port = closed_port()
    started = time.monotonic()
    result = run("gateway", "check", "--pbx", "asterisk", "--host", "127.0.0.1", "--port", str(port),
                 "--user", "crm", "--secret", "s")
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    crm, switch, pbx = result.stdout.splitlines()  # every component is tried and has its line
    assert crm.startswith("OK: CRM database") and switch.startswith("OK: ")
    assert pbx.startswith(f"FAILED: PBX: Asterisk (127.0.0.1:{port}): ")


def test_a_silent_pbx_fails_within_the_time_box(run, demo_database: Path, silent_port: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui_caa.commands.pbx.CONNECT_TIMEOUT", 1.0)
    started = time.monotonic()
    result = run("gateway", "check", "--pbx", "asterisk", "--host", "127.0.0.1", "--port", str(silent_port),
                 "--user", "crm", "--secret", "s")
    assert time.monotonic() - started < 8  # one time box for the connection, none for anything else
    assert result.returncode == 1
    assert f"FAILED: PBX: Asterisk (127.0.0.1:{silent_port}) did not answer within 1 s" in result.stdout


def test_a_planetfone_has_a_line_for_its_mysql(run, demo_database: Path) -> None:
    """Both down: the SOAP service and the MySQL CDR each have their FAILED line (the seed's two tests)."""
    soap, mysql = closed_port(), closed_port()
    registered = run("pbx", "register", "--name", "PF", "--pbx", "planetfone", "--host", "127.0.0.1",
                     "--port", str(soap), "--mysql-host", "127.0.0.1", "--mysql-port", str(mysql),
                     "--mysql-user", "crm", "--mysql-database", "asteriskcdrdb")
    assert registered.returncode == 0, registered.stderr
    result = run("gateway", "check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[2].startswith(f"FAILED: PBX: Planetfone (127.0.0.1:{soap}): ")
    assert lines[3].startswith(f"FAILED: PBX database: MySQL at 127.0.0.1:{mysql} (database asteriskcdrdb")
    assert "error 2003" in lines[3]


async def test_planetfone_check_parts_name_the_part(tmp_path: Path) -> None:
    """A real driver against closed ports: one PBX result, one database result; check() keeps its strings."""
    soap, mysql = closed_port(), closed_port()
    entry = PbxRegistryEntry(name="PF", kind="planetfone", address="127.0.0.1", port=soap, mysql_host="127.0.0.1",
                             mysql_port=mysql, mysql_user="crm", mysql_password=SecretStr("my-pw-3"),
                             mysql_database="cdr")
    driver = driver_class("planetfone").from_entry(entry, request_timeout=1.0, mysql_timeout=2.0)
    try:
        pbx, database = await driver.check_parts()
        assert (pbx.part, pbx.ok, database.part, database.ok) == (PBX_PART, False, DATABASE_PART, False)
        assert database.detail.startswith(f"MySQL at 127.0.0.1:{mysql}") and "my-pw-3" not in database.detail
        assert await driver.check() == [pbx.detail, database.detail]
    finally:
        await driver.close()


async def test_forip_check_parts_name_the_database() -> None:
    pytest.importorskip("pyodbc", reason="the ForIP driver needs unixODBC (libodbc) to load")
    entry = PbxRegistryEntry(name="ForIP", kind="forip", address="127.0.0.1", port=closed_port(),
                             login="crm@example.com", secret=SecretStr("api"))
    without = driver_class("forip").from_entry(entry)
    with_db = driver_class("forip").from_entry(
        entry, odbc_dsn=f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={closed_port()};Database=f;Uid=u",
        db_password=SecretStr("pg-pw-5"), db_timeout=2.0)
    try:
        [optional] = await without.check_parts()  # optional: said, but no failure
        assert optional.part == DATABASE_PART and optional.ok and "not configured" in optional.detail
        assert await without.check() == []
        [down] = await with_db.check_parts()
        assert down.part == DATABASE_PART and not down.ok and "pg-pw-5" not in down.detail
    finally:
        await without.close()
        await with_db.close()


# ---------------------------------------------------------------- install

def unit_keys(text: str) -> dict[str, list[str]]:
    """Key → values of a systemd unit (systemd allows repeated keys, so configparser is not enough)."""
    keys: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            keys.setdefault(f"{section}.{key}", []).append(value)
    return keys


HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces": "yes", "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes", "LockPersonality": "yes", "SystemCallArchitectures": "native",
    "SystemCallFilter": "@system-service", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
}


def test_install_print_shows_the_unit_and_writes_nothing(run, tmp_path: Path) -> None:
    result = run("gateway", "install", "--print", "--unit-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
    keys = unit_keys(result.stdout)
    service = {key.removeprefix("Service."): values[0] for key, values in keys.items() if key.startswith("Service.")}
    assert service["ExecStart"] == f"{os.path.abspath(sys.executable)} -m tui_caa gateway"
    assert {key: service[key] for key in ("Type", "User", "Group", "Restart", "RestartSec", "KillSignal",
                                          "TimeoutStopSec", "StateDirectory", "StateDirectoryMode",
                                          "ConfigurationDirectory", "Environment", "UMask")} == {
        "Type": "exec", "User": "tui-caa", "Group": "tui-caa", "Restart": "on-failure", "RestartSec": "2",
        "KillSignal": "SIGTERM", "TimeoutStopSec": "30", "StateDirectory": "tui-caa", "StateDirectoryMode": "0700",
        "ConfigurationDirectory": "tui-caa", "Environment": "XDG_DATA_HOME=/var/lib XDG_CONFIG_HOME=/etc",
        "UMask": "0077"}
    assert {key: service[key] for key in HARDENING} == HARDENING
    assert "MemoryDenyWriteExecute" not in service
    assert "CAP_NET_BIND_SERVICE" in result.stdout  # the comment on ports below 1024
    assert keys["Install.WantedBy"] == ["multi-user.target"]


def test_the_units_environment_puts_data_and_config_where_systemd_gives_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "/var/lib")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/etc")
    if sys.platform != "linux":
        pytest.skip("platformdirs reads XDG variables on Linux only")
    assert (locations.data_dir(), locations.config_file()) == (Path("/var/lib/tui-caa"),
                                                               Path("/etc/tui-caa/config.toml"))


def test_install_quotes_paths_for_systemd(run, tmp_path: Path) -> None:
    result = run("gateway", "install", "--print", "--config", "/etc/tui caa/50%.toml", "--listen", "0.0.0.0:8700")
    [exec_start] = unit_keys(result.stdout)["Service.ExecStart"]
    # systemd's quoting here is the shell's (double quotes, backslash escapes); % doubles for specifiers
    assert shlex.split(exec_start) == [os.path.abspath(sys.executable), "-m", "tui_caa", "--config",
                                       "/etc/tui caa/50%%.toml", "gateway", "--listen", "0.0.0.0:8700"]


def test_install_writes_the_unit_and_says_how_to_enable_it(run, tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        result = run("gateway", "install", "--unit-dir", str(tmp_path), "--user", "pbxgw")
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    unit = tmp_path / "tui-caa-gateway.service"
    assert (unit.stat().st_mode & 0o777) == 0o644
    assert unit_keys(unit.read_text())["Service.User"] == ["pbxgw"]
    assert result.stdout.startswith(f"wrote {unit}\n")
    for step in ("useradd --system", "pbxgw", "systemctl daemon-reload", "systemctl enable --now tui-caa-gateway",
                 "journalctl -u tui-caa-gateway -f"):
        assert step in result.stdout


def test_install_refuses_root(run, tmp_path: Path) -> None:
    result = run("gateway", "install", "--user", "root", "--unit-dir", str(tmp_path))
    assert result.returncode == 2
    assert "--user root" in result.stderr and "unprivileged" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_install_into_a_folder_it_cannot_write_says_so_in_one_line(run, tmp_path: Path) -> None:
    for unit_dir in (tmp_path / "missing", tmp_path / "a-file"):
        (tmp_path / "a-file").touch()
        result = run("gateway", "install", "--unit-dir", str(unit_dir))
        assert result.returncode == 1
        [line] = result.stderr.splitlines()
        assert line.startswith(f"tui-caa: cannot write {unit_dir / 'tui-caa-gateway.service'}: ")
        assert "--print" in line


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_unit(run, tmp_path: Path) -> None:
    assert run("gateway", "install", "--unit-dir", str(tmp_path), "--listen", "127.0.0.1:8700").returncode == 0
    verify = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "tui-caa-gateway.service")],
                            capture_output=True, text=True, timeout=60)
    # verify exits 0 on unknown keys and bad values too: it only warns, so no output at all is the test
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
