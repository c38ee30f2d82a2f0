"""The "Discar" field: type any number, Enter dials it from the agent's extension."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label

from tui_caa.domain import DomainError
from tui_caa.phones import CallerIdRules, InvalidPhoneNumber, NumberKind, display, normalize
from tui_caa.ui.errors import readable
from tui_caa.ui.i18n import Catalog

T = Catalog({
    "label": ("Discar", "Dial"),
    "placeholder": ("número, ramal ou (51) 98765-4321 — Enter liga", "number, extension or (51) 98765-4321 — Enter dials"),
    "button": ("☎ Ligar", "☎ Call"),
    "empty": ("Digite um número para discar", "Type a number to dial"),
    "anonymous": ("Este número não pode ser discado", "This number cannot be dialled"),
    "dialing": ("Chamando {number}…", "Calling {number}…"),
})


class DialBar(Horizontal):
    DEFAULT_CSS = """
    DialBar { height: 3; padding: 0 1; }
    DialBar > Label.caption { width: 8; padding-top: 1; text-style: bold; }
    DialBar > Input { width: 1fr; max-width: 60; }
    DialBar > Button { min-width: 10; }
    DialBar > #dial-message { width: 1fr; padding: 1 0 0 2; }
    """

    def compose(self) -> ComposeResult:
        yield Label(T("label"), classes="caption")
        yield Input(placeholder=T("placeholder"), id="dial-input")
        yield Button(T("button"), id="dial-button", variant="success")
        yield Label("", id="dial-message")

    def show(self, message: str, *, error: bool = False) -> None:
        label = self.query_one("#dial-message", Label)
        label.update(message)
        label.set_class(error, "error-text")

    @on(Input.Submitted, "#dial-input")
    @on(Button.Pressed, "#dial-button")
    def dial(self) -> None:
        field = self.query_one("#dial-input", Input)
        number = field.value.strip()
        problem = self.problem_with(number)
        if problem:
            self.show(problem, error=True)
            return
        self.show(T("dialing", number=self.readable(number)))
        self.run_worker(self._dial(number), group="dial", exit_on_error=False)

    async def _dial(self, number: str) -> None:
        try:
            await self.app.session.dial(number)  # type: ignore[attr-defined]
        except DomainError as exc:
            self.show(readable(exc), error=True)
            return
        self.query_one("#dial-input", Input).value = ""
        self.show("")  # the PBX took it: from now on the call panel tells how the call goes

    def problem_with(self, number: str) -> str | None:
        """What is wrong with a typed number, said before the PBX is bothered."""
        if not number:
            return T("empty")
        try:
            found = normalize(number, self._rules())
        except InvalidPhoneNumber as exc:
            return str(exc)
        if found.kind is NumberKind.ANONYMOUS:
            return T("anonymous")
        return None

    def readable(self, number: str) -> str:
        try:
            found = normalize(number, self._rules())
        except InvalidPhoneNumber:
            return number
        return display(found.e164) if found.e164 else number

    def _rules(self) -> CallerIdRules:
        return self.app.session.caller_id_rules()  # type: ignore[attr-defined,no-any-return]
