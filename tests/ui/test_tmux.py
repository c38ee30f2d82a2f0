"""The real `tui-caa` in a real terminal (tmux): start on the demo default, wait for the banner,
dial with keystrokes, read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(
    TMUX is None and not os.environ.get("CI"), reason="tmux is not installed (.ci/run installs it)")


def capture(session: str) -> str:
    return subprocess.run([TMUX or "tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                          check=True).stdout


def wait_for(session: str, text: str, timeout: float = 40.0) -> str:
    """Polls the screen until `text` shows (a deadline, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never showed; the screen was:\n{screen}")


def test_console_in_tmux_dials_with_keystrokes(demo_database: Path, tmp_path: Path) -> None:
    assert TMUX, "tmux is required in CI"
    session = f"tui-caa-test-{uuid.uuid4().hex[:8]}"
    env = {k: os.environ[k] for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "HOME", "PATH") if k in os.environ}
    command = " ".join([*(f"{k}={v}" for k, v in env.items()), "LANG=pt_BR.UTF-8", sys.executable, "-m", "tui_caa"])
    subprocess.run([TMUX, "new-session", "-d", "-s", session, "-x", "160", "-y", "45", command], check=True)
    try:
        screen = wait_for(session, "central conectada")
        assert "ramal 1001" in screen and "● livre" in screen and "SIMULADOR" in screen
        subprocess.run([TMUX, "send-keys", "-t", session, "(51) 3333-4444", "Enter"], check=True)
        screen = wait_for(session, "↗ saída  (51) 3333-4444")
        assert "◎ chamando" in screen
        subprocess.run([TMUX, "send-keys", "-t", session, "F7"], check=True)
        wait_for(session, "Nenhuma chamada em andamento")
        subprocess.run([TMUX, "send-keys", "-t", session, "C-q"], check=True)
    finally:
        subprocess.run([TMUX, "kill-session", "-t", session], capture_output=True)
