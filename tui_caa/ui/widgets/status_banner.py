"""The strip at the top: who is logged in, the extension's state, the PBX link and the call timer."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui_caa.protocol.messages import LinkState
from tui_caa.ui import labels
from tui_caa.ui.i18n import Catalog

T = Catalog({
    "extension": ("ramal", "extension"),
    "no_extension": ("sem ramal", "no extension"),
    "simulator": ("SIMULADOR", "SIMULATOR"),
    "supervisor": ("supervisor", "supervisor"),
    "loading": ("carregando…", "loading…"),
    "problem": ("⚠ serviço de integração com problema", "⚠ integration service problem"),
})


class StatusBanner(Static):
    DEFAULT_CSS = """
    StatusBanner { height: 1; background: $panel; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.app.console_changed.subscribe(self, self._changed)  # type: ignore[attr-defined]
        self.set_interval(1.0, self.refresh_banner)
        self.refresh_banner()

    def _changed(self, changes: set[str]) -> None:
        if changes & {"link", "problems", "mine"}:
            self.refresh_banner()

    def refresh_banner(self) -> None:
        self.update(self.banner_text(), layout=False)  # one line, always: no re-layout of the screen

    def banner_text(self) -> Text:
        app = self.app
        model = app.model  # type: ignore[attr-defined]
        session = app.session  # type: ignore[attr-defined]
        text = Text()
        if model.loading:  # no extension, link or call to speak of yet: not "PBX down"
            text.append(T("loading"), style=_variable(app, "link-reconnecting"))
            return self._tail(app, text)
        name = session.principal.name or ""
        if name:
            text.append(name, style="bold")
            text.append("  ·  ")
        if model.extension:
            text.append(f"{T('extension')} {model.extension}  ")
            state = model.my_state
            text.append(labels.extension_state(state), style=_variable(app, labels.EXTENSION_CLASSES[state]))
        else:
            text.append(T("no_extension"), style="dim")
        text.append("  ·  ")
        text.append(labels.link_state(model.link), style=_variable(app, f"link-{model.link.value}"))
        if model.link is not LinkState.CONNECTED and model.link_reason:
            text.append(f" ({model.link_reason})", style="dim")
        if model.problems:  # the gateway's own trouble (a task restarting, its outbox unwritable)
            text.append("  ·  ")
            text.append(f"{T('problem')}: {'; '.join(model.problems)}", style=_variable(app, "link-down"))
        call = model.current_call()
        if call is not None:
            since = call.answered_at or call.started_at
            text.append(f"  ·  {labels.duration(app.clock.now() - since)}", style="bold")  # type: ignore[attr-defined]
        return self._tail(app, text)

    @staticmethod
    def _tail(app: object, text: Text) -> Text:
        if getattr(app, "role", None) == "supervisor":
            text.append(f"  ·  {T('supervisor')}")
        if getattr(app, "simulated", False):
            text.append("  ")
            text.append(f" {T('simulator')} ", style="bold reverse")
        return text


def _variable(app: object, name: str) -> str:
    """A theme variable's colour as a Rich style (markup cannot read CSS variables)."""
    variables = app.theme_variables  # type: ignore[attr-defined]
    return variables.get(name, "")
