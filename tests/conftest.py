from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tui_caa.crm import CrmStore, open_store
from tui_caa.phones import CallerIdRules

T0 = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
# the demo CRM's site key: the template is built before any test's isolated data folder exists
DEMO_SITE_KEY = b"dHVpLWNhYSB0ZXN0IHNpdGUga2V5LCAzMiBieXRlcyE="

pytest_plugins = ["tests.gateway_fixtures", "tests.server_fixtures"]  # the `rig` fixture: a gateway on the scripted simulator


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's own config or data, or leaks TUI_CAA_* settings (the test servers'
    addresses, TUI_CAA_TEST_*, set by .ci/run, stay)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    import os

    for name in list(os.environ):
        if name.startswith("TUI_CAA_") and not name.startswith("TUI_CAA_TEST_"):
            monkeypatch.delenv(name)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded demo CRM, built once per test run."""
    import asyncio

    from tui_caa.crm.demo import DEMO_DDD, load_demo
    from tui_caa.crm.sitekey import SiteKey

    path = tmp_path_factory.mktemp("demo") / "crm.sqlite3"

    async def build() -> None:
        crm = await open_store(f"sqlite+aiosqlite:///{path}", CallerIdRules(default_ddd=DEMO_DDD),
                               site_key=SiteKey(DEMO_SITE_KEY, "the tests' demo key"))
        await load_demo(crm, now=T0)
        await crm.close()

    asyncio.run(build())
    return path


@pytest.fixture
def demo_database(demo_template: Path, isolated_env: None) -> Path:
    """A copy of the demo CRM where the embedded default looks for it (the user data folder)."""
    import shutil

    from tui_caa import locations
    from tui_caa.crm.sitekey import write_key_file

    target = locations.data_dir() / "crm.sqlite3"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(demo_template, target)
    write_key_file(DEMO_SITE_KEY)
    return target


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[CrmStore]:
    crm = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}", CallerIdRules(default_ddd="51"))
    crm.clock = clock
    yield crm
    await crm.close()


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`run("pbx", "check")`: the `tui-caa` command in this process (fast, for the many small cases)."""
    import io
    import subprocess

    from tui_caa.cli import main

    def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        if stdin is not None:  # what a pipe would give (secrets are read from it)
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out, err)

    return run
