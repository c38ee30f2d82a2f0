"""Snapshots of every screen in the default theme, and of the agent screen in each shipped theme.
Update them with `pytest tests/ui/test_snapshots.py --snapshot-update` and look at the SVGs."""

from __future__ import annotations

import time

import pytest
from pytest_textual_snapshot import SVGImageExtension

from tests.ui.conftest import settle
from tui_caa.protocol.principal import Role
from tui_caa.ui import i18n


@pytest.fixture
def svg(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(SVGImageExtension)


@pytest.fixture(autouse=True)
def brazilian_time(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Dates on screen in the users' time zone, whatever the machine's."""
    monkeypatch.setenv("TZ", "America/Sao_Paulo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def ringing(rig, pilot):  # type: ignore[no-untyped-def]
    call_id = await rig.ring("1001", "051987654321", ddr="5121010001")
    await settle(rig, pilot)
    return call_id


async def test_agent_idle(rig, console, svg) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        assert app.export_screenshot() == svg


@pytest.mark.parametrize("theme", ["caa-dark", "caa-light", "caa-high-contrast"])
async def test_agent_ringing_in_each_theme(rig, console, svg, theme: str) -> None:  # type: ignore[no-untyped-def]
    async with console(theme_name=theme) as (app, pilot):
        await ringing(rig, pilot)
        assert app.export_screenshot() == svg


async def test_agent_in_english(rig, console, svg) -> None:  # type: ignore[no-untyped-def]
    i18n.set_language("en")
    async with console() as (app, pilot):
        await ringing(rig, pilot)
        assert app.export_screenshot() == svg


async def test_history(rig, console, svg) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        await rig.ring("1001", "051987654321", ddr="5121010001")
        await rig.settle(30)
    # both calls in the CRM before the history opens: a call recorded after the first page is
    # added above the cursor, which rightly stays on the call it was on (another picture)
    await rig.recorded()
    async with console() as (app, pilot):
        await pilot.press("f4")
        await settle(rig, pilot)
        assert app.export_screenshot() == svg


async def test_customer_card(rig, console, svg) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        call_id = await ringing(rig, pilot)
        app.open_customer(rig.gateway.pops[call_id].lookup.exact[0].customer.id, call_id=call_id)
        await settle(rig, pilot)
        assert app.export_screenshot() == svg


async def test_new_customer_form(rig, console, svg) -> None:  # type: ignore[no-untyped-def]
    from tui_caa.ui.screens.customer_form import NewCustomerScreen

    async with console() as (app, pilot):
        app.push_screen(NewCustomerScreen("(51) 99123-4567"))
        await settle(rig, pilot)
        assert app.export_screenshot() == svg


async def test_associate_phone(rig, console, svg) -> None:  # type: ignore[no-untyped-def]
    from tui_caa.ui.screens.customer_form import AssociatePhoneScreen

    async with console() as (app, pilot):
        app.push_screen(AssociatePhoneScreen("(51) 99123-4567"))
        await settle(rig, pilot)
        assert app.export_screenshot() == svg


async def test_customer_search(rig, console, svg) -> None:  # type: ignore[no-untyped-def]
    from tui_caa.ui.screens.search import SearchScreen

    async with console() as (app, pilot):
        app.push_screen(SearchScreen("ana"))
        await settle(rig, pilot)
        await pilot.press("enter")
        await settle(rig, pilot)
        assert app.export_screenshot() == svg


async def test_supervisor_monitor(rig, console, svg) -> None:  # type: ignore[no-untyped-def]
    async with console(role=Role.SUPERVISOR) as (app, pilot):
        call_id = await ringing(rig, pilot)
        await rig.sim.answer("1001", call_id)
        await rig.ring("1002", "(48) 3222-1111")
        await rig.settle(1)
        await settle(rig, pilot)
        app.screen.apply_changes()  # the monitor's own 150 ms tick, done now: the picture is final
        app.screen.refresh_durations()
        await pilot.pause()
        assert app.export_screenshot() == svg


async def test_help(rig, console, svg) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        await pilot.press("f1")
        await settle(rig, pilot)
        assert app.export_screenshot() == svg


def test_a_remote_console_draws_exactly_what_an_in_process_one_draws() -> None:
    """Each screen above is snapshotted on both sessions; the two pictures must be the same bytes
    (an update that lets them drift apart fails here)."""
    from pathlib import Path

    folder = Path(__file__).parent / "__snapshots__" / "test_snapshots"
    local = sorted(folder.glob("*local*.svg"))
    assert len(local) >= 12
    for picture in local:
        twin = picture.with_name(picture.name.replace("local", "remote"))
        assert twin.read_bytes() == picture.read_bytes(), f"{twin.name} differs from {picture.name}"
