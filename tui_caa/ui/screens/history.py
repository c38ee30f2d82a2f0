"""Histórico de Ligações: the extension's calls, newest first, paged from the CRM store.

`HistoryView` is a widget the agent screen mounts in a tab (`HistoryView(id="history")`) and
asks to `refresh_history()` when the tab is shown. It also reloads itself (at most about once a
second) when one of the agent's calls ends.

Rows are never all in memory: pages of `PAGE_SIZE` calls are loaded with the store's keyset
cursor, the next one when the cursor reaches the last row (or on "Carregar mais"), and at most
`MAX_ROWS` rows are kept: going further drops the rows at the other end, which come back (from the
cursor that started them) when the cursor returns there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Checkbox, DataTable, Label, Select, Static

from tui_caa.domain import CallRecord, Direction, Disposition, HistoryCursor, HistoryFilter, HistoryPage, HistoryRow
from tui_caa.domain.errors import DomainError
from tui_caa.domain.telephony import Capability
from tui_caa.phones import InvalidPhoneNumber, NumberKind, display, normalize
from tui_caa.ui import labels
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.screens.prompts import MenuScreen, PromptScreen

T = Catalog({
    "title": ("Histórico de Ligações", "Call history"),
    # filters
    "missed_only": ("Somente não atendidas", "Missed calls only"),
    "direction": ("Sentido", "Direction"),
    "period": ("Período", "Period"),
    "all_directions": ("todas", "all"),
    "today": ("hoje", "today"),
    "7d": ("últimos 7 dias", "last 7 days"),
    "30d": ("últimos 30 dias", "last 30 days"),
    "all": ("tudo", "everything"),
    # columns
    "col_when": ("Data/hora", "Date/time"),
    "col_direction": ("Sentido", "Direction"),
    "col_number": ("Número", "Number"),
    "col_customer": ("Cliente", "Customer"),
    "col_contact": ("Contato nº", "Contact no."),
    "col_duration": ("Duração", "Duration"),
    "col_state": ("Situação", "Outcome"),
    "anonymous": ("anônimo", "anonymous"),
    "no_number": ("sem número", "no number"),
    # status line
    "loading": ("Carregando o histórico…", "Loading the history…"),
    "empty": ("Nenhuma ligação neste ramal.", "No calls on this extension."),
    "empty_filtered": ("Nenhuma ligação com estes filtros. Mude os filtros acima para ver outras.",
                       "No calls match these filters. Change the filters above to see others."),
    "shown": ("{count} ligações carregadas", "{count} calls loaded"),
    "shown_one": ("1 ligação carregada", "1 call loaded"),
    "shown_from": ("ligações {first}–{last}", "calls {first}–{last}"),
    "more_below": ("no fim da lista carrega mais (l)", "the end of the list loads more (l)"),
    "end": ("fim do histórico", "end of the history"),
    "newer_above": ("no topo carrega as mais recentes", "the top loads newer ones"),
    "new_calls": ("há ligações novas: r atualiza", "there are new calls: r refreshes"),
    "load_failed": ("Não foi possível carregar o histórico: {reason}", "Could not load the history: {reason}"),
    # keys
    "menu": ("Menu", "Menu"),
    "more": ("Carregar mais", "Load more"),
    "missed_key": ("Não atendidas", "Missed only"),
    "direction_key": ("Sentido", "Direction"),
    "period_key": ("Período", "Period"),
    "reload": ("Atualizar", "Refresh"),
    "open": ("Abrir contato", "Open contact"),
    "down": ("Descer", "Down"),
    "up": ("Subir", "Up"),
    "top": ("Início", "Top"),
    "bottom": ("Fim", "Bottom"),
    # menus
    "menu_title": ("Ligação de {when} — {number}", "Call of {when} — {number}"),
    "call_back": ("Chamar este número", "Call this number"),
    "find": ("Localizar cliente", "Find customer"),
    "play": ("Reproduzir gravação", "Play recording"),
    "why_anonymous": ("número anônimo", "anonymous number"),
    "why_no_number": ("ligação sem número", "the call has no number"),
    "why_invalid": ("número inválido", "invalid number"),
    "why_no_recording": ("ligação sem gravação", "the call has no recording"),
    "why_no_pbx_support": ("a central não permite", "the PBX does not support it"),
    "unavailable": ("{action} — indisponível: {why}", "{action} — unavailable: {why}"),
    "no_customer_title": ("Ligação sem cliente — {number}", "Call without a customer — {number}"),
    "no_customer_hint": ("Localizar cliente (para abrir um contato)", "Find customer (to open a contact)"),
    "play_title": ("Em qual telefone tocar a gravação? (ramal ou número)",
                   "Which phone should ring to play the recording? (extension or number)"),
    "play_empty": ("Informe um ramal ou número", "Type an extension or a number"),
    "playing": ("A central vai ligar para {number} e reproduzir a gravação ao atender",
                "The PBX will call {number} and play the recording on answer"),
    "no_row": ("Nenhuma ligação selecionada", "No call selected"),
})

PAGE_SIZE = 50
MAX_ROWS = 200  # four pages: more than that and the rows at the other end are dropped

DIRECTIONS: tuple[str, ...] = ("all", Direction.INBOUND.value, Direction.OUTBOUND.value, Direction.INTERNAL.value)
PERIODS: tuple[str, ...] = ("today", "7d", "30d", "all")
PERIOD_DAYS = {"today": 0, "7d": 6, "30d": 29}  # days before today, counting today as the first

MISSED_GLYPH = "✖"
STATE_GLYPHS = {Disposition.ANSWERED: "✔", Disposition.TRANSFERRED: "⇢", Disposition.ANSWERED_ELSEWHERE: "↷"}

COLUMNS = (
    ("when", "col_when"),
    ("direction", "col_direction"),
    ("number", "col_number"),
    ("customer", "col_customer"),
    ("contact", "col_contact"),
    ("duration", "col_duration"),
    ("state", "col_state"),
)


def local_now() -> datetime:
    """Now, in the console's local timezone (when the app has no clock of its own)."""
    return datetime.now().astimezone()


def period_start(period: str, now: datetime) -> datetime | None:
    """Midnight (local) of the first day of the period: "today", "7d" and "30d" count today."""
    days = PERIOD_DAYS.get(period)
    if days is None:
        return None
    return datetime.combine(now.date() - timedelta(days=days), time(0), tzinfo=now.tzinfo)


def number_kind(raw: str) -> NumberKind | None:
    """PHONE, ANONYMOUS or EXTENSION; None when it is no number at all."""
    try:
        return normalize(raw).kind
    except InvalidPhoneNumber:
        return None


def number_text(call: CallRecord) -> str:
    """The remote number as a person reads it: (51) 98765-4321, a raw extension, "anônimo"."""
    if call.remote_e164:
        return display(call.remote_e164)
    raw = call.remote_raw.strip()
    if not raw:
        return T("no_number")
    if number_kind(raw) is NumberKind.ANONYMOUS:
        return T("anonymous")
    return raw


def why_not_dialable(call: CallRecord) -> str | None:
    raw = call.remote_raw.strip()
    if not raw and not call.remote_e164:
        return T("why_no_number")
    if call.remote_e164:
        return None
    kind = number_kind(raw)
    if kind is NumberKind.ANONYMOUS:
        return T("why_anonymous")
    if kind is None:
        return T("why_invalid")
    return None


def dialable_number(call: CallRecord) -> str:
    return call.remote_e164 or call.remote_raw.strip()


@dataclass
class _Chunk:
    """Consecutive rows as one query returned them; `start` is the cursor they were loaded after."""

    start: HistoryCursor | None
    page: HistoryPage

    def __len__(self) -> int:
        return len(self.page.rows)


class HistoryTable(DataTable):
    """The rows. A click moves the cursor, a double click opens the call (as Enter does: one click
    never opens a screen by surprise), a right click moves the cursor and asks for the menu."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", T("open"), id="history.open", tooltip=T("open")),
        Binding("j", "cursor_down", T("down"), show=False, id="history.down"),
        Binding("k", "cursor_up", T("up"), show=False, id="history.up"),
        Binding("g", "scroll_top", T("top"), show=False, id="history.top"),
        Binding("G", "scroll_bottom", T("bottom"), show=False, id="history.bottom"),
    ]

    class MenuRequested(Message):
        """The context menu of the row under the cursor was asked for with the mouse."""

    async def _on_click(self, event: events.Click) -> None:
        row = event.style.meta.get("row")
        if row is None or row < 0 or row >= self.row_count or event.style.meta.get("column", 0) < 0:
            return  # the header and what is not a row: DataTable's own handler
        event.prevent_default()
        event.stop()
        self.move_cursor(row=row)
        if event.button == 3:
            self.post_message(self.MenuRequested())
        elif event.button == 1 and event.chain == 2:
            self.action_select_cursor()


class HistoryView(Widget):
    DEFAULT_CSS = Path(__file__).with_name("history.tcss").read_text(encoding="utf-8")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m,shift+f10", "menu", T("menu"), id="history.menu", tooltip=T("menu")),
        Binding("l", "more", T("more"), id="history.more", tooltip=T("more")),
        Binding("n", "toggle_missed", T("missed_key"), id="history.missed_only", tooltip=T("missed_only")),
        Binding("s", "next_direction", T("direction_key"), id="history.direction", tooltip=T("direction")),
        Binding("p", "next_period", T("period_key"), id="history.period", tooltip=T("period")),
        Binding("r", "reload", T("reload"), id="history.reload", tooltip=T("reload")),
    ]

    #: after the gateway says calls of this extension reached the CRM, wait this long before reloading,
    #: so that a burst of calls ending together costs one query; also the shortest time between two
    RELOAD_DELAY: ClassVar[float] = 0.3

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._now = now
        self._filters = HistoryFilter()
        self._chunks: list[_Chunk] = []
        self._first_chunk = 0  # how many chunks before the first one kept were dropped
        self._rows_before = 0  # how many rows they held
        self._starts: list[HistoryCursor | None] = [None]  # cursor of every chunk loaded so far
        self._rows: dict[str, HistoryRow] = {}
        self._generation = 0  # a reload makes the answers of older queries stale
        self._loading = False
        self._error: str | None = None
        self._stale = False  # calls ended while the agent was far down the history
        self._reload_timer: Timer | None = None

    # ================================================================ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="history-filters"):
            yield Checkbox(T("missed_only"), id="missed-only")
            yield Label(T("direction"))
            yield Select(self._direction_options(), value="all", allow_blank=False, id="direction")
            yield Label(T("period"))
            yield Select([(T(p), p) for p in PERIODS], value="all", allow_blank=False, id="period")
        yield Static(T("loading"), id="history-status")
        table = HistoryTable(cursor_type="row", zebra_stripes=True, id="history-table")
        for key, label in COLUMNS:
            table.add_column(T(label), key=key)
        yield table

    @staticmethod
    def _direction_options() -> list[tuple[str, str]]:
        return [(T("all_directions"), "all")] + [(labels.direction(Direction(d)), d) for d in DIRECTIONS[1:]]

    def on_mount(self) -> None:
        changed = getattr(self.app, "console_changed", None)
        if changed is not None:
            changed.subscribe(self, self._console_changed)
        self.watch(self.app, "theme", self._theme_changed, init=False)
        self._load_first()

    @property
    def table(self) -> HistoryTable:
        return self.query_one("#history-table", HistoryTable)

    # ================================================================ public

    def refresh_history(self) -> None:
        """Reloads from the first page with the current filters (the agent screen calls this when
        the tab is shown)."""
        if not self.is_mounted:
            return  # on_mount loads it
        self._stale = False
        self._load_first()

    def current_row(self) -> HistoryRow | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._rows.get(key) if key is not None else None

    @property
    def filters(self) -> HistoryFilter:
        return self._filters

    @property
    def loaded_rows(self) -> int:
        return sum(len(c) for c in self._chunks)

    # ================================================================ loading

    def _filters_from_widgets(self) -> HistoryFilter:
        direction = self.query_one("#direction", Select).value
        period = self.query_one("#period", Select).value
        now = self._local_now()
        return HistoryFilter(
            missed_only=self.query_one("#missed-only", Checkbox).value,
            direction=None if direction in ("all", Select.NULL) else Direction(str(direction)),
            since=period_start(str(period), now),
        )

    def _local_now(self) -> datetime:
        """Now in the local timezone, from the app's clock when it has one (virtual in tests)."""
        if self._now is not None:
            return self._now()
        clock = getattr(self.app, "clock", None)
        return clock.now().astimezone() if clock is not None else local_now()

    def _load_first(self, *, limit: int = PAGE_SIZE, keep_key: str | None = None) -> None:
        self._filters = self._filters_from_widgets()
        self._generation += 1
        generation = self._generation
        self._loading = True
        self._show_status()
        filters = self._filters

        async def load() -> None:
            page = await self._fetch(filters, None, limit, generation)
            if page is None:
                return
            self._chunks = [_Chunk(None, page)]
            self._first_chunk = self._rows_before = 0
            self._starts = [None, page.next_cursor] if page.next_cursor else [None]
            self._rebuild(keep_key=keep_key)

        self.run_worker(load(), group="history", exclusive=True, exit_on_error=False,
                        description="history: first page")

    def _load_next(self) -> None:
        if self._loading or not self._chunks or self._chunks[-1].page.next_cursor is None:
            return
        after = self._chunks[-1].page.next_cursor
        index = self._first_chunk + len(self._chunks)
        self._load_chunk(after, index, at_end=True)

    def _load_previous(self) -> None:
        if self._loading or self._first_chunk == 0:
            return
        index = self._first_chunk - 1
        self._load_chunk(self._starts[index], index, at_end=False)

    def _load_chunk(self, after: HistoryCursor | None, index: int, *, at_end: bool) -> None:
        generation = self._generation
        self._loading = True
        self._show_status()
        filters = self._filters

        async def load() -> None:
            page = await self._fetch(filters, after, PAGE_SIZE, generation)
            if page is None:
                return
            chunk = _Chunk(after, page)
            if len(self._starts) <= index + 1 and page.next_cursor is not None:
                self._starts.append(page.next_cursor)
            if at_end:
                self._chunks.append(chunk)
                dropped = self._trim(from_start=True)
                if dropped:
                    self._rebuild(keep_key=self._cursor_key())
                else:
                    self._append_rows(page.rows)
            else:
                self._chunks.insert(0, chunk)
                self._first_chunk -= 1
                self._rows_before = max(0, self._rows_before - len(page.rows))
                self._trim(from_start=False)
                self._rebuild(keep_key=self._cursor_key())

        self.run_worker(load(), group="history-page", exclusive=True, exit_on_error=False,
                        description="history: next page" if at_end else "history: previous page")

    async def _fetch(self, filters: HistoryFilter, after: HistoryCursor | None, limit: int,
                     generation: int) -> HistoryPage | None:
        """One query; None when it failed (the reason is shown) or a newer reload made it stale."""
        try:
            page = await self.app.session.call_history(filters, after=after, limit=limit)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - any failure is shown as a sentence, never a traceback
            if generation == self._generation:
                self._loading = False
                self._error = _reason(exc)
                self._show_status()
            return None
        if generation != self._generation:
            return None
        self._loading = False
        self._error = None
        return page

    def _trim(self, *, from_start: bool) -> bool:
        """Keeps at most MAX_ROWS rows, dropping whole chunks at one end; True when some went."""
        dropped = False
        while len(self._chunks) > 1 and self.loaded_rows > MAX_ROWS:
            if from_start:
                self._rows_before += len(self._chunks.pop(0).page.rows)
                self._first_chunk += 1
            else:
                self._chunks.pop()
            dropped = True
        return dropped

    # ================================================================ the table

    def _cursor_key(self) -> str | None:
        row = self.current_row()
        return row.call.pbx_call_id if row else None

    def _rebuild(self, *, keep_key: str | None = None) -> None:
        table = self.table
        with self.app.batch_update():
            table.clear()
            self._rows = {}
            for chunk in self._chunks:
                self._add_rows(table, chunk.page.rows)
            if keep_key is not None and keep_key in self._rows:
                table.move_cursor(row=table.get_row_index(keep_key), animate=False)
        self._show_status()

    def _append_rows(self, rows: tuple[HistoryRow, ...]) -> None:
        self._add_rows(self.table, rows)
        self._show_status()

    def _add_rows(self, table: DataTable, rows: tuple[HistoryRow, ...]) -> None:
        for row in rows:
            key = row.call.pbx_call_id
            if key in self._rows:
                continue  # the same call in two overlapping answers
            self._rows[key] = row
            table.add_row(*self._cells(row), key=key)

    def _cells(self, row: HistoryRow) -> list[Text]:
        call = row.call
        contact = row.contact_id or call.contact_id
        when = call.started_at.astimezone().strftime("%d/%m %H:%M")
        duration = "—" if call.missed or not call.talk_seconds else labels.duration(call.talk_seconds)
        return [
            Text(when),
            Text(labels.direction(call.direction)),
            Text(number_text(call)),
            Text(row.customer_name or "—"),
            Text(str(contact) if contact else "—"),
            Text(duration, justify="right"),
            self._state_cell(call),
        ]

    def _state_cell(self, call: CallRecord) -> Text:
        word = labels.disposition(call.disposition)
        if call.missed:
            colour = self.app.theme_variables.get("error") or "red"
            return Text(f"{MISSED_GLYPH} {word}", style=Style(color=colour, bold=True))
        glyph = STATE_GLYPHS.get(call.disposition, "•")
        return Text(f"{glyph} {word}")

    def _theme_changed(self) -> None:
        if self._rows:
            self._rebuild(keep_key=self._cursor_key())

    def _show_status(self) -> None:
        status = self.query_one("#history-status", Static)
        status.set_class(self._error is not None, "-error")
        empty = not self._loading and self._error is None and not self._rows
        status.set_class(empty, "-empty")
        if self._error is not None:
            status.update(T("load_failed", reason=self._error))
            return
        if self._loading and not self._rows:
            status.update(T("loading"))
            return
        if empty:
            filtered = self._filters != HistoryFilter()
            status.update(T("empty_filtered") if filtered else T("empty"))
            return
        count = self.loaded_rows
        if self._first_chunk:
            first = self._rows_before + 1
            parts = [T("shown_from", first=first, last=first + count - 1), T("newer_above")]
        else:
            parts = [T("shown_one") if count == 1 else T("shown", count=count)]
        more = bool(self._chunks) and self._chunks[-1].page.next_cursor is not None
        parts.append(T("more_below") if more else T("end"))
        if self._stale:
            parts.append(T("new_calls"))
        if self._loading:
            parts.append(T("loading"))
        status.update(" · ".join(parts))

    # ================================================================ events

    @on(DataTable.RowHighlighted, "#history-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        table = self.table
        if event.cursor_row != table.cursor_row:
            return  # stale: the table was rebuilt since
        if table.cursor_row >= table.row_count - 1:
            self._load_next()
        elif table.cursor_row == 0 and self._first_chunk:
            self._load_previous()

    @on(DataTable.RowSelected, "#history-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.open_row()

    @on(HistoryTable.MenuRequested)
    def _menu_requested(self, event: HistoryTable.MenuRequested) -> None:
        event.stop()
        self.action_menu()

    @on(Checkbox.Changed, "#missed-only")
    @on(Select.Changed, "#direction")
    @on(Select.Changed, "#period")
    def _filter_changed(self, event: Message) -> None:
        event.stop()
        if self.is_mounted and self._filters_from_widgets() != self._filters:
            self.refresh_history()

    def _console_changed(self, changes: set[str]) -> None:
        if "history" in changes:  # only once the records are in the CRM: a reload before would miss them
            self._schedule_reload()

    def _schedule_reload(self) -> None:
        if self._reload_timer is not None:
            return  # one reload already waits: it will see this call too
        self._reload_timer = self.set_timer(self.RELOAD_DELAY, self._auto_reload, name="history reload")

    def _auto_reload(self) -> None:
        self._reload_timer = None
        if self._first_chunk:
            # the agent is far down the history: do not pull the rows away; say there is news
            self._stale = True
            self._show_status()
            return
        # the newest calls again, as many as were shown (the cursor stays on its call)
        limit = min(max(PAGE_SIZE, self.loaded_rows), MAX_ROWS)
        self._load_first(limit=limit, keep_key=self._cursor_key())

    # ================================================================ actions

    def action_reload(self) -> None:
        self.refresh_history()

    def action_more(self) -> None:
        self._load_next()

    def action_toggle_missed(self) -> None:
        self.query_one("#missed-only", Checkbox).toggle()

    def action_next_direction(self) -> None:
        self._cycle("#direction", DIRECTIONS)

    def action_next_period(self) -> None:
        self._cycle("#period", PERIODS)

    def _cycle(self, selector: str, values: tuple[str, ...]) -> None:
        select = self.query_one(selector, Select)
        current = str(select.value)
        select.value = values[(values.index(current) + 1) % len(values)] if current in values else values[0]

    def open_row(self) -> None:
        """Enter / double click: the call's contact, or a new contact for it."""
        row = self.current_row()
        if row is None:
            return
        call = row.call
        app = self.app
        contact = row.contact_id or call.contact_id
        if call.customer_id is not None:
            tab = "lifecycle" if contact else "register"
            app.open_customer(call.customer_id, call_id=call.pbx_call_id, tab=tab)  # type: ignore[attr-defined]
            return
        number = number_text(call)

        def picked(choice: str | None) -> None:
            if choice == "find":
                self._find_customer(row)

        app.push_screen(MenuScreen(T("no_customer_title", number=number), [("find", T("no_customer_hint"))]),
                        picked)

    def action_menu(self) -> None:
        row = self.current_row()
        if row is None:
            self.notify(T("no_row"), severity="warning")
            return
        call = row.call
        entries: list[tuple[str, str]] = []
        disabled: list[str] = []

        def entry(key: str, label: str, why: str | None) -> None:
            entries.append((key, T("unavailable", action=label, why=why) if why else label))
            if why:
                disabled.append(key)

        entry("call", T("call_back"), why_not_dialable(call))
        entry("find", T("find"), None)
        entry("play", T("play"), self._why_no_playback(call))
        when = call.started_at.astimezone().strftime("%d/%m %H:%M")
        title = T("menu_title", when=when, number=number_text(call))

        def picked(choice: str | None) -> None:
            if choice == "call":
                self.app.dial(dialable_number(call))  # type: ignore[attr-defined]
            elif choice == "find":
                self._find_customer(row)
            elif choice == "play":
                self._ask_playback(call)

        self.app.push_screen(MenuScreen(title, entries, disabled=disabled), picked)

    def _why_no_playback(self, call: CallRecord) -> str | None:
        if not call.recording_ref:
            return T("why_no_recording")
        try:
            capabilities = self.app.session.capabilities()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a session that cannot say: let the gateway answer
            return None
        if Capability.PLAY_RECORDING not in capabilities:
            return T("why_no_pbx_support")
        return None

    def _find_customer(self, row: HistoryRow) -> None:
        call = row.call
        query = row.customer_name or (display(call.remote_e164) if call.remote_e164 else "")
        if not query and number_kind(call.remote_raw) is not NumberKind.ANONYMOUS:
            query = call.remote_raw.strip()
        self.app.action_find_customer(query)  # type: ignore[attr-defined]

    def _ask_playback(self, call: CallRecord) -> None:
        own = self.app.session.principal.extension or ""  # type: ignore[attr-defined]

        def check(value: str) -> str | None:
            return None if value.strip() else T("play_empty")

        def answered(number: str | None) -> None:
            if not number:
                return
            session = self.app.session  # type: ignore[attr-defined]
            self.app.run_command(  # type: ignore[attr-defined]
                lambda: session.play_recording(call.pbx_call_id, number),
                done=lambda _: self.app.notify(T("playing", number=number)),
            )

        self.app.push_screen(PromptScreen(T("play_title"), value=own, check=check), answered)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        return str(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
