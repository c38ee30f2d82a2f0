"""The monitor's detail panel (the selected extension, its calls) and the supervisor's listen /
whisper / barge on it, with why each is not possible right now."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.widgets import Button, Static

from tui_caa.domain.telephony import Capability
from tui_caa.ui import labels
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.model import CallView
from tui_caa.ui.screens.monitor_rows import ANSWERED_STATES, CALL_PRIORITY, customer_of

if TYPE_CHECKING:
    from tui_caa.ui.screens.monitor import MonitorScreen

T = Catalog({
    "detail_none": ("Nenhum ramal selecionado", "No extension selected"),
    "detail_idle": ("Sem ligação no momento", "No call right now"),
    "calls_title": ("Ligações em curso", "Calls in progress"),
    "source": ("origem", "source"),
    "ddr": ("DDR", "DDR"),
    "unknown_caller": ("número não identificado", "unknown number"),
    "calls_today": ("{n} ligações hoje", "{n} calls today"),
    "one_call_today": ("1 ligação hoje", "1 call today"),
    "listen_tip": ("Ouvir a ligação sem ser ouvido", "Listen to the call without being heard"),
    "whisper_tip": ("Falar só com o vendedor; o cliente não ouve", "Talk to the seller only; the customer does not hear"),
    "barge_tip": ("Entrar na ligação: todos se ouvem", "Join the call: everyone hears everyone"),
    "listen_done": ("Ouvindo o ramal {ext}", "Listening to extension {ext}"),
    "whisper_done": ("Sussurrando para o ramal {ext}", "Whispering to extension {ext}"),
    "barge_done": ("Intervindo no ramal {ext}", "Barging into extension {ext}"),
    "no_selection": ("Selecione um ramal na tabela", "Select an extension in the table"),
    "not_supported": ("A central {pbx}não permite {what}", "The PBX {pbx}does not support {what}"),
    "listen_verb": ("ouvir ligações", "listening to calls"),
    "whisper_verb": ("sussurrar", "whispering"),
    "barge_verb": ("intervir em ligações", "barging into calls"),
    "own_extension": ("É o seu próprio ramal", "It is your own extension"),
    "no_call": ("O ramal {ext} não está em ligação", "Extension {ext} is not in a call"),
    "not_answered": ("A ligação do ramal {ext} ainda não foi atendida",
                     "The call on extension {ext} has not been answered yet"),
    "extension": ("Ramal", "Ext."),
})

MONITOR_MODES = {"listen": Capability.LISTEN, "whisper": Capability.WHISPER, "barge": Capability.BARGE}


class MonitorDetail:
    """Mixed into MonitorScreen: reads its table, model and selection."""

    # ------------------------------------------------------------------ detail panel
    def _update_detail(self: MonitorScreen, *, force: bool = False) -> None:
        ext = self.selected_extension
        values = self._values.get(ext) if ext else None
        key = (ext, values)
        if not force and key == self._detail_key:
            return
        self._detail_key = key
        title = Text()
        calls_text = Text()
        if ext is None or values is None:
            title.append(T("detail_none"), style="dim")
        else:
            title.append(f"{T('extension')} {ext}", style="bold")
            if values.seller:
                title.append(f" · {values.seller}")
            title.append("\n")
            title.append_text(self._state_cell(values.state))
            title.append(f" · {T('one_call_today') if values.today == 1 else T('calls_today', n=values.today)}",
                         style="dim")
            calls = sorted(self.model.calls_of(ext), key=lambda c: (CALL_PRIORITY.get(c.state, 9), c.started_at))
            if not calls:
                calls_text.append(T("detail_idle"), style="dim")
            else:
                now = self.now()
                calls_text.append(T("calls_title"), style="bold underline")
                for call in calls:
                    calls_text.append("\n")
                    calls_text.append_text(self._call_text(call, now))
        self.query_one("#detail-title", Static).update(title, layout=False)  # fixed sizes: no re-layout
        self.query_one("#detail-calls", Static).update(calls_text, layout=False)
        self._update_buttons(ext)

    def _call_text(self: MonitorScreen, call: CallView, now: datetime) -> Text:
        text = Text()
        text.append(labels.direction(call.direction))
        text.append("  ")
        text.append(labels.phone_number(call.number, self._rules) if call.number else T("unknown_caller"),
                    style="bold")
        customer = customer_of(self.model, call)
        if customer:
            text.append(f"\n  {customer}")
        source = call.traffic_source
        pop = self.model.pops.get(call.call_id)
        if source is None and pop is not None:
            source = pop.traffic_source
        if source is not None:
            text.append(f"\n  {T('source')}: {source.name}", style="dim")
        elif call.ddr:
            text.append(f"\n  {T('ddr')}: {labels.phone_number(call.ddr, self._rules)}", style="dim")
        since = call.answered_at or call.started_at
        text.append(f"\n  {labels.call_state(call.state)} · {labels.duration(now - since)}")
        return text

    def _update_buttons(self: MonitorScreen, ext: str | None) -> None:
        for name, mode in MONITOR_MODES.items():
            button = self.query_one(f"#monitor-{name}", Button)
            reason = self.why_not(mode, ext)
            tooltip = reason or T(f"{name}_tip")
            if button.disabled != (reason is not None):
                button.disabled = reason is not None
            if button.tooltip != tooltip:
                button.tooltip = tooltip

    # ------------------------------------------------------------------ listen / whisper / barge
    def why_not(self: MonitorScreen, mode: Capability, ext: str | None) -> str | None:
        """Why `mode` cannot be used on `ext` now (None: it can)."""
        if ext is None:
            return T("no_selection")
        session = self.app.session  # type: ignore[attr-defined]
        if mode not in session.capabilities():
            name = {Capability.LISTEN: "listen_verb", Capability.WHISPER: "whisper_verb",
                    Capability.BARGE: "barge_verb"}[mode]
            return T("not_supported", pbx="", what=T(name))
        if ext == self.model.extension:
            return T("own_extension")
        calls = self.model.calls_of(ext)
        if not calls:
            return T("no_call", ext=ext)
        if not any(c.state in ANSWERED_STATES for c in calls):
            return T("not_answered", ext=ext)
        return None

    def _monitor(self: MonitorScreen, name: str) -> None:
        mode = MONITOR_MODES[name]
        ext = self.selected_extension
        reason = self.why_not(mode, ext)
        if reason is not None or ext is None:
            self.notify(reason or T("no_selection"), severity="warning")
            return
        session = self.app.session  # type: ignore[attr-defined]
        target: str = ext
        self.app.run_command(  # type: ignore[attr-defined]
            lambda: session.monitor(mode, target),
            done=lambda _: self.notify(T(f"{name}_done", ext=target)),
            group="monitor-command",
        )

    def action_listen(self: MonitorScreen) -> None:
        self._monitor("listen")

    def action_whisper(self: MonitorScreen) -> None:
        self._monitor("whisper")

    def action_barge(self: MonitorScreen) -> None:
        self._monitor("barge")

    @on(Button.Pressed, "#detail-actions Button")
    def _button(self: MonitorScreen, event: Button.Pressed) -> None:
        name = (event.button.id or "").removeprefix("monitor-")
        if name in MONITOR_MODES:
            self._monitor(name)
