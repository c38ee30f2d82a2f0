"""`tui-caa gateway` as a process: it refuses a CRM whose module switch is off, serves HTTPS, and
stops on SIGTERM in order, with every finished call in the CRM."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tui_caa import cli
from tui_caa.crm import open_store
from tui_caa.domain import InvalidInput
from tui_caa.remote import RemoteSession
from tui_caa.server.service import parse_listen, tls_context

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_gateway(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    scheme = "https" if "--tls-cert" in args else "http"
    process = subprocess.Popen([sys.executable, "-m", "tui_caa", "gateway", "--listen", f"127.0.0.1:{port}", *args],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    return process, f"{scheme}://127.0.0.1:{port}"


def wait_healthy(process: subprocess.Popen[bytes], url: str, verify: object = True) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (process.stderr.read() if process.stderr else b"").decode()
        try:
            if httpx.get(f"{url}/health", timeout=1, verify=verify).status_code == 200:  # type: ignore[arg-type]
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the gateway never became healthy")


def stop(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return process.returncode, err.decode(errors="replace")


def test_the_gateway_refuses_a_crm_whose_module_switch_is_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "crm.sqlite3"

    async def prepare() -> None:
        store = await open_store(f"sqlite+aiosqlite:///{database}")
        await store.set_telephony_enabled(False)
        await store.close()

    asyncio.run(prepare())
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{database}"\n')
    assert cli.main(["--config", str(config), "gateway", "--listen", f"127.0.0.1:{free_port()}"]) == 1
    error = capsys.readouterr().err
    assert "module switch" in error and "tui-caa db telephony on" in error


def test_sigterm_stops_in_order_with_every_call_recorded(demo_database: Path) -> None:
    process, url = start_gateway("--demo")
    try:
        wait_healthy(process, url)

        async def a_call() -> str:
            console = RemoteSession(url)
            await console.login("1001", SecretStr("demo1234"))
            call_id = await console.simulate_call()
            await console.answer(call_id)
            await console.hangup(call_id)
            await console.close()
            return call_id

        call_id = asyncio.run(a_call())
    finally:
        code, log = stop(process)  # at once: the call's record may still be on its way to the CRM
    assert code == 0, log
    assert "gateway stopped" in log and "Traceback" not in log
    with sqlite3.connect(demo_database) as crm:
        rows = crm.execute("SELECT extension, disposition FROM call_records WHERE pbx_call_id = ?", (call_id,)).fetchall()
    assert rows == [("1001", "answered")]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_https_with_the_sites_own_certificate(demo_database: Path, tmp_path: Path) -> None:
    cert, key = tmp_path / "gateway.pem", tmp_path / "gateway.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    process, url = start_gateway("--demo", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        wait_healthy(process, url, verify=ssl.create_default_context(cafile=str(cert)))

        async def log_in(ca: Path | None) -> str:
            console = RemoteSession(url, ca=ca)
            try:
                return (await console.login("1002", SecretStr("demo1234"))).login
            finally:
                await console.close()

        assert asyncio.run(log_in(cert)) == "1002"
        from tui_caa.protocol.link_errors import GatewayUnreachable

        with pytest.raises(GatewayUnreachable):  # a console that does not trust the site's CA refuses it
            asyncio.run(log_in(None))
    finally:
        code, log = stop(process)
    assert code == 0, log


def test_tls_needs_a_matching_pair_and_listen_a_port(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="--tls-key"):
        tls_context(tmp_path / "a.pem", None)
    (tmp_path / "a.pem").write_text("not a certificate")
    with pytest.raises(InvalidInput, match="cannot load"):
        tls_context(tmp_path / "a.pem", tmp_path / "a.pem")
    assert (parse_listen(":8641").host, parse_listen("[::1]:9000").port) == ("127.0.0.1", 9000)
    with pytest.raises(InvalidInput, match="HOST:PORT"):
        parse_listen("0.0.0.0:http")


def test_demo_is_for_loopback_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["gateway", "--demo", "--listen", "0.0.0.0:8640"]) == 1
    assert "loopback only" in capsys.readouterr().err
