"""The supervisor's monitor: every extension live, its current call, and listen / whisper / barge.

How it stays fast with 1,000 extensions changing hundreds of times per second:
- the table is keyed (row key = extension, column keys below) and is never cleared; a cell is
  updated only when what it shows changed (`_shown` keeps the last plain values per row);
- the model marks changed extensions dirty; the screen takes them on one short interval
  (`APPLY_SECONDS`), so any number of changes to one extension between two ticks cost at most
  one update per row per tick, all inside one `batch_update()`;
- call durations tick from one one-second timer for the whole screen, on the rows with calls;
- filters add and remove rows; nothing is rebuilt.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, DataTable, Footer, Input, Label, Select, Static
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from tui_caa.domain import ExtensionState
from tui_caa.phone_rules import CallerIdRules
from tui_caa.ui import labels
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.model import CallView, ConsoleModel
from tui_caa.ui.screens.monitor_detail import MONITOR_MODES, MonitorDetail
from tui_caa.ui.screens.monitor_detail import T as DETAIL  # the listen / whisper / barge tips
from tui_caa.ui.screens.monitor_rows import (
    MonitorStats,
    RowValues,
    current_call,
    customer_of,
    extension_sort_key,
)
from tui_caa.ui.widgets.extension_table import ExtensionTable

T = Catalog({
    "title": ("Monitor de ramais", "Extension monitor"),
    "seller": ("Vendedor", "Seller"),
    "extension": ("Ramal", "Ext."),
    "state": ("Estado", "State"),
    "caller": ("Chamador", "Caller"),
    "customer": ("Cliente", "Customer"),
    "duration": ("Duração", "Duration"),
    "today": ("Ligações hoje", "Calls today"),
    "filter": ("Filtrar", "Filter"),
    "filter_placeholder": ("Filtrar por vendedor, ramal, número ou cliente  ( / )",
                           "Filter by seller, extension, number or customer  ( / )"),
    "all_states": ("Todos os estados", "All states"),
    "state_filter": ("Estado", "State"),
    "showing": ("mostrando {shown} de {total}", "showing {shown} of {total}"),
    "listen": ("Ouvir", "Listen"),
    "whisper": ("Sussurrar", "Whisper"),
    "barge": ("Intervir", "Barge in"),
    "down": ("Próximo", "Next"),
    "up": ("Anterior", "Previous"),
    "first": ("Primeiro", "First"),
    "last": ("Último", "Last"),
    "back": ("Voltar à tabela", "Back to the table"),
})

#: how often queued changes reach the table (coalescing window)
APPLY_SECONDS = 0.15
#: how often call durations advance
DURATION_SECONDS = 1.0

COLUMNS: tuple[tuple[str, str, int], ...] = (  # key, catalog key, width (fixed: updates never re-measure)
    ("seller", "seller", 18),
    ("extension", "extension", 6),
    ("state", "state", 15),
    ("caller", "caller", 16),
    ("customer", "customer", 20),
    ("duration", "duration", 8),
    ("today", "today", 13),
)
#: the order of the header counts (the states that are always shown first)
COUNT_ORDER = (ExtensionState.IDLE, ExtensionState.RINGING, ExtensionState.DIALING, ExtensionState.IN_CALL,
               ExtensionState.ON_HOLD, ExtensionState.DND, ExtensionState.OFFLINE, ExtensionState.UNKNOWN)
ALWAYS_COUNTED = frozenset({ExtensionState.IDLE, ExtensionState.RINGING, ExtensionState.IN_CALL,
                            ExtensionState.ON_HOLD, ExtensionState.OFFLINE})
KEEP = object()  # set_filter(): leave this filter as it is



class MonitorScreen(MonitorDetail, Screen[None]):
    """Live extension table with counts, filters, a detail panel and listen / whisper / barge."""

    CSS_PATH = "monitor.tcss"
    TITLE = T("title")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", T("filter"), id="monitor.filter", tooltip=T("filter_placeholder")),
        Binding("e", "cycle_state", T("state_filter"), id="monitor.state_filter"),
        Binding("o", "listen", T("listen"), id="monitor.listen", tooltip=DETAIL("listen_tip")),
        Binding("s", "whisper", T("whisper"), id="monitor.whisper", tooltip=DETAIL("whisper_tip")),
        Binding("i", "barge", T("barge"), id="monitor.barge", tooltip=DETAIL("barge_tip")),
        Binding("j", "cursor_down", T("down"), id="monitor.down", show=False),
        Binding("k", "cursor_up", T("up"), id="monitor.up", show=False),
        Binding("g", "cursor_first", T("first"), id="monitor.first", show=False),
        Binding("G", "cursor_last", T("last"), id="monitor.last", show=False),
        Binding("escape", "back_to_table", T("back"), id="monitor.back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.stats = MonitorStats()
        self._shown: dict[str, RowValues] = {}  # rows in the table, by extension
        self._pending: dict[str, dict[str, Text]] = {}  # changed cells of this tick, by extension
        self._values: dict[str, RowValues] = {}  # every extension's latest values (shown or filtered out)
        self._sellers: dict[str, str] = {}
        self._timed: set[str] = set()  # extensions with a call: their duration ticks
        self._query = ""
        self._state_filter: ExtensionState | None = None
        self._pops_changed = False
        self._resynced = False
        self._pops_seen: dict[str, object] = {}
        self._needs_sort = False
        self._max_key: tuple[int, int, str] | None = None  # the greatest extension added since the last sort
        self._apply_timer: Timer | None = None
        self._duration_timer: Timer | None = None
        self._detail_key: object = None

    # ------------------------------------------------------------------ building
    def compose(self) -> ComposeResult:
        from tui_caa.ui.widgets.status_banner import StatusBanner

        yield StatusBanner()
        with Horizontal(id="monitor-header"):
            yield Label(T("title"), id="monitor-title")
            yield Static("", id="monitor-counts")
        with Horizontal(id="monitor-filters"):
            yield Input(placeholder=T("filter_placeholder"), id="monitor-filter")
            yield Select([(labels.extension_state(s), s) for s in COUNT_ORDER if s is not ExtensionState.UNKNOWN],
                         prompt=T("all_states"), allow_blank=True, id="monitor-state", compact=True)
        with Horizontal(id="monitor-body"):
            table = ExtensionTable(cursor_type="row", zebra_stripes=True, id="monitor-table")
            yield table
            with Vertical(id="monitor-detail"):
                yield Static("", id="detail-title")
                yield Static("", id="detail-calls")
                with Horizontal(id="detail-actions"):
                    for name in MONITOR_MODES:
                        yield Button(T(name), id=f"monitor-{name}", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = ""
        table = self.table
        for key, label, width in COLUMNS:
            table.add_column(T(label), width=width, key=key)
        self.app.console_changed.subscribe(self, self._console_changed)  # type: ignore[attr-defined]
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        self.model.take_dirty_extensions()  # the whole model is applied now
        self.apply_changes(set(self.model.extensions))
        self._apply_timer = self.set_interval(APPLY_SECONDS, self.apply_changes, name="monitor-apply")
        self._duration_timer = self.set_interval(DURATION_SECONDS, self.refresh_durations, name="monitor-durations")
        self._load_sellers()
        table.focus()

    def _load_sellers(self) -> None:
        session = self.app.session  # type: ignore[attr-defined]

        def loaded(sellers: Iterable[Any]) -> None:
            self._sellers = {s.extension: s.name for s in sellers if getattr(s, "extension", None)}
            self.apply_changes(set(self.model.extensions))

        self.app.run_command(session.sellers, done=loaded, group="monitor-sellers")  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ shortcuts
    @property
    def model(self) -> ConsoleModel:
        return self.app.model  # type: ignore[attr-defined, no-any-return]

    @property
    def table(self) -> ExtensionTable:
        return self.query_one("#monitor-table", ExtensionTable)

    @property
    def selected_extension(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return str(key.value) if key.value is not None else None

    @property
    def visible_extensions(self) -> list[str]:
        """The extensions in the table, in display order."""
        return [str(row.key.value) for row in self.table.ordered_rows]

    def now(self) -> datetime:
        """The console's clock (`CaaApp.clock`: the PBX's virtual time in tests)."""
        clock = getattr(self.app, "clock", None)
        return clock.now() if clock is not None else datetime.now(UTC)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ changes in
    def _console_changed(self, changes: set[str]) -> None:
        if "pop" in changes:  # pops name calls, not extensions: the next tick compares them
            self._pops_changed = True
        if {"link", "extensions"} <= changes:  # a snapshot: extensions may have gone
            self._resynced = True

    def _theme_changed(self, _theme: object) -> None:
        table = self.table
        with self.app.batch_update():
            for ext, values in self._shown.items():
                table.update_cell(ext, "state", self._state_cell(values.state))  # one full repaint
        self._update_counts()
        self._update_detail(force=True)

    def on_screen_resume(self) -> None:
        self.apply_changes()

    def apply_changes(self, extensions: set[str] | None = None) -> int:
        """Applies what changed since the last tick (plus `extensions`); returns the rows looked at."""
        dirty = self.model.take_dirty_extensions()
        if extensions:
            dirty |= extensions
        if self._pops_changed:
            self._pops_changed = False
            dirty |= self._extensions_with_new_pops()
        if self._resynced:
            self._resynced = False
            dirty |= self._values.keys() - self.model.extensions.keys()
        if not dirty:
            return 0
        self.stats.ticks += 1
        self.stats.rows_applied += len(dirty)
        self.stats.last_tick_rows = len(dirty)
        self.stats.per_row_updates = Counter()
        calls = self._calls_by_extension()
        now = self.now()
        with self.app.batch_update():
            for ext in sorted(dirty, key=extension_sort_key):  # new rows arrive in order: no re-sort
                self._apply_row(ext, calls.get(ext, ()), now)
            self._sort_if_needed()
            self._flush_cells()
        self._update_counts()
        selected = self.selected_extension
        if selected is None or selected in dirty:
            self._update_detail(force=True)
        return len(dirty)

    def _extensions_with_new_pops(self) -> set[str]:
        """Pops are keyed by call, not by extension: compare them by identity with the ones seen."""
        pops, seen = self.model.pops, self._pops_seen
        changed = {pop.extension for call_id, pop in pops.items() if seen.get(call_id) is not pop}
        self._pops_seen = dict(pops)
        return changed

    def refresh_durations(self) -> None:
        """The one-second tick: the duration of every row with a call (and the detail panel)."""
        if not self._timed:
            return
        calls = self._calls_by_extension()
        now = self.now()
        with self.app.batch_update():
            for ext in list(self._timed):
                call = current_call(calls.get(ext, ()))
                values = self._values.get(ext)
                if call is None or values is None:
                    self._timed.discard(ext)  # the next apply tick has the rest
                    continue
                duration = labels.duration(now - (call.answered_at or call.started_at))
                if duration == values.duration:
                    continue
                values = replace(values, duration=duration)
                self._values[ext] = values
                if ext in self._shown:
                    self._shown[ext] = values
                    self._pending.setdefault(ext, {})["duration"] = self._cell("duration", values)
                    self.stats.cell_updates += 1
            self._flush_cells()
        self._update_detail(force=True)

    def _calls_by_extension(self) -> dict[str, list[CallView]]:
        calls: dict[str, list[CallView]] = defaultdict(list)
        for (ext, _), call in self.model.calls.items():
            calls[ext].append(call)
        return calls

    @property
    def _rules(self) -> CallerIdRules:
        """The PBX's caller-ID rules: a local number is shown with the site's DDD."""
        return self.app.session.caller_id_rules()  # type: ignore[attr-defined,no-any-return]

    # ------------------------------------------------------------------ rows
    def _row_values(self, ext: str, calls: Iterable[CallView], now: datetime) -> RowValues:
        model = self.model
        state = model.extensions.get(ext, ExtensionState.UNKNOWN)
        call = current_call(calls)
        caller = customer = duration = digits = ""
        if call is not None:
            number = call.number or ""
            caller = labels.phone_number(number, self._rules) if number else DETAIL("unknown_caller")
            digits = "".join(ch for ch in number if ch.isdigit())
            customer = customer_of(model, call)
            since = call.answered_at or call.started_at
            duration = labels.duration(now - since)
        return RowValues(self._sellers.get(ext, ""), ext, state, caller, customer, duration,
                         model.calls_today.get(ext, 0), digits)

    def _apply_row(self, ext: str, calls: Iterable[CallView], now: datetime) -> None:
        """Recomputes one row; changed cells wait in `_pending` for `_flush_cells()`."""
        if ext not in self.model.extensions:  # gone (a resync without it)
            self._values.pop(ext, None)
            self._timed.discard(ext)
            if ext in self._shown:
                self._remove_row(ext)
            return
        calls = list(calls)
        values = self._row_values(ext, calls, now)
        self._values[ext] = values
        if calls:
            self._timed.add(ext)
        else:
            self._timed.discard(ext)
        wanted = self._matches(values)
        before = self._shown.get(ext)
        if before is None:
            if wanted:
                self._add_row(values)
            return
        if not wanted:
            self._remove_row(ext)
            return
        if before == values:
            return
        cells = self._pending.setdefault(ext, {})
        for key, _, _ in COLUMNS:
            if values.cell(key) != before.cell(key):
                cells[key] = self._cell(key, values)
                self.stats.cell_updates += 1
                self.stats.per_row_updates[ext] += 1
        self._shown[ext] = values

    def _flush_cells(self) -> None:
        pending, self._pending = self._pending, {}
        self.table.set_row_cells({ext: cells for ext, cells in pending.items() if cells and ext in self._shown})

    def _add_row(self, values: RowValues) -> None:
        ext = values.extension
        self.table.add_row(*(self._cell(key, values) for key, _, _ in COLUMNS), key=ext)
        self._shown[ext] = values
        self.stats.rows_added += 1
        sort_key = extension_sort_key(ext)
        if self._max_key is not None and sort_key < self._max_key:
            self._needs_sort = True  # appended below a greater extension
        else:
            self._max_key = sort_key

    def _remove_row(self, ext: str) -> None:
        try:
            self.table.remove_row(ext)
        except RowDoesNotExist:
            pass
        self._shown.pop(ext, None)
        self.stats.rows_removed += 1

    def _sort_if_needed(self) -> None:
        if not self._needs_sort:
            return
        self._needs_sort = False
        table = self.table
        selected = self.selected_extension
        table.sort("extension", key=lambda value: extension_sort_key(str(value)))
        self._max_key = max(map(extension_sort_key, self._shown), default=None)
        if selected is not None:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    def _cell(self, column: str, values: RowValues) -> Text:
        if column == "state":
            return self._state_cell(values.state)
        if column == "today":
            return Text(str(values.today), justify="right")
        if column == "duration":
            return Text(values.duration, justify="right")
        if column == "customer" and values.customer.startswith("≈"):
            return Text(values.customer, style="italic")
        return Text(str(values.cell(column)))

    def _state_cell(self, state: ExtensionState) -> Text:
        style = self.app.theme_variables.get(labels.EXTENSION_CLASSES[state], "")
        if state is ExtensionState.RINGING:
            style = f"bold {style}"
        return Text(labels.extension_state(state), style=style)

    # ------------------------------------------------------------------ counts
    def _update_counts(self) -> None:
        counts = Counter(self.model.extensions.values())
        variables = self.app.theme_variables
        text = Text()
        for state in COUNT_ORDER:
            if state not in ALWAYS_COUNTED and not counts.get(state):
                continue
            if text:
                text.append(" · ", style="dim")
            style = variables.get(labels.EXTENSION_CLASSES[state], "")
            text.append(f"{labels.extension_state(state)} {counts.get(state, 0)}", style=style)
        if self._query or self._state_filter is not None:
            text.append(f"   ({T('showing', shown=len(self._shown), total=len(self.model.extensions))})",
                        style="dim")
        self.query_one("#monitor-counts", Static).update(text, layout=False)  # one fixed line

    def counts_text(self) -> str:
        """The header's counts as plain text (what a person reads)."""
        return str(self.query_one("#monitor-counts", Static).render())

    # ------------------------------------------------------------------ filters
    def _matches(self, values: RowValues) -> bool:
        if self._state_filter is not None and values.state is not self._state_filter:
            return False
        query = self._query
        if not query:
            return True
        haystack = f"{values.seller}\n{values.extension}\n{values.caller}\n{values.customer}".casefold()
        if query in haystack:
            return True
        digits = "".join(ch for ch in query if ch.isdigit())
        return bool(digits) and digits == query.replace(" ", "").replace("-", "") and digits in values.number_digits

    def set_filter(self, query: str | None = None, state: ExtensionState | None | object = KEEP) -> None:
        """Changes the text and/or state filter: rows that stop matching go, rows that match come back."""
        if query is not None:
            self._query = query.strip().casefold()
        if state is not KEEP:
            self._state_filter = state  # type: ignore[assignment]
        table = self.table
        with self.app.batch_update():
            gone = [ext for ext, values in self._shown.items() if not self._matches(values)]
            self._remove_rows(gone)
            for ext in sorted(self._values.keys() - self._shown.keys(), key=extension_sort_key):
                values = self._values[ext]
                if self._matches(values):
                    self._add_row(values)
            self._sort_if_needed()
        if table.row_count and table.cursor_row >= table.row_count:
            table.move_cursor(row=table.row_count - 1)
        self._update_counts()
        self._update_detail(force=True)

    def _remove_rows(self, extensions: list[str]) -> None:
        """Removes the rows that stopped matching, keeping the cursor on its extension if it stays."""
        if not extensions:
            return
        table = self.table
        selected = self.selected_extension
        table.remove_rows(extensions)
        for ext in extensions:
            self._shown.pop(ext, None)
        self.stats.rows_removed += len(extensions)
        if selected is not None and selected in self._shown:
            table.move_cursor(row=table.get_row_index(selected), animate=False)

    @on(Input.Changed, "#monitor-filter")
    def _query_changed(self, event: Input.Changed) -> None:
        self.set_filter(query=event.value)

    @on(Input.Submitted, "#monitor-filter")
    def _query_submitted(self) -> None:
        self.table.focus()

    @on(Select.Changed, "#monitor-state")
    def _state_changed(self, event: Select.Changed) -> None:
        value = event.value
        self.set_filter(state=None if value is Select.NULL else ExtensionState(value))  # type: ignore[arg-type]

    def action_focus_filter(self) -> None:
        self.query_one("#monitor-filter", Input).focus()

    def action_back_to_table(self) -> None:
        self.table.focus()

    def action_cycle_state(self) -> None:
        """`e`: all states → livre → tocando → … → all states."""
        choices: list[ExtensionState | None] = [None, *(s for s in COUNT_ORDER if s is not ExtensionState.UNKNOWN)]
        position = choices.index(self._state_filter) if self._state_filter in choices else 0
        state = choices[(position + 1) % len(choices)]
        select: Select[Any] = self.query_one("#monitor-state", Select)
        if state is None:
            select.clear()
        else:
            select.value = state  # posts Select.Changed, which applies the filter

    # ------------------------------------------------------------------ navigation
    def action_cursor_down(self) -> None:
        self.table.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.table.action_cursor_up()

    def action_cursor_first(self) -> None:
        self.table.move_cursor(row=0)

    def action_cursor_last(self) -> None:
        self.table.move_cursor(row=max(self.table.row_count - 1, 0))

    @on(DataTable.RowHighlighted, "#monitor-table")
    def _row_highlighted(self) -> None:
        self._update_detail()




__all__ = ["ExtensionTable", "MonitorScreen", "MonitorStats", "RowValues", "current_call", "customer_of",
           "extension_sort_key"]
