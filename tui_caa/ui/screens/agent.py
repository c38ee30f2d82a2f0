"""The agent's screen: status banner, dial field, the active call with its commands, and the tabs
"Central Telefônica" (caller identification) and "Histórico de Ligações"."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, ListView, TabbedContent, TabPane

from tui_caa.ui.i18n import Catalog
from tui_caa.ui.widgets.call_panel import CallPanel
from tui_caa.ui.widgets.caller_panel import CallerPanel
from tui_caa.ui.widgets.dial_bar import DialBar
from tui_caa.ui.widgets.status_banner import StatusBanner

T = Catalog({
    "caller_tab": ("Central Telefônica", "Phone"),
    "history_tab": ("Histórico de Ligações", "Call history"),
    "tabs": ("Central/Histórico", "Phone/History"),
    "matches": ("Clientes do número", "Caller's customers"),
    "new_customer": ("Novo cliente", "New customer"),
    "associate": ("Associar", "Attach"),
    "dialing": ("Chamando {number}", "Calling {number}"),
})

def notify_dialing(app: App[None], number: str) -> None:
    app.notify(T("dialing", number=number), timeout=3)


class AgentScreen(Screen[None]):
    CSS_PATH = "agent.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f4", "toggle_tab", T("tabs"), id="agent.history"),
        Binding("ctrl+r", "focus_matches", T("matches"), id="agent.matches"),
        Binding("ctrl+n", "new_customer", T("new_customer"), id="agent.new_customer"),
        Binding("ctrl+l", "associate", T("associate"), id="agent.associate"),
    ]

    def __init__(self) -> None:
        super().__init__(id="agent")

    def compose(self) -> ComposeResult:
        yield StatusBanner(id="banner")
        yield DialBar(id="dial")
        yield CallPanel(id="call")
        with TabbedContent(initial="caller-tab"):
            with TabPane(T("caller_tab"), id="caller-tab"):
                yield CallerPanel(id="caller")
            yield TabPane(T("history_tab"), id="history-tab")  # its view is built when first shown
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#dial-input", Input).focus()
        self.call_after_refresh(self.app.refresh_console)  # type: ignore[attr-defined]

    @on(Button.Pressed, "#call-answer")
    def _answer_button(self) -> None:
        self.app.action_answer()  # type: ignore[attr-defined]

    @on(Button.Pressed, "#call-hangup")
    def _hangup_button(self) -> None:
        self.app.action_hangup()  # type: ignore[attr-defined]

    @on(Button.Pressed, "#call-hold, #call-resume")
    def _hold_button(self) -> None:
        self.app.action_hold()  # type: ignore[attr-defined]

    @on(Button.Pressed, "#call-transfer")
    def _transfer_button(self) -> None:
        self.app.action_transfer()  # type: ignore[attr-defined]

    @on(Button.Pressed, "#call-consult")
    def _consult_button(self) -> None:
        self.app.action_consult()  # type: ignore[attr-defined]

    @on(Button.Pressed, "#call-complete")
    def _complete_button(self) -> None:
        self.app.action_complete_transfer()  # type: ignore[attr-defined]

    @on(Button.Pressed, "#call-cancel")
    def _cancel_button(self) -> None:
        self.app.action_cancel_transfer()  # type: ignore[attr-defined]

    @on(Button.Pressed, "#call-dtmf")
    def _dtmf_button(self) -> None:
        self.app.action_dtmf()  # type: ignore[attr-defined]

    @on(Button.Pressed, "#call-more")
    def _more_button(self) -> None:
        self.app.action_more()  # type: ignore[attr-defined]

    # ---- caller identification ----
    def action_focus_matches(self) -> None:
        self._show_caller_tab()
        for selector in ("#exact-matches", "#near-matches"):
            matches = self.query_one(selector, ListView)
            if matches.display and matches.children:
                matches.index = matches.index or 0
                matches.focus()
                return

    def action_new_customer(self) -> None:
        self._show_caller_tab()
        self.query_one(CallerPanel).new_customer()

    def action_associate(self) -> None:
        self._show_caller_tab()
        self.query_one(CallerPanel).associate()

    def _show_caller_tab(self) -> None:
        self.query_one(TabbedContent).active = "caller-tab"

    # ---- tabs ----
    def action_toggle_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = "history-tab" if tabs.active == "caller-tab" else "caller-tab"

    @on(TabbedContent.TabActivated)
    async def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id != "history-tab":
            return
        from tui_caa.ui.screens.history import HistoryView

        if not event.pane.children:
            # built when first shown, not before the console's first frame (issue 16); it loads
            # its first page when mounted
            await event.pane.mount(HistoryView(id="history"))
            return
        self.query_one("#history", HistoryView).refresh_history()
