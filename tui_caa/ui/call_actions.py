"""The call commands (answer, hang up, hold, transfer…) as app-wide actions, so that their keys
work on every screen: the agent keeps a customer card open while talking."""

from __future__ import annotations

import time

from textual.binding import Binding, BindingType

from tui_caa.domain import CallState, Capability
from tui_caa.phones import InvalidPhoneNumber, normalize
from tui_caa.ui import labels
from tui_caa.ui.errors import failure_notice
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.model import CallView
from tui_caa.ui.phone_problems import phone_problem
from tui_caa.ui.screens.prompts import MenuScreen, PromptScreen
from tui_caa.ui.widgets.call_panel import ACTION_BY_KEY, Action, why_not

T = Catalog({
    "dial": ("Discar", "Dial"),
    "answer": ("Atender", "Answer"),
    "hangup": ("Desligar", "Hang up"),
    "hold": ("Espera", "Hold"),
    "resume": ("Retomar", "Resume"),
    "transfer": ("Transferir", "Transfer"),
    "consult": ("Consultar", "Consult"),
    "complete": ("Completar", "Complete"),
    "cancel": ("Cancelar consulta", "Cancel consult"),
    "dtmf": ("Teclado", "Keypad"),
    "park": ("Estacionar", "Park"),
    "pickup": ("Capturar", "Pick up"),
    "more": ("+ Funções", "+ Functions"),
    "transfer_to": ("Transferir para (ramal ou número)", "Transfer to (extension or number)"),
    "consult_who": ("Consultar quem? (ramal ou número)", "Consult whom? (extension or number)"),
    "dtmf_title": ("Enviar tons (0-9 * #)", "Send tones (0-9 * #)"),
    "dtmf_bad": ("Use apenas 0-9, *, # e A-D", "Use only 0-9, *, # and A-D"),
    "pickup_title": ("Capturar de (vaga de estacionamento ou ramal)", "Pick up from (parking slot or extension)"),
    "parked": ("Chamada estacionada na vaga {slot}", "Call parked on slot {slot}"),
    "functions": ("Funções da central", "PBX functions"),
    "blank_target": ("Informe um ramal ou número", "Give an extension or number"),
    "missed": ("Chamada perdida de {number}", "Missed call from {number}"),
    "not_done": ("Não realizado", "Not done"),
})

#: park needs a call in conversation or on hold (it is not a button of the call panel)
PARK = Action("park", Capability.PARK, frozenset({CallState.ACTIVE, CallState.HELD}), "not_talking")

HANGUP_DEBOUNCE = 1.0  # seconds: a second press of the hang-up key is ignored (no double hang-up)

#: priority: they act even while a text field has the focus (the Discar field usually has it)
CALL_BINDINGS: list[BindingType] = [
    Binding("f5", "focus_dial", T("dial"), id="call.dial", priority=True),
    Binding("f6", "answer", T("answer"), id="call.answer", priority=True),
    Binding("f7", "hangup", T("hangup"), id="call.hangup", priority=True),
    Binding("f8", "hold", T("hold"), id="call.hold", priority=True),
    Binding("f9", "transfer", T("transfer"), id="call.transfer", priority=True),
    Binding("ctrl+t", "consult", T("consult"), id="call.consult", priority=True),
    Binding("ctrl+y", "complete_transfer", T("complete"), id="call.complete", show=False, priority=True),
    Binding("ctrl+g", "cancel_transfer", T("cancel"), id="call.cancel", show=False, priority=True),
    Binding("ctrl+k", "dtmf", T("dtmf"), id="call.dtmf", show=False, priority=True),
    Binding("ctrl+e", "park", T("park"), id="call.park", show=False, priority=True),
    Binding("ctrl+u", "pickup", T("pickup"), id="call.pickup", show=False, priority=True),
    Binding("ctrl+o", "more", T("more"), id="call.more", priority=True),
]


class CallActions:
    """Mixed into the App. Each command checks first whether it makes sense, and says why not."""

    _last_hangup = 0.0
    _missed_seen = 0
    _failures_seen = 0

    def notify_failures(self) -> None:
        """A transfer or hold the PBX accepted but did not carry out: said at once, as an error."""
        model = self.model  # type: ignore[attr-defined]
        for failure in model.failures[self._failures_seen:]:
            self.notify(failure_notice(failure), title=T("not_done"), severity="error",  # type: ignore[attr-defined]
                        timeout=15)
        self._failures_seen = len(model.failures)

    def notify_missed(self) -> None:
        """A missed call while the agent was elsewhere (another screen, another window) is not lost."""
        model = self.model  # type: ignore[attr-defined]
        rules = self.session.caller_id_rules()  # type: ignore[attr-defined]
        for missed in model.missed[self._missed_seen:]:
            number = labels.phone_number(missed.number, rules)
            self.notify(T("missed", number=number), severity="warning", timeout=30)  # type: ignore[attr-defined]
        self._missed_seen = len(model.missed)

    def action_focus_dial(self) -> None:
        self.action_show_agent()  # type: ignore[attr-defined]
        self.screen.query_one("#dial-input").focus()  # type: ignore[attr-defined]

    def _call(self) -> CallView | None:
        return self.model.current_call()  # type: ignore[attr-defined,no-any-return]

    def _allowed(self, key: str, call: CallView | None = None) -> CallView | None:
        """The call the command applies to, or None after telling the agent why not."""
        call = call or self._call()
        reason = why_not(ACTION_BY_KEY[key], call, self.session.capabilities())  # type: ignore[attr-defined]
        if reason:
            self.notify(reason, severity="warning", timeout=4)
            return None
        return call

    def _run(self, key: str, command: str, *args: str) -> None:
        call = self._allowed(key)
        if call is None:
            return
        session = self.session  # type: ignore[attr-defined]
        self.run_command(lambda: getattr(session, command)(call.call_id, *args))  # type: ignore[attr-defined]

    def action_answer(self) -> None:
        ringing = [c for c in self.model.my_calls() if c.state.value == "ringing"]  # type: ignore[attr-defined]
        call = self._allowed("answer", ringing[0] if ringing else None)
        if call:
            self.run_command(lambda: self.session.answer(call.call_id))  # type: ignore[attr-defined]

    def action_hangup(self) -> None:
        now = time.monotonic()
        if now - self._last_hangup < HANGUP_DEBOUNCE:
            return
        self._last_hangup = now
        self._run("hangup", "hangup")

    def action_hold(self) -> None:
        call = self._call()
        if call is not None and call.state.value == "held":
            self._run("resume", "resume")
        else:
            self._run("hold", "hold")

    def action_transfer(self) -> None:
        if self._allowed("transfer"):
            self._ask_target(T("transfer_to"), "blind_transfer")

    def action_consult(self) -> None:
        if self._allowed("consult"):
            self._ask_target(T("consult_who"), "consult")

    def action_complete_transfer(self) -> None:
        self._run("complete", "complete_transfer")

    def action_cancel_transfer(self) -> None:
        self._run("cancel", "cancel_transfer")

    def action_dtmf(self) -> None:
        call = self._allowed("dtmf")
        if call is None:
            return

        def send(digits: str | None) -> None:
            if digits:
                self.run_command(lambda: self.session.send_dtmf(call.call_id, digits))  # type: ignore[attr-defined]

        def check(value: str) -> str | None:
            return None if value and set(value) <= set("0123456789*#ABCD") else T("dtmf_bad")

        self.push_screen(PromptScreen(T("dtmf_title"), check=check), send)

    def action_park(self) -> None:
        call = self._call()
        capabilities = self.session.capabilities()  # type: ignore[attr-defined]
        reason = why_not(PARK, call, capabilities)
        if reason is not None or call is None:
            self.notify(reason or "", severity="warning")
            return
        self.run_command(lambda: self.session.park(call.call_id),  # type: ignore[attr-defined]
                             done=lambda slot: self.notify(T("parked", slot=slot), timeout=10))

    def action_pickup(self) -> None:
        def pick(where: str | None) -> None:
            if where:
                self.run_command(lambda: self.session.pickup(where))  # type: ignore[attr-defined]

        self.push_screen(PromptScreen(T("pickup_title"), check=lambda v: None if v else T("blank_target")), pick)

    def action_more(self) -> None:
        """"+ Funções": every command of the PBX, the ones that make no sense now greyed out."""
        call = self._call()
        capabilities = self.session.capabilities()  # type: ignore[attr-defined]
        entries, disabled = [], []
        held = call is not None and call.state is CallState.HELD
        hold = "resume" if held else "hold"  # one entry: the hold key does one or the other
        for key in ("answer", "hangup", hold, "transfer", "consult", "complete", "cancel", "dtmf", "park"):
            reason = why_not(PARK if key == "park" else ACTION_BY_KEY[key], call, capabilities)
            entries.append((key, T(key) + ("" if reason is None else f" — {reason}")))
            if reason:
                disabled.append(key)
        entries.append(("pickup", T("pickup")))  # needs no call of one's own
        if Capability.PICKUP not in capabilities:
            disabled.append("pickup")
        actions = {"answer": self.action_answer, "hangup": self.action_hangup, "hold": self.action_hold,
                   "resume": self.action_hold, "transfer": self.action_transfer, "consult": self.action_consult,
                   "complete": self.action_complete_transfer, "cancel": self.action_cancel_transfer,
                   "dtmf": self.action_dtmf, "park": self.action_park, "pickup": self.action_pickup}
        self.push_screen(MenuScreen(T("functions"), entries, disabled),
                             lambda key: actions[key]() if key else None)

    def _ask_target(self, title: str, command: str) -> None:
        call = self._call()
        if call is None:
            return
        rules = self.session.caller_id_rules()  # type: ignore[attr-defined]

        def check(value: str) -> str | None:
            if not value:
                return T("blank_target")
            try:
                normalize(value, rules)
            except InvalidPhoneNumber as exc:
                return phone_problem(exc)
            return None

        def go(target: str | None) -> None:
            if target:
                session = self.session  # type: ignore[attr-defined]
                self.run_command(lambda: getattr(session, command)(call.call_id, target))  # type: ignore[attr-defined]

        self.push_screen(PromptScreen(title, check=check), go)

