"""F1: every key of the console, with the id to remap it in the settings' [keymap]."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from tui_caa.ui.i18n import Catalog
from tui_caa.ui.keymap import all_bindings as keymap_bindings

T = Catalog({
    "title": ("Teclas do tui-caa (F1)", "tui-caa keys (F1)"),
    "hint": ("Para trocar uma tecla: [keymap] no config.toml, por exemplo  \"call.hangup\" = \"f12\"",
             "To change a key: [keymap] in config.toml, for example  \"call.hangup\" = \"f12\""),
    "key": ("Tecla", "Key"),
    "action": ("Ação", "Action"),
    "id": ("Id", "Id"),
    "close": ("Fechar", "Close"),
})

def all_bindings(keymap: dict[str, str]) -> list[tuple[str, str, str]]:
    """(keys, description, id) of every binding that has an id, keymap applied."""
    return [(keymap.get(b.id, ",".join(b.keys)), b.description, b.id) for b in keymap_bindings()]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 90; max-width: 95%; height: 90%; border: thick $primary;
                            background: $surface; padding: 1 2; }
    HelpScreen .title { text-style: bold; }
    HelpScreen DataTable { height: 1fr; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1", "dismiss_help", T("close"), id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(T("title"), classes="title")
            yield Label(T("hint"), classes="muted")
            yield DataTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(T("key"), T("action"), T("id"))
        keymap = getattr(self.app, "keymap", {})
        for keys, description, binding_id in all_bindings(keymap):
            table.add_row(keys, description, binding_id)
        table.focus()

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
