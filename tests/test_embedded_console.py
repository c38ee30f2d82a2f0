"""The embedded default is on screen before its CRM and gateway (issue 16): the first frame shows the
agent screen with "carregando…", then the store (the demo, on a first start), the gateway and the
session arrive and the banner shows the seller, the extension and the link."""

import asyncio
from pathlib import Path

import pytest

from tui_caa.commands.embedded_console import EmbeddedConsole
from tui_caa.config import DatabaseSettings, Settings
from tui_caa.protocol.principal import Role
from tui_caa.ui import i18n
from tui_caa.ui.widgets.status_banner import StatusBanner


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the demo's site key
    i18n.set_language("pt_BR")
    return Settings(database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"))


async def test_first_frame_says_loading_then_the_demo_and_the_gateway_arrive(settings: Settings) -> None:
    console = EmbeddedConsole(settings, role=Role.AGENT, extension=None)
    app = console.app
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            banner = app.screen.query_one(StatusBanner)
            assert type(app.screen).__name__ == "AgentScreen"
            assert console.embedded is None and "carregando…" in banner.banner_text().plain
            for _ in range(600):  # the demo CRM is made on this first start: a few seconds
                if not app.model.loading and app.model.link.value == "connected":
                    break
                await pilot.pause(0.05)
            text = banner.banner_text().plain
            assert "carregando" not in text and "ramal 1001" in text and "SIMULADOR" in text
            assert console.created and app.session.principal.extension == "1001"
    finally:
        assert await console.close(5)


async def test_a_failed_opening_ends_the_console_and_is_raised_after(settings: Settings) -> None:
    console = EmbeddedConsole(settings, role=Role.AGENT, extension="9999")
    async with console.app.run_test() as pilot:
        for _ in range(600):
            if console.failure is not None:
                break
            await pilot.pause(0.05)
        await asyncio.sleep(0)
    assert console.app.return_code == 1
    assert "no seller has extension 9999" in str(console.failure)
    assert await console.close(5)


async def test_quitting_right_after_a_call_ended_still_has_it_in_the_crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded console's close gives the recorder a moment: a CRM that takes its time still gets
    the call that ended just before the agent quit (not only at the next start, from the outbox)."""
    from tui_caa.crm import open_store
    from tui_caa.domain import Seller
    from tui_caa.gateway.embedded import start_embedded
    from tui_caa.phones import CallerIdRules

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    store = await open_store(url, CallerIdRules(default_ddd="51"))
    await store.save_seller(Seller(name="Ana", extension="1001"))
    settings = Settings(database=DatabaseSettings(url=url))
    embedded = await start_embedded(store, settings, role=Role.AGENT, extension="1001")
    real_write = store.record_calls

    async def slow_write(records):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.5)
        return await real_write(records)

    monkeypatch.setattr(store, "record_calls", slow_write)
    await asyncio.wait_for(embedded.gateway.wait_connected(), 5)
    call_id = await embedded.gateway.driver.ring("1001", "051987654321")  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    await embedded.session.answer(call_id)
    await embedded.session.hangup(call_id)
    await asyncio.sleep(0.05)  # the call has ended and is journaled; its CRM write is under way
    await embedded.close()

    reopened = await open_store(url, CallerIdRules(default_ddd="51"))
    try:
        page = await reopened.call_history("1001")
        assert [row.call.pbx_call_id for row in page.rows] == [call_id]
    finally:
        await reopened.close()
