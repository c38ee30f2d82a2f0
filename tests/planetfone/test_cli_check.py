"""`tui-caa pbx check` on a registered Planetfone, as the seed's "Testar" and "Testar MySQL": a real
process, the fake SOAP service on loopback, and the answer says which of the two connections failed."""

from __future__ import annotations

import asyncio
import os
import socket
import sys

from tests.planetfone.fake_planetfone import FakePlanetfone


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def tui_caa(tmp_path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    env = {**os.environ, "TUI_CAA_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui_caa", *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def register(tmp_path, port: int, mysql_port: int) -> None:
    code, _out, err = await tui_caa(
        tmp_path, "pbx", "register", "--name", "PF", "--pbx", "planetfone", "--host", "127.0.0.1",
        "--port", str(port), "--mysql-host", "127.0.0.1", "--mysql-port", str(mysql_port),
        "--mysql-user", "crm", "--mysql-database", "asteriskcdrdb", "--ask-mysql-password", stdin="pw\n")
    assert code == 0, err


async def test_check_says_the_soap_service_answers_and_the_mysql_does_not(tmp_path) -> None:
    fake = await FakePlanetfone().start()
    try:
        await register(tmp_path, fake.port, closed_port())
        code, out, err = await tui_caa(tmp_path, "pbx", "check")
    finally:
        await fake.close()
    assert code == 1
    assert out.startswith("OK: connected to Planetfone (127.0.0.1:"), out
    assert "FAILED: MySQL at 127.0.0.1:" in err and "SOAP" not in err, err
    assert "pw" not in out + err.replace("password", "")


async def test_check_says_the_soap_service_is_down(tmp_path) -> None:
    await register(tmp_path, closed_port(), closed_port())
    code, out, err = await tui_caa(tmp_path, "pbx", "check")
    assert code == 1 and out == ""
    assert err.startswith("FAILED: Planetfone (127.0.0.1:"), err
