"""F1: every key of the console, with the id to remap it in the settings' [keymap]."""

from __future__ import annotations

from importlib import import_module
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from tui_caa.ui.i18n import Catalog

T = Catalog({
    "title": ("Teclas do tui-caa (F1)", "tui-caa keys (F1)"),
    "hint": ("Para trocar uma tecla: [keymap] no config.toml, por exemplo  \"call.hangup\" = \"f12\"",
             "To change a key: [keymap] in config.toml, for example  \"call.hangup\" = \"f12\""),
    "key": ("Tecla", "Key"),
    "action": ("Ação", "Action"),
    "id": ("Id", "Id"),
    "close": ("Fechar", "Close"),
})

#: the screens whose keys the help lists, as "module:Class" (imported only when the help opens)
SCREENS = ("tui_caa.ui.app:CaaApp", "tui_caa.ui.screens.agent:AgentScreen",
           "tui_caa.ui.screens.monitor:MonitorScreen", "tui_caa.ui.screens.history:HistoryView",
           "tui_caa.ui.screens.customer:CustomerScreen")


def all_bindings(keymap: dict[str, str]) -> list[tuple[str, str, str]]:
    """(keys, description, id) of every binding that has an id, keymap applied."""
    found: dict[str, tuple[str, str, str]] = {}
    for path in SCREENS:
        module, name = path.split(":")
        try:
            owner = getattr(import_module(module), name)
        except (ImportError, AttributeError):
            continue
        for binding in getattr(owner, "BINDINGS", []):
            if isinstance(binding, Binding) and binding.id and binding.id not in found:
                found[binding.id] = (keymap.get(binding.id, binding.key), binding.description, binding.id)
    return list(found.values())


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
