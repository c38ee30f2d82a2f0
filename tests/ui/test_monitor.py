"""The supervisor's monitor: every extension live, counts, filters, and listen / whisper / barge.

The real app on the gateway rig (scripted simulator, virtual clock, SQLite CRM with "Ana Souza").
Changes reach the table on the screen's short apply interval; the tests flush it with
`apply_changes()` instead of waiting for it, except `test_changes_arrive_on_their_own`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from rich.text import Text
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Static

from tests.gateway_fixtures import Rig
from tests.ui.conftest import SIZE, settle
from tui_caa.domain import ExtensionState
from tui_caa.domain.events import CallAnswered, CallRinging, ExtensionStateChanged
from tui_caa.domain.telephony import Capability, Direction
from tui_caa.gateway.session import LocalSession
from tui_caa.protocol.messages import PbxUpdate
from tui_caa.protocol.principal import Principal, Role
from tui_caa.ui import i18n
from tui_caa.ui.app import CaaApp
from tui_caa.ui.screens.monitor import ExtensionTable, MonitorScreen

ANA = "51987654321"  # Ana Souza's mobile, (51) 98765-4321
JORNAL_DDR = "5121010001"  # the "Jornal" traffic source


@pytest.fixture
def monitor(rig: Rig) -> Callable[..., object]:
    """`async with monitor() as (app, pilot, screen):` the supervisor's console on the rig.

    Its own session (so it starts, as a real console does, from the gateway's StateSnapshot: the
    rig's `supervisor` session has had its snapshot drained already)."""

    @asynccontextmanager
    async def open_monitor(size: tuple[int, int] = SIZE) -> AsyncIterator[tuple[CaaApp, Pilot, MonitorScreen]]:
        session = LocalSession(rig.gateway, Principal(Role.SUPERVISOR, "1009"), seller=rig.supervisor.seller)
        app = CaaApp(session, role=Role.SUPERVISOR, simulated=True, clock=rig.clock)
        async with app.run_test(size=size) as pilot:
            await settle(rig, pilot)
            screen = app.screen
            assert isinstance(screen, MonitorScreen)
            await refreshed(rig, pilot, screen)
            yield app, pilot, screen
        await session.close()

    return open_monitor


async def refreshed(rig: Rig, pilot: Pilot, screen: MonitorScreen, seconds: float = 0) -> None:
    """Everything settled and applied to the table (and the durations ticked)."""
    await rig.settle(seconds)
    await settle(rig, pilot)
    screen.apply_changes()
    screen.refresh_durations()
    await pilot.pause()


def cell(screen: MonitorScreen, ext: str, column: str) -> str:
    return str(screen.table.get_cell(ext, column))


def row(screen: MonitorScreen, ext: str) -> dict[str, str]:
    return {key: cell(screen, ext, key) for key in
            ("seller", "extension", "state", "caller", "customer", "duration", "today")}


def detail(screen: MonitorScreen) -> str:
    return "\n".join(str(screen.query_one(f"#{name}", Static).render()) for name in ("detail-title", "detail-calls"))


async def select(pilot: Pilot, screen: MonitorScreen, ext: str) -> None:
    screen.table.move_cursor(row=screen.table.get_row_index(ext))
    await pilot.pause()


async def test_lists_every_extension_with_its_state_and_seller(monitor) -> None:
    async with monitor() as (app, pilot, screen):
        assert app.screen.title == "Monitor de ramais"
        table = screen.table
        assert table.cursor_type == "row"
        assert [str(c.label) for c in table.columns.values()] == [
            "Vendedor", "Ramal", "Estado", "Chamador", "Cliente", "Duração", "Ligações hoje"]
        assert screen.visible_extensions == ["1001", "1002", "1003", "1009"]  # sorted by extension
        assert row(screen, "1002") == {"seller": "Vendedor 1002", "extension": "1002", "state": "● livre",
                                       "caller": "", "customer": "", "duration": "", "today": "0"}
        # the state's colour is the theme's $ext-idle, next to the glyph and the word
        state = table.get_cell("1001", "state")
        assert str(state.style).lower() == app.theme_variables["ext-idle"].lower()
        assert "● livre 4 · ◉ tocando 0 · ■ em ligação 0 · ❚❚ em espera 0 · ○ desconectado 0" in screen.counts_text()


async def test_a_ring_shows_the_caller_then_the_customer_in_place(monitor, rig: Rig) -> None:
    async with monitor() as (app, pilot, screen):
        table = screen.table
        rows_before, keys_before = table.row_count, list(table.rows)
        await rig.sim.ring("1001", ANA, ddr=JORNAL_DDR)
        await refreshed(rig, pilot, screen)
        assert cell(screen, "1001", "state") == "◉ tocando"
        assert str(table.get_cell("1001", "state").style).lower().endswith(app.theme_variables["ext-ringing"].lower())
        assert cell(screen, "1001", "caller") == "(51) 98765-4321"
        assert cell(screen, "1001", "customer") == "Ana Souza"  # from the screen pop
        assert cell(screen, "1001", "today") == "1"
        assert cell(screen, "1002", "state") == "● livre"  # the others untouched
        # updated in place: same rows, same keys, same order; only row 1001's cells were written
        assert table.row_count == rows_before and list(table.rows) == keys_before
        assert screen.visible_extensions == ["1001", "1002", "1003", "1009"]
        assert "◉ tocando 1" in screen.counts_text() and "● livre 3" in screen.counts_text()


async def test_answer_shows_in_call_and_the_duration_runs(monitor, rig: Rig) -> None:
    async with monitor() as (_app, pilot, screen):
        call_id = await rig.ring("1001", ANA, ddr=JORNAL_DDR)
        await rig.sim.answer("1001", call_id)
        await refreshed(rig, pilot, screen)
        assert cell(screen, "1001", "state") == "■ em ligação"
        assert cell(screen, "1001", "duration") == "00:00"
        await refreshed(rig, pilot, screen, seconds=65)
        assert cell(screen, "1001", "duration") == "01:05"
        assert "■ em ligação 1" in screen.counts_text() and "● livre 3" in screen.counts_text()
        # the detail panel of the selected extension
        await select(pilot, screen, "1001")
        text = detail(screen)
        assert "Ramal 1001 · Vendedor 1001" in text
        assert "↙ entrada" in text and "(51) 98765-4321" in text and "Ana Souza" in text
        assert "origem: Jornal" in text and "em conversa" in text and "01:05" in text
        # the call ends: the row goes back to idle, the count of calls today stays
        await rig.sim.remote_hangup(call_id)
        await refreshed(rig, pilot, screen)
        assert row(screen, "1001")["state"] == "● livre"
        assert row(screen, "1001")["caller"] == row(screen, "1001")["duration"] == ""
        assert row(screen, "1001")["today"] == "1"


async def test_changes_arrive_on_their_own(monitor, rig: Rig) -> None:
    """No flush: the screen's own interval applies the change (waits for a condition, not a time)."""
    async with monitor() as (_app, pilot, screen):
        await rig.ring("1002", ANA)
        for _ in range(200):
            if cell(screen, "1002", "state") == "◉ tocando":
                break
            await pilot.pause(0.02)
        assert cell(screen, "1002", "state") == "◉ tocando"


async def test_text_filter(monitor, rig: Rig) -> None:
    async with monitor() as (_app, pilot, screen):
        await rig.ring("1003", ANA, ddr=JORNAL_DDR)
        await refreshed(rig, pilot, screen)
        await pilot.press("slash")
        filter_input = screen.query_one("#monitor-filter", Input)
        assert screen.focused is filter_input
        await pilot.press(*"1002")  # an extension
        assert screen.visible_extensions == ["1002"]
        assert "mostrando 1 de 4" in screen.counts_text()
        filter_input.value = "vendedor 100"  # a seller's name, any case
        await pilot.pause()
        assert screen.visible_extensions == ["1001", "1002", "1003", "1009"]
        filter_input.value = "ana"  # the customer on the phone
        await pilot.pause()
        assert screen.visible_extensions == ["1003"]
        filter_input.value = "98765"  # the caller's number
        await pilot.pause()
        assert screen.visible_extensions == ["1003"]
        filter_input.value = "nobody"
        await pilot.pause()
        assert screen.visible_extensions == [] and screen.table.row_count == 0
        filter_input.value = ""
        await pilot.pause()
        assert screen.visible_extensions == ["1001", "1002", "1003", "1009"]  # back, in order
        await pilot.press("escape")
        assert screen.focused is screen.table


async def test_state_filter_follows_the_live_state(monitor, rig: Rig) -> None:
    async with monitor() as (_app, pilot, screen):
        state_select = screen.query_one("#monitor-state", Select)
        await pilot.press("e")  # all states → livre
        assert state_select.value is ExtensionState.IDLE
        assert screen.visible_extensions == ["1001", "1002", "1003", "1009"]
        await rig.ring("1002", ANA)
        await refreshed(rig, pilot, screen)
        assert screen.visible_extensions == ["1001", "1003", "1009"]  # 1002 rings: not idle any more
        state_select.value = ExtensionState.RINGING
        await pilot.pause()
        assert screen.visible_extensions == ["1002"]
        assert cell(screen, "1002", "state") == "◉ tocando"
        state_select.clear()
        await pilot.pause()
        assert screen.visible_extensions == ["1001", "1002", "1003", "1009"]


@pytest.mark.parametrize(("key", "mode", "said"), [
    ("o", Capability.LISTEN, "Ouvindo o ramal 1001"),
    ("s", Capability.WHISPER, "Sussurrando para o ramal 1001"),
    ("i", Capability.BARGE, "Intervindo no ramal 1001"),
])
async def test_listen_whisper_barge(monitor, rig: Rig, key: str, mode: Capability, said: str) -> None:
    async with monitor() as (app, pilot, screen):
        call_id = await rig.ring("1001", ANA)
        await rig.sim.answer("1001", call_id)
        await refreshed(rig, pilot, screen)
        await select(pilot, screen, "1001")
        name = {Capability.LISTEN: "listen", Capability.WHISPER: "whisper", Capability.BARGE: "barge"}[mode]
        assert not screen.query_one(f"#monitor-{name}", Button).disabled
        await pilot.press(key)
        await refreshed(rig, pilot, screen)
        # the supervisor's extension 1009 now has the monitoring call, in that mode
        supervisor_calls = app.model.calls_of("1009")
        assert len(supervisor_calls) == 1
        watching = rig.sim.call(supervisor_calls[0].call_id)
        assert watching is not None and watching.monitor_mode is mode
        assert cell(screen, "1009", "state") == "■ em ligação"
        assert any(said in str(n.message) for n in app._notifications)


async def test_monitor_buttons_are_disabled_with_a_reason(monitor, rig: Rig) -> None:
    async with monitor() as (app, pilot, screen):
        await select(pilot, screen, "1002")  # idle
        for name in ("listen", "whisper", "barge"):
            button = screen.query_one(f"#monitor-{name}", Button)
            assert button.disabled and button.tooltip == "O ramal 1002 não está em ligação"
        await pilot.press("o")  # the key explains instead of doing nothing
        await pilot.pause()
        assert any("O ramal 1002 não está em ligação" in str(n.message) for n in app._notifications)
        assert app.model.calls_of("1009") == []
        await rig.ring("1002", ANA)  # ringing is not enough: nothing to listen to yet
        await refreshed(rig, pilot, screen)
        assert screen.query_one("#monitor-listen", Button).tooltip == \
            "A ligação do ramal 1002 ainda não foi atendida"
        await select(pilot, screen, "1009")
        assert screen.query_one("#monitor-barge", Button).tooltip == "É o seu próprio ramal"
        # a PBX without the capability
        rig.gateway.driver.capabilities = frozenset({Capability.LISTEN})
        try:
            assert screen.why_not(Capability.BARGE, "1002") == "A central não permite intervir em ligações"
        finally:
            del rig.gateway.driver.capabilities


async def test_j_and_k_move_the_selection(monitor) -> None:
    async with monitor() as (_app, pilot, screen):
        assert screen.selected_extension == "1001"
        await pilot.press("j", "j")
        assert screen.selected_extension == "1003"
        assert "Ramal 1003" in detail(screen)
        await pilot.press("k")
        assert screen.selected_extension == "1002"
        await pilot.press("G")
        assert screen.selected_extension == "1009"
        await pilot.press("g")
        assert screen.selected_extension == "1001"
        ids = {b.id for b in screen.BINDINGS if hasattr(b, "id")}
        assert {"monitor.filter", "monitor.listen", "monitor.whisper", "monitor.barge",
                "monitor.down", "monitor.up"} <= ids


async def test_a_flood_of_changes_is_applied_once_per_row(monitor, rig: Rig) -> None:
    """Thousands of model changes between two ticks: one tick applies the last state of each row,
    writing each changed cell once (no timing asserted)."""
    async with monitor() as (app, pilot, screen):
        screen._apply_timer.pause()  # the test decides when the tick happens
        model = app.model
        now = rig.clock.now()
        extensions = ["1001", "1002", "1003"]
        states = [ExtensionState.RINGING, ExtensionState.IN_CALL, ExtensionState.ON_HOLD, ExtensionState.IDLE]
        for i in range(3000):
            for ext in extensions:
                model.apply(PbxUpdate(ExtensionStateChanged(at=now, extension=ext, state=states[i % 4])))
        model.apply(PbxUpdate(ExtensionStateChanged(at=now, extension="1002", state=ExtensionState.ON_HOLD)))
        model.apply(PbxUpdate(CallRinging(at=now, extension="1003", call_id="flood-1", number=ANA,
                                          direction=Direction.INBOUND)))
        model.apply(PbxUpdate(CallAnswered(at=now - timedelta(seconds=7), extension="1003", call_id="flood-1",
                                           number=ANA, direction=Direction.INBOUND)))
        ticks, cells = screen.stats.ticks, screen.stats.cell_updates
        assert screen.apply_changes() == 3  # three rows looked at, once each
        assert screen.stats.ticks == ticks + 1
        assert cell(screen, "1001", "state") == "● livre"  # 3000 % 4 == 0 → the last one is IDLE
        assert cell(screen, "1002", "state") == "❚❚ em espera"
        assert cell(screen, "1003", "caller") == "(51) 98765-4321"
        # 1001 ended where it started: nothing written; 1002: the state; 1003: caller, duration, today
        assert screen.stats.per_row_updates == {"1002": 1, "1003": 3}
        assert screen.stats.cell_updates == cells + 4
        assert screen.apply_changes() == 0  # nothing left for the next tick
        assert screen.table.row_count == 4


def screen_lines(app: CaaApp) -> list[str]:
    """The screen as a person sees it, line by line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def line_of(app: CaaApp, start: str) -> str:
    """The screen line that starts with `start` (a table row starts with its seller)."""
    return next((line for line in screen_lines(app) if line.strip().startswith(start)), "")


async def test_what_is_on_screen_changes_in_place(monitor, rig: Rig) -> None:
    """The table repaints only the rows that changed; what is drawn must still be current."""
    async with monitor() as (app, pilot, screen):
        assert "● livre" in line_of(app, "Vendedor 1001")
        call_id = await rig.ring("1001", ANA, ddr=JORNAL_DDR)
        await refreshed(rig, pilot, screen)
        row_1001 = line_of(app, "Vendedor 1001")
        assert "◉ tocando" in row_1001 and "(51) 98765-4321" in row_1001 and "Ana Souza" in row_1001
        assert "● livre" in line_of(app, "Vendedor 1002")
        await rig.sim.answer("1001", call_id)
        await refreshed(rig, pilot, screen, seconds=3)
        row_1001 = line_of(app, "Vendedor 1001")
        assert "■ em ligação" in row_1001 and "00:03" in row_1001
        assert "◉ tocando 0" in line_of(app, "Monitor de ramais")
        assert "■ em ligação 1" in line_of(app, "Monitor de ramais")


async def test_an_extension_gone_after_a_resync_leaves_the_table(monitor, rig: Rig) -> None:
    async with monitor() as (app, pilot, screen):
        snapshot = rig.gateway._snapshot_for(None)
        del snapshot.pbx.extensions["1003"]  # the PBX no longer has it
        app.model.apply(snapshot)
        app.console_changed.publish({"link", "extensions", "calls", "pop"})
        await pilot.pause()
        screen.apply_changes()
        assert screen.visible_extensions == ["1001", "1002", "1009"]


async def test_in_english(monitor, rig: Rig) -> None:
    i18n.set_language("en")
    async with monitor() as (app, pilot, screen):
        assert [str(c.label) for c in screen.table.columns.values()] == [
            "Seller", "Ext.", "State", "Caller", "Customer", "Duration", "Calls today"]
        await rig.ring("1002", ANA)
        await refreshed(rig, pilot, screen)
        assert cell(screen, "1002", "state") == "◉ ringing"
        assert "● idle 3 · ◉ ringing 1" in screen.counts_text()
        await select(pilot, screen, "1002")
        assert screen.query_one("#monitor-listen", Button).tooltip == \
            "The call on extension 1002 has not been answered yet"


# ---- the table alone: bulk removal and in-place cell updates on many rows


class TableApp(App[None]):
    def compose(self):  # type: ignore[no-untyped-def]
        yield ExtensionTable(cursor_type="row")


async def test_extension_table_bulk_updates_and_removals() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 30)) as pilot:
        table = app.query_one(ExtensionTable)
        table.add_column("ext", key="ext", width=6)
        table.add_column("state", key="state", width=10)
        for n in range(300):
            table.add_row(Text(str(1000 + n)), Text("idle"), key=str(1000 + n))
        table.move_cursor(row=10)
        await pilot.pause()
        table.set_row_cells({"1003": {"state": Text("busy")}, "1250": {"state": Text("ringing")}})
        await pilot.pause()
        assert str(table.get_cell("1003", "state")) == "busy"
        assert str(table.get_cell("1250", "state")) == "ringing"
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        assert any("1003" in line and "busy" in line for line in lines)  # repainted, not a stale cache
        assert any("1004" in line and "idle" in line for line in lines)
        gone = [str(1000 + n) for n in range(300) if n % 3 and n != 10]  # keeps 1000, 1003, … and the cursor's
        table.remove_rows(gone)
        await pilot.pause()
        kept = [str(1000 + n) for n in range(300) if not n % 3 or n == 10]
        assert [str(row.key.value) for row in table.ordered_rows] == kept
        assert all(table.get_row_index(key) == index for index, key in enumerate(kept))
        assert str(table.get_cell("1003", "state")) == "busy"
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        assert "1003" in lines[2] and "busy" in lines[2]  # header, 1000, then 1003
        with pytest.raises(ValueError):
            table.add_row(Text("x"), Text("y"), key="tall", height=2)
