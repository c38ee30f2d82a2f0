"""Small modal dialogs every screen uses: ask for a value, confirm, pick from a menu."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

from tui_caa.ui.i18n import Catalog

T = Catalog({
    "ok": ("OK", "OK"),
    "cancel": ("Cancelar", "Cancel"),
    "yes": ("Confirmar", "Confirm"),
    "no": ("Voltar", "Back"),
})

DIALOG_CSS = """
ModalScreen { align: center middle; }
ModalScreen > Vertical {
    width: 72; max-width: 95%; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 1 2;
}
ModalScreen .title { text-style: bold; margin-bottom: 1; }
ModalScreen .problem { color: $error; height: auto; }
ModalScreen .buttons { height: auto; align-horizontal: right; margin-top: 1; }
ModalScreen .buttons Button { margin-left: 1; }
"""


class PromptScreen(ModalScreen[str | None]):
    """Asks for one value. `check` returns a problem to show under the field, or None when fine."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [Binding("escape", "cancel", T("cancel"), id="dialog.cancel")]

    def __init__(self, title: str, *, placeholder: str = "", value: str = "",
                 check: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self._title, self._placeholder, self._value, self._check = title, placeholder, value, check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title")
            yield Input(value=self._value, placeholder=self._placeholder, id="value")
            yield Label("", classes="problem", id="problem")
            with Horizontal(classes="buttons"):
                yield Button(T("cancel"), id="cancel")
                yield Button(T("ok"), variant="primary", id="ok")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        value = self.query_one("#value", Input).value.strip()
        problem = self._check(value) if self._check else None
        if problem:
            self.query_one("#problem", Label).update(problem)
            return
        self.dismiss(value or None)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [Binding("escape", "cancel", T("cancel"), id="dialog.cancel")]

    def __init__(self, title: str, message: str, *, default: bool = True) -> None:
        super().__init__()
        self._title, self._message = title, message
        self._default = default  # the button Enter presses: "no" where a reflex must not do harm

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title")
            yield Label(self._message)
            with Horizontal(classes="buttons"):
                yield Button(T("no"), id="no")
                yield Button(T("yes"), variant="primary", id="yes")

    def on_mount(self) -> None:
        self.query_one("#yes" if self._default else "#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_cancel(self) -> None:
        self.dismiss(False)


class MenuScreen(ModalScreen[str | None]):
    """A context menu: (id, label) entries; a disabled entry shows why in its label."""

    DEFAULT_CSS = DIALOG_CSS + "MenuScreen OptionList { height: auto; max-height: 20; }"
    BINDINGS = [Binding("escape", "cancel", T("cancel"), id="dialog.cancel")]

    def __init__(self, title: str, entries: Sequence[tuple[str, str]], disabled: Sequence[str] = ()) -> None:
        super().__init__()
        self._title, self._entries, self._disabled = title, entries, set(disabled)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title")
            yield OptionList(*[Option(label, id=key, disabled=key in self._disabled) for key, label in self._entries])

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
