"""A whole site in real terminals: `tui-caa gateway --demo` and three console processes in tmux
(agents 1001 and 1002, a supervisor), driven with keystrokes. A customer's call rings 1001, 1001
answers and transfers it to 1002, whose screen pops the same caller and DDR source; the supervisor
sees both; the CRM gets exactly one record per leg and none for extensions not involved."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.ui.test_tmux import TMUX, capture, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux is not installed (.ci/run installs it)")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keys(session: str, *sequence: str) -> None:
    subprocess.run([TMUX or "tmux", "send-keys", "-t", session, *sequence], check=True)


def wait_for_screen(session: str, test, what: str, timeout: float = 30.0) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if test(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{what} never showed on {session}; the screen was:\n{screen}")


def test_a_site_gateway_and_three_logged_in_consoles(demo_database: Path, tmp_path: Path) -> None:
    assert TMUX, "tmux is required in CI"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: os.environ[k] for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "HOME", "PATH") if k in os.environ}
    gateway = subprocess.Popen([sys.executable, "-m", "tui_caa", "gateway", "--demo", "--listen", f"127.0.0.1:{port}"],
                               env={**env, "LANG": "C.UTF-8"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tag = uuid.uuid4().hex[:6]
    seats = {"1001": f"site-1001-{tag}", "1002": f"site-1002-{tag}", "supervisor": f"site-sup-{tag}"}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert gateway.poll() is None, gateway.stderr.read().decode() if gateway.stderr else ""
            time.sleep(0.2)
        prefix = " ".join(f"{k}={v}" for k, v in env.items())
        for session in seats.values():
            command = f"{prefix} LANG=pt_BR.UTF-8 {sys.executable} -m tui_caa --gateway {url}"
            subprocess.run([TMUX, "new-session", "-d", "-s", session, "-x", "160", "-y", "45", command], check=True)
        for login, session in seats.items():
            wait_for(session, "Usuário")
            keys(session, login, "Enter")
            time.sleep(0.3)  # typed as a person types: the focus moves to the password field first
            keys(session, "demo1234", "Enter")
        wait_for(seats["1001"], "central conectada")
        wait_for(seats["1002"], "central conectada")
        wait_for(seats["supervisor"], "central conectada")

        # a caller rings 1001 (the palette's simulated call), 1001 answers and transfers to 1002
        keys(seats["1001"], "C-p")
        wait_for(seats["1001"], "🔎")  # the palette is open (its full list may hide the command below the fold)
        keys(seats["1001"], "Simular chamada")
        wait_for_screen(seats["1001"], lambda s: "Simular chamada recebida" in s and "Maximize" not in s,
                        "the palette filtered to the simulated call")
        keys(seats["1001"], "Enter")
        ringing = wait_for(seats["1001"], "tocando")
        caller = next(line for line in ringing.splitlines() if "Chamador:" in line).split("Chamador:")[1].strip()
        source = next(line for line in ringing.splitlines() if "origem:" in line).split("origem:")[1].strip()
        keys(seats["1001"], "F6")
        wait_for(seats["1001"], "em conversa")
        keys(seats["1001"], "F9")
        wait_for(seats["1001"], "Transferir para")
        keys(seats["1001"], "1002", "Enter")

        popped = wait_for(seats["1002"], "tocando")
        assert f"Chamador: {caller}" in popped and f"origem: {source}" in popped
        monitor = wait_for_screen(seats["supervisor"], lambda s: "1002" in s and "tocando" in s,
                                  "1002 ringing on the monitor")
        assert "1001" in monitor
        keys(seats["1002"], "F6")
        wait_for(seats["1002"], "em conversa")
        wait_for_screen(seats["supervisor"], lambda s: "em ligação" in s or "em conversa" in s, "1002 talking")
        keys(seats["1002"], "F7")
        wait_for(seats["1002"], "Nenhuma chamada em andamento")
        wait_for(seats["1001"], "Nenhuma chamada em andamento")

        # the CRM: one record per leg of this call, none for anyone else
        deadline = time.monotonic() + 20
        legs: list[tuple[str, str]] = []
        while time.monotonic() < deadline:
            with sqlite3.connect(demo_database) as crm:
                call_id = crm.execute("SELECT pbx_call_id FROM call_records WHERE extension = '1002' "
                                      "ORDER BY id DESC LIMIT 1").fetchone()
                if call_id:
                    legs = crm.execute("SELECT extension, disposition FROM call_records WHERE pbx_call_id = ? "
                                       "ORDER BY extension", call_id).fetchall()
            if len(legs) == 2:
                break
            time.sleep(0.2)
        assert [ext for ext, _ in legs] == ["1001", "1002"], legs
    finally:
        for session in seats.values():
            subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True)
        gateway.terminate()
        try:
            gateway.wait(15)
        except subprocess.TimeoutExpired:
            gateway.kill()
