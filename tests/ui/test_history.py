"""Histórico de Ligações as an agent uses it: rows, paging, filters, opening contacts, the context menu."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from rich.style import Style
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, OptionList, Select, Static

from tests.conftest import T0
from tests.gateway_fixtures import Rig
from tests.ui.conftest import settle
from tui_caa.crm.database import DatabaseUnavailable
from tui_caa.domain import (
    CallRecord,
    CallState,
    Capability,
    Contact,
    ContactOutcome,
    Direction,
    Disposition,
    HistoryFilter,
)
from tui_caa.ui import i18n
from tui_caa.ui.app import CaaApp
from tui_caa.ui.screens.history import MAX_ROWS, PAGE_SIZE, HistoryView
from tui_caa.ui.screens.prompts import MenuScreen, PromptScreen
from tui_caa.ui.screens.search import SearchScreen

ANA = "(51) 98765-4321"


# ---------------------------------------------------------------- helpers

async def open_history(rig: Rig, app: CaaApp, pilot: Pilot) -> HistoryView:
    """The agent switches to the "Histórico de Ligações" tab (F4) and moves into the table."""
    await pilot.press("f4")
    await settle(rig, pilot)
    view = app.screen.query_one(HistoryView)
    view.table.focus()
    await settle(rig, pilot)
    return view


def rows(view: HistoryView) -> list[list[str]]:
    table = view.table
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def column(view: HistoryView, index: int) -> list[str]:
    return [row[index] for row in rows(view)]


def status(view: HistoryView) -> str:
    return str(view.query_one("#history-status", Static).render())


def local(at: datetime) -> str:
    return at.astimezone().strftime("%d/%m %H:%M")


def record(n: int, started: datetime, *, direction: Direction = Direction.INBOUND, number: str = "(11) 3333-4444",
           missed: bool = False, talk: int = 30, recording: str | None = None, extension: str = "1001",
           **fields: object) -> CallRecord:
    disposition = Disposition.NO_ANSWER if missed else Disposition.ANSWERED
    return CallRecord(
        pbx_call_id=f"rec-{n:05d}", extension=extension, direction=direction, remote_raw=number,
        started_at=started, answered_at=None if missed else started + timedelta(seconds=5),
        ended_at=started + timedelta(seconds=5 + (0 if missed else talk)), talk_seconds=0 if missed else talk,
        missed=missed, disposition=disposition, recording_ref=recording, **fields,  # type: ignore[arg-type]
    )


async def volume(rig: Rig, count: int) -> None:
    """`count` calls of 1001, one a minute, newest at T0 (rec-00000)."""
    await rig.store.record_calls([record(n, T0 - timedelta(minutes=n)) for n in range(count)])


async def menu_entries(app: CaaApp) -> dict[str, tuple[str, bool]]:
    """The open context menu: id -> (label, disabled)."""
    assert isinstance(app.screen, MenuScreen)
    options = app.screen.query_one(OptionList)
    return {str(o.id): (str(o.prompt), o.disabled) for o in options.options}


async def pick(rig: Rig, app: CaaApp, pilot: Pilot, entry: str) -> None:
    """Moves to the menu entry with the arrow keys and presses Enter."""
    options = app.screen.query_one(OptionList)
    while options.highlighted is None or options.get_option_at_index(options.highlighted).id != entry:
        await pilot.press("down")
    await pilot.press("enter")
    await settle(rig, pilot)


async def wait_until(pilot: Pilot, condition, rounds: int = 200) -> None:  # type: ignore[no-untyped-def]
    """Waits for something the console does on a timer (polls; never a fixed sleep that passes by luck)."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the console never got there")


# ---------------------------------------------------------------- what the rows say

async def test_rows_show_direction_number_customer_duration_and_missed(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    agent = rig.sessions["1001"]
    answered = await rig.ring("1001", "051987654321", ddr="5121010001")  # Ana, from the newspaper ad
    await agent.answer(answered)
    await rig.settle(65)
    await agent.hangup(answered)
    out = await agent.dial("(11) 3333-4444")
    await rig.settle()
    await rig.sim.remote_answer(out)
    await rig.settle(125)
    await agent.hangup(out)
    internal = await agent.dial("1002")
    await rig.settle()
    await rig.sessions["1002"].answer(internal)
    await rig.settle(7)
    await agent.hangup(internal)
    await rig.ring("1001", "(48) 3222-1111")
    await rig.settle(30)  # nobody answers: missed
    await rig.recorded()
    started = [r.call.started_at for r in (await agent.call_history()).rows]

    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        assert rows(view) == [
            [local(started[0]), "↙ entrada", "(48) 3222-1111", "—", "—", "—", "✖ não atendida"],
            [local(started[1]), "↔ interna", "1002", "—", "—", "00:07", "✔ atendida"],
            [local(started[2]), "↗ saída", "(11) 3333-4444", "—", "—", "02:05", "✔ atendida"],
            [local(started[3]), "↙ entrada", ANA, "Ana Souza", "—", "01:05", "✔ atendida"],
        ]
        missed = view.table.get_row_at(0)[6]
        assert missed.style.color == Style(color=app.theme_variables["error"]).color and missed.style.bold
        assert status(view) == "4 ligações carregadas · fim do histórico"
        headers = [str(c.label) for c in view.table.columns.values()]
        assert headers == ["Data/hora", "Sentido", "Número", "Cliente", "Contato nº", "Duração", "Situação"]


async def test_english_labels(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    i18n.set_language("en")
    try:
        await rig.store.record_call(record(1, T0, missed=True))
        async with console() as (app, pilot):
            view = await open_history(rig, app, pilot)
            assert [str(c.label) for c in view.table.columns.values()][:3] == ["Date/time", "Direction", "Number"]
            assert rows(view)[0][1:] == ["↙ inbound", "(11) 3333-4444", "—", "—", "—", "✖ not answered"]
            assert str(view.query_one(Checkbox).label) == "Missed calls only"
    finally:
        i18n.set_language("pt_BR")


async def test_empty_history_says_so(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        assert view.table.row_count == 0
        assert status(view) == "Nenhuma ligação neste ramal."


async def test_a_crm_failure_is_a_sentence_not_a_traceback(rig: Rig, console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async def down(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailable("o banco do CRM não responde (sqlite: database is locked)")

    monkeypatch.setattr(rig.store, "call_history", down)  # what any session reads, in-process or remote
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        assert status(view) == ("Não foi possível carregar o histórico: "
                                "o banco do CRM não responde (sqlite: database is locked)")
        assert view.query_one("#history-status").has_class("-error")
        assert app.is_running


async def test_reloads_when_a_call_of_the_agent_ends_at_most_once_for_a_burst(
        rig: Rig, console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the product's own delay: both records must reach the CRM within it, even on a loaded machine
    monkeypatch.setattr(HistoryView, "RELOAD_DELAY", 0.3)
    queries: list[HistoryFilter | None] = []
    real = rig.store.call_history

    async def counting(extension, filters=None, **kwargs):  # type: ignore[no-untyped-def]
        queries.append(filters)
        return await real(extension, filters, **kwargs)

    monkeypatch.setattr(rig.store, "call_history", counting)
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        assert view.table.row_count == 0
        before = len(queries)
        await rig.ring("1001", "(48) 3222-1111")
        await rig.ring("1001", "051987654321")
        await rig.settle(30)  # both ring out together: two missed calls end at once
        await rig.recorded()
        await wait_until(pilot, lambda: view.table.row_count == 2)
        await settle(rig, pilot)
        assert len(queries) == before + 1  # one reload for the burst
        assert sorted(column(view, 6)) == ["✖ não atendida", "✖ ocupado"]  # the second found the line busy


async def test_a_call_shows_up_once_its_record_reaches_a_slow_crm(rig: Rig, console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The history reloads when the gateway says the record is in the CRM, not a guess after the
    call ends: a CRM that takes its time still gets the call into the list, without a manual reload."""
    monkeypatch.setattr(HistoryView, "RELOAD_DELAY", 0.05)
    release = asyncio.Event()
    real = rig.store.record_calls

    async def slow(records):  # type: ignore[no-untyped-def]
        await release.wait()
        return await real(records)

    monkeypatch.setattr(rig.store, "record_calls", slow)
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        call_id = await rig.ring("1001", "051987654321")
        await rig.sim.remote_hangup(call_id)
        await rig.settle()
        for _ in range(10):  # the call is over on screen, but the CRM has not written it
            await pilot.pause(0.02)
        assert view.table.row_count == 0 and not app.model.my_calls()
        release.set()
        await rig.recorded()
        await wait_until(pilot, lambda: view.table.row_count == 1)


# ---------------------------------------------------------------- paging

async def test_pages_of_fifty_load_at_the_end_of_the_list(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    await volume(rig, 120)
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        assert view.table.row_count == PAGE_SIZE
        assert column(view, 0)[0] == local(T0)  # newest first
        assert "no fim da lista carrega mais (l)" in status(view)
        await pilot.press("G")  # the cursor reaches the last row
        await settle(rig, pilot)
        assert view.table.row_count == 100
        assert view.table.cursor_row == PAGE_SIZE - 1  # the cursor stays on its call
        await pilot.press("l")  # "Carregar mais"
        await settle(rig, pilot)
        assert view.table.row_count == 120
        assert column(view, 0)[-1] == local(T0 - timedelta(minutes=119))
        assert status(view) == "120 ligações carregadas · fim do histórico"
        await pilot.press("l")  # at the end already: nothing more to load
        await settle(rig, pilot)
        assert view.table.row_count == 120
        await pilot.press("G", "k", "k", "k")
        assert view.table.cursor_row == 116
        await pilot.press("j")
        assert view.table.cursor_row == 117


async def test_at_most_a_few_pages_stay_in_memory(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    await volume(rig, 260)
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        for loaded in (100, 150, 200, 200):
            await pilot.press("G")
            await settle(rig, pilot)
            assert view.table.row_count == loaded
        # the fifth page came, the first went: calls 51-250 are on screen
        assert column(view, 0)[0] == local(T0 - timedelta(minutes=50))
        assert column(view, 0)[-1] == local(T0 - timedelta(minutes=249))
        assert status(view).startswith("ligações 51–250 · no topo carrega as mais recentes")
        await pilot.press("G")
        await settle(rig, pilot)
        assert view.table.row_count <= MAX_ROWS
        assert column(view, 0)[-1] == local(T0 - timedelta(minutes=259))
        assert "fim do histórico" in status(view)
        # back at the top, the newer pages come back, the cursor staying on its call
        await pilot.press("g")
        await settle(rig, pilot)
        while view.current_row().call.pbx_call_id != "rec-00000":
            await pilot.press("g")
            await settle(rig, pilot)
            assert view.table.row_count <= MAX_ROWS
        assert column(view, 0)[0] == local(T0)
        assert status(view).startswith("200 ligações carregadas")


async def test_far_down_the_history_a_new_call_is_announced_not_forced(
        rig: Rig, console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(HistoryView, "RELOAD_DELAY", 0.05)
    await volume(rig, 260)
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        for _ in range(4):
            await pilot.press("G")
            await settle(rig, pilot)
        where = view.current_row().call.pbx_call_id
        assert status(view).startswith("ligações 51–250")
        await rig.ring("1001", "(48) 3222-1111")
        await rig.settle(30)
        await rig.recorded()
        await wait_until(pilot, lambda: "há ligações novas: r atualiza" in status(view))
        assert view.current_row().call.pbx_call_id == where  # the rows were not pulled away
        view.table.focus()
        await pilot.press("r")
        await settle(rig, pilot)
        assert view.table.row_count == PAGE_SIZE
        assert rows(view)[0][2:] == ["(48) 3222-1111", "—", "—", "—", "✖ não atendida"]
        assert status(view).startswith("50 ligações carregadas")


# ---------------------------------------------------------------- filters

@pytest.fixture
async def mixed(rig: Rig) -> None:
    await rig.store.record_calls([
        record(1, T0 - timedelta(hours=1)),  # today, inbound, answered
        record(2, T0 - timedelta(days=3), direction=Direction.OUTBOUND),
        record(3, T0 - timedelta(days=20), missed=True),
        record(4, T0 - timedelta(days=60), direction=Direction.INTERNAL, number="1002"),
        record(5, T0 - timedelta(hours=2), extension="1002"),  # another extension's call: never shown
    ])


async def test_missed_only_filter(rig: Rig, console, mixed) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        assert view.table.row_count == 4
        await pilot.click("#missed-only")
        await settle(rig, pilot)
        assert column(view, 6) == ["✖ não atendida"]
        assert view.query_one("#missed-only", Checkbox).value
        view.table.focus()
        await pilot.press("n")  # the same with the key
        await settle(rig, pilot)
        assert view.table.row_count == 4


async def test_direction_filter(rig: Rig, console, mixed) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        await pilot.press("s")  # todas -> entrada
        await settle(rig, pilot)
        assert view.query_one("#direction", Select).value == "in"
        assert column(view, 1) == ["↙ entrada", "↙ entrada"]
        await pilot.press("s")  # -> saída
        await settle(rig, pilot)
        assert column(view, 1) == ["↗ saída"]
        view.query_one("#direction", Select).value = "internal"  # as picked in the list
        await settle(rig, pilot)
        assert rows(view)[0][1:3] == ["↔ interna", "1002"]
        view.query_one("#direction", Select).value = "all"
        await settle(rig, pilot)
        assert view.table.row_count == 4


async def test_period_filter_in_local_days(rig: Rig, console, mixed) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        seen = []
        for _ in range(4):  # tudo -> hoje -> 7 dias -> 30 dias -> tudo
            await pilot.press("p")
            await settle(rig, pilot)
            seen.append((view.query_one("#period", Select).value, view.table.row_count))
        assert seen == [("today", 1), ("7d", 2), ("30d", 3), ("all", 4)]
        view.query_one("#period", Select).value = "today"
        await settle(rig, pilot)
        since = view.filters.since
        assert since is not None and since.tzinfo is not None
        local_now = T0.astimezone()
        assert since == local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        await pilot.press("n")  # today's only call was answered
        await settle(rig, pilot)
        assert view.table.row_count == 0
        assert status(view).startswith("Nenhuma ligação com estes filtros")


# ---------------------------------------------------------------- Enter: the contact, or a new one

async def test_enter_opens_the_contact_or_starts_a_new_one(rig: Rig, console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ana = (await rig.store.search_customers("Ana"))[0]
    contact = await rig.store.create_contact(
        Contact(customer_id=ana.id, outcome=ContactOutcome.INTERESTED, call_id="rec-00001"))
    await rig.store.record_calls([
        record(1, T0, number="051987654321"),  # Ana, a contact was opened during the call
        record(2, T0 - timedelta(hours=1), number="051987654321"),  # Ana, no contact yet
        record(3, T0 - timedelta(hours=2), number="(48) 3222-1111"),  # nobody known
    ])
    opened: list[tuple[int, str | None, str | None]] = []
    async with console() as (app, pilot):
        monkeypatch.setattr(app, "open_customer",
                            lambda customer_id, call_id=None, tab=None: opened.append((customer_id, call_id, tab)))
        view = await open_history(rig, app, pilot)
        assert rows(view)[0][3:5] == ["Ana Souza", str(contact.id)]
        await pilot.press("enter")
        assert opened == [(ana.id, "rec-00001", "lifecycle")]

        await pilot.click("#history-table", offset=(3, 2))  # one click on the second row only moves there
        assert view.table.cursor_row == 1 and len(opened) == 1
        await pilot.double_click("#history-table", offset=(3, 2))
        assert opened[-1] == (ana.id, "rec-00002", "register") and len(opened) == 2

        await pilot.press("down", "enter")
        await settle(rig, pilot)
        assert isinstance(app.screen, MenuScreen)
        entries = await menu_entries(app)
        assert entries == {"find": ("Localizar cliente (para abrir um contato)", False)}
        await pick(rig, app, pilot, "find")
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_one("#search-query", Input).value == "(48) 3222-1111"
        assert len(opened) == 2


# ---------------------------------------------------------------- the context menu

async def test_menu_call_this_number_dials_from_the_agents_extension(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    await rig.store.record_call(record(1, T0, number="051987654321"))
    async with console() as (app, pilot):
        await open_history(rig, app, pilot)
        await pilot.press("m")
        await settle(rig, pilot)
        entries = await menu_entries(app)
        assert list(entries) == ["call", "find", "play"]
        assert entries["call"] == ("Chamar este número", False)
        await pick(rig, app, pilot, "call")
        calls = rig.gateway.state.calls_of("1001")
        assert [(c.direction, c.state) for c in calls] == [(Direction.OUTBOUND, CallState.DIALING)]
        assert calls[0].number and calls[0].number.endswith("987654321")


async def test_menu_find_customer_searches_by_name(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    await rig.store.record_call(record(1, T0, number="051987654321"))
    async with console() as (app, pilot):
        await open_history(rig, app, pilot)
        await pilot.press("shift+f10")
        await settle(rig, pilot)
        await pick(rig, app, pilot, "find")
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_one("#search-query", Input).value == "Ana Souza"


async def test_menu_play_recording_rings_the_phone_the_agent_names(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    agent = rig.sessions["1001"]
    call_id = await rig.ring("1001", "051987654321")
    await agent.answer(call_id)
    await rig.settle(40)
    await agent.hangup(call_id)
    await rig.recorded()
    async with console() as (app, pilot):
        await open_history(rig, app, pilot)
        await pilot.press("m")
        await settle(rig, pilot)
        assert (await menu_entries(app))["play"] == ("Reproduzir gravação", False)
        await pick(rig, app, pilot, "play")
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one(Input).value == "1001"  # the agent's own extension by default
        await pilot.press("enter")
        await settle(rig, pilot)
        ringing = [(c.number, c.state) for c in rig.gateway.state.calls_of("1001")]
        assert ringing == [("gravação", CallState.RINGING)]
        messages = [n.message for n in app._notifications]
        assert "A central vai ligar para 1001 e reproduzir a gravação ao atender" in messages


async def test_menu_entries_disabled_with_the_reason(rig: Rig, console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await rig.store.record_calls([
        record(1, T0, number="anonymous", missed=True),
        record(2, T0 - timedelta(hours=1), number="051987654321", recording="rec-sim-1"),
        record(3, T0 - timedelta(hours=2), number="", missed=True),
    ])
    async with console() as (app, pilot):
        view = await open_history(rig, app, pilot)
        assert column(view, 2) == ["anônimo", ANA, "sem número"]
        await pilot.press("m")
        await settle(rig, pilot)
        assert await menu_entries(app) == {
            "call": ("Chamar este número — indisponível: número anônimo", True),
            "find": ("Localizar cliente", False),
            "play": ("Reproduzir gravação — indisponível: ligação sem gravação", True),
        }
        await pilot.press("escape")
        await settle(rig, pilot)

        # a PBX without playback: the menu says so
        monkeypatch.setattr(app.session, "capabilities",
                            lambda: frozenset(Capability) - {Capability.PLAY_RECORDING})
        await pilot.click("#history-table", offset=(3, 2), button=3)  # right click on the second row
        await settle(rig, pilot)
        assert view.table.cursor_row == 1
        entries = await menu_entries(app)
        assert entries["call"] == ("Chamar este número", False)
        assert entries["play"] == ("Reproduzir gravação — indisponível: a central não permite", True)
        await pilot.press("escape")
        await settle(rig, pilot)

        await pilot.click("#history-table", offset=(3, 3), button=3)
        await settle(rig, pilot)
        assert (await menu_entries(app))["call"] == ("Chamar este número — indisponível: ligação sem número", True)


async def test_bindings_have_stable_ids_and_show_in_the_footer(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    await volume(rig, 3)
    async with console() as (app, pilot):
        await open_history(rig, app, pilot)
        active = {b.binding.id: b.binding.description for b in app.active_bindings.values() if b.binding.id}
        for binding_id, description in {
            "history.menu": "Menu", "history.more": "Carregar mais", "history.missed_only": "Não atendidas",
            "history.direction": "Sentido", "history.period": "Período", "history.reload": "Atualizar",
            "history.open": "Abrir contato",
        }.items():
            assert active.get(binding_id) == description
        footer = {b.binding.id for b in app.active_bindings.values() if b.binding.show}
        assert {"history.menu", "history.more", "history.open"} <= footer


async def test_loads_on_its_own_in_any_screen(rig: Rig) -> None:
    """Mounted without the agent screen (no tab switch, no console model), it still loads."""
    from textual.app import App, ComposeResult

    class Tiny(App[None]):
        def __init__(self) -> None:
            super().__init__()
            self.session = rig.sessions["1001"]

        def compose(self) -> ComposeResult:
            yield HistoryView(id="history")

    await rig.store.record_call(record(1, T0, missed=True))
    app = Tiny()
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert column(app.query_one(HistoryView), 6) == ["✖ não atendida"]
