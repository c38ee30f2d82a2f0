"""Command palette (ctrl+p): dial…, transfer to…, find customer…, agent/monitor, theme."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui_caa.protocol.principal import Role
from tui_caa.ui.i18n import Catalog

T = Catalog({
    "dial": ("Discar…", "Dial…"),
    "dial_help": ("Ligar para um número a partir do seu ramal", "Call a number from your extension"),
    "dial_number": ("Discar {number}", "Dial {number}"),
    "transfer": ("Transferir para…", "Transfer to…"),
    "transfer_help": ("Transferir a chamada atual", "Transfer the current call"),
    "transfer_number": ("Transferir para {number}", "Transfer to {number}"),
    "find": ("Buscar cliente…", "Find customer…"),
    "find_help": ("Por nome, CPF/CNPJ, placa ou telefone", "By name, CPF/CNPJ, plate or phone"),
    "find_text": ("Buscar cliente: {text}", "Find customer: {text}"),
    "agent": ("Ir para o atendimento", "Go to the agent screen"),
    "monitor": ("Ir para o monitor de ramais", "Go to the extension monitor"),
    "theme": ("Tema: {name}", "Theme: {name}"),
    "help": ("Teclas e ajuda (F1)", "Keys and help (F1)"),
    "simulate": ("Simular chamada recebida", "Simulate an incoming call"),
    "simulate_help": ("O simulador faz um cliente ligar para o seu ramal agora",
                      "The simulator makes a customer call your extension now"),
})


class ConsoleCommands(Provider):
    """Fixed entries, plus 'Discar <what you typed>' when the query looks like a number."""

    def _entries(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        entries: list[tuple[str, Callable[[], object], str]] = [
            (T("dial"), self._focus_dial, T("dial_help")),
            (T("transfer"), self._transfer, T("transfer_help")),
            (T("find"), partial(app.action_find_customer, ""), T("find_help")),  # type: ignore[attr-defined]
            (T("agent"), app.action_show_agent, ""),  # type: ignore[attr-defined]
            (T("help"), app.action_help, ""),  # type: ignore[attr-defined]
        ]
        if getattr(app, "simulated", False):
            entries.append((T("simulate"), self._simulate, T("simulate_help")))
        if getattr(app, "role", None) is Role.SUPERVISOR:
            entries.append((T("monitor"), app.action_show_monitor, ""))  # type: ignore[attr-defined]
        for name in getattr(app, "console_themes", ()):
            entries.append((T("theme", name=name), partial(setattr, app, "theme", name), ""))
        return entries

    async def discover(self) -> Hits:
        for title, action, help_text in self._entries():
            yield DiscoveryHit(title, action, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), action, help=help_text)
        typed = query.strip()
        if sum(ch.isdigit() for ch in typed) >= 3:
            yield Hit(1.0, T("dial_number", number=typed), partial(self.app.dial, typed))  # type: ignore[attr-defined]
            yield Hit(0.9, T("transfer_number", number=typed), partial(self._transfer_to, typed))
        if len(typed) >= 2:
            yield Hit(0.5, T("find_text", text=typed), partial(self.app.action_find_customer, typed))  # type: ignore[attr-defined]

    def _simulate(self) -> None:
        self.app.run_command(self.app.session.simulate_call)  # type: ignore[attr-defined]

    def _focus_dial(self) -> None:
        self.app.action_show_agent()  # type: ignore[attr-defined]
        self.app.screen.action_focus_dial()  # type: ignore[attr-defined]

    def _transfer(self) -> None:
        self.app.action_show_agent()  # type: ignore[attr-defined]
        self.app.screen.action_transfer()  # type: ignore[attr-defined]

    def _transfer_to(self, number: str) -> None:
        call = self.app.model.current_call()  # type: ignore[attr-defined]
        if call is None:
            self._transfer()  # says why not
            return
        self.app.run_command(lambda: self.app.session.blind_transfer(call.call_id, number))  # type: ignore[attr-defined]
