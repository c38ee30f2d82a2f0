"""The active call: who, from which DDR, in what state, for how long, and what can be done to it.

A command the PBX does not offer, or that makes no sense in the call's state, is disabled and
its tooltip says why."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from tui_caa.domain import CallState, Capability, Direction
from tui_caa.ui import labels
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.model import CallView

T = Catalog({
    "no_call": ("Nenhuma chamada em andamento", "No call under way"),
    "ddr": ("DDR", "DDR"),
    "unknown_source": ("sem origem cadastrada", "no traffic source"),
    "answer": ("Atender F6", "Answer F6"),
    "hangup": ("Desligar F7", "Hang up F7"),
    "hold": ("Espera F8", "Hold F8"),
    "resume": ("Retomar F8", "Resume F8"),
    "transfer": ("Transferir F9", "Transfer F9"),
    "consult": ("Consultar ^T", "Consult ^T"),
    "complete": ("Completar ^Y", "Complete ^Y"),
    "cancel": ("Cancelar consulta ^G", "Cancel consult ^G"),
    "dtmf": ("Teclado ^K", "Keypad ^K"),
    "more": ("+ Funções ^O", "+ Functions ^O"),
    "not_offered": ("A central não oferece esta função", "The PBX does not offer this"),
    "no_call_reason": ("Não há chamada", "There is no call"),
    "not_ringing": ("Só para uma chamada tocando", "Only for a ringing call"),
    "not_talking": ("Só durante uma conversa", "Only while talking"),
    "not_consulting": ("Só durante uma consulta", "Only during a consultation"),
    "consulting_first": ("Complete ou cancele a consulta antes", "Complete or cancel the consultation first"),
    "consulting": ("consultando {target}", "consulting {target}"),
})


@dataclass(frozen=True)
class Action:
    """One call command: its button, its capability, and when it makes sense."""

    key: str
    capability: Capability
    states: frozenset[CallState]
    reason: str  # shown when the state is wrong


ACTIONS = (
    Action("answer", Capability.ANSWER, frozenset({CallState.RINGING}), "not_ringing"),
    Action("hangup", Capability.HANGUP, frozenset({CallState.RINGING, CallState.DIALING, CallState.ACTIVE,
                                                   CallState.HELD}), "consulting_first"),
    Action("hold", Capability.HOLD, frozenset({CallState.ACTIVE}), "not_talking"),
    Action("resume", Capability.HOLD, frozenset({CallState.HELD}), "not_talking"),
    Action("transfer", Capability.BLIND_TRANSFER, frozenset({CallState.ACTIVE, CallState.HELD}), "not_talking"),
    Action("consult", Capability.ATTENDED_TRANSFER, frozenset({CallState.ACTIVE}), "not_talking"),
    Action("complete", Capability.ATTENDED_TRANSFER, frozenset({CallState.CONSULTING}), "not_consulting"),
    Action("cancel", Capability.ATTENDED_TRANSFER, frozenset({CallState.CONSULTING}), "not_consulting"),
    Action("dtmf", Capability.DTMF, frozenset({CallState.ACTIVE}), "not_talking"),
)
ACTION_BY_KEY = {action.key: action for action in ACTIONS}


def why_not(action: Action, call: CallView | None, capabilities: frozenset[Capability]) -> str | None:
    """None when the command may run now; otherwise the reason, in words."""
    if action.capability not in capabilities:
        return T("not_offered")
    if call is None:
        return T("no_call_reason")
    if call.state not in action.states:
        return T(action.reason)
    return None


class CallPanel(Vertical):
    DEFAULT_CSS = """
    CallPanel { height: auto; border: round $primary; padding: 0 1; margin: 0 1; }
    CallPanel > #call-info { height: auto; min-height: 2; }
    CallPanel > Horizontal { height: 3; }
    CallPanel Button { min-width: 8; margin-right: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(T("no_call"), id="call-info")
        with Horizontal():
            for action in ACTIONS:
                yield Button(T(action.key), id=f"call-{action.key}", disabled=True,
                             variant="success" if action.key == "answer" else
                             "error" if action.key == "hangup" else "default")
            yield Button(T("more"), id="call-more")

    def on_mount(self) -> None:
        self.app.console_changed.subscribe(self, self._changed)  # type: ignore[attr-defined]
        self.set_interval(1.0, self._tick)
        self.refresh_call()

    def _changed(self, changes: set[str]) -> None:
        if changes & {"mine", "link"}:
            self.refresh_call()

    def _tick(self) -> None:
        if self.app.model.current_call() is not None:  # type: ignore[attr-defined]
            self._show_info(self.app.model.current_call())  # type: ignore[attr-defined]

    def refresh_call(self) -> None:
        call = self.app.model.current_call()  # type: ignore[attr-defined]
        capabilities = self.app.session.capabilities()  # type: ignore[attr-defined]
        self._show_info(call)
        for action in ACTIONS:
            button = self.query_one(f"#call-{action.key}", Button)
            reason = why_not(action, call, capabilities)
            button.disabled = reason is not None
            button.tooltip = reason
            if action.key in ("hold", "resume"):
                button.display = (action.key == "resume") == (call is not None and call.state is CallState.HELD)

    def _show_info(self, call: CallView | None) -> None:
        info = self.query_one("#call-info", Static)
        if call is None:
            info.update(Text(T("no_call"), style="dim"))
            return
        app = self.app
        rules = app.session.caller_id_rules()  # type: ignore[attr-defined]
        text = Text()
        text.append(labels.direction(call.direction) + "  ", style="bold")
        text.append(labels.phone_number(call.number, rules), style="bold")
        pop = app.model.pops.get(call.call_id)  # type: ignore[attr-defined]
        if pop and pop.lookup and pop.lookup.exact:
            names = ", ".join(m.customer.name for m in pop.lookup.exact[:3])
            text.append(f"  {names}")
        if call.state is CallState.CONSULTING and call.target:  # "consultando 1002", said once
            text.append(f"   {T('consulting', target=labels.phone_number(call.target, rules))}", style="italic")
        else:
            text.append(f"   {labels.call_state(call.state)}", style="italic")
        since = call.answered_at or call.started_at
        text.append(f"   {labels.duration(app.clock.now() - since)}")  # type: ignore[attr-defined]
        if call.direction is Direction.INBOUND and call.ddr:
            source = call.traffic_source.name if call.traffic_source else T("unknown_source")
            text.append(f"\n{T('ddr')} {labels.phone_number(call.ddr, rules)} · {source}", style="dim")
        info.update(text)
