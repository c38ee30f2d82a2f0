"""The login of a remote console: the site's gateway, the seller's login (remembered) and password
(never kept). Shown at start, and on top of whatever is open when the session ends, so that an
expired login loses nothing typed in a form underneath."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from tui_caa.domain import DomainError
from tui_caa.protocol.api import SessionInfo
from tui_caa.ui.errors import readable
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.screens.prompts import DIALOG_CSS

T = Catalog({
    "title": ("tui-caa · entrar", "tui-caa · log in"),
    "expired": ("Sua sessão terminou: entre de novo. Nada do que estava aberto foi perdido.",
                "Your session has ended: log in again. Nothing that was open was lost."),
    "gateway": ("Serviço de integração: {url}", "Integration service: {url}"),
    "login": ("Usuário", "Login"),
    "password": ("Senha", "Password"),
    "enter": ("Entrar", "Log in"),
    "quit": ("Sair", "Quit"),
    "busy": ("Entrando…", "Logging in…"),
    "missing": ("Informe o usuário e a senha.", "Type your login and password."),
})


class LoginScreen(ModalScreen[SessionInfo]):
    DEFAULT_CSS = DIALOG_CSS + """
    LoginScreen { align: center middle; }
    LoginScreen > Vertical { width: 64; max-width: 95%; height: auto; }
    LoginScreen Input { margin-bottom: 1; }
    LoginScreen .hint { color: $text-muted; margin-bottom: 1; }
    """

    def __init__(self, *, login: str = "", expired: bool = False) -> None:
        super().__init__()
        self._login = login
        self._expired = expired

    def compose(self) -> ComposeResult:
        session = self.app.session  # type: ignore[attr-defined]
        with Vertical():
            yield Label(T("title"), classes="title")
            if self._expired:
                yield Label(T("expired"), classes="problem")
            yield Label(T("gateway", url=session.url), classes="hint")
            yield Label(T("login"))
            yield Input(value=self._login, id="login", max_length=64)
            yield Label(T("password"))
            yield Input(password=True, id="password", max_length=1024)
            yield Label("", classes="problem", id="problem")
            with Horizontal(classes="buttons"):
                yield Button(T("quit"), id="quit")
                yield Button(T("enter"), variant="primary", id="enter")

    def on_mount(self) -> None:
        self.query_one("#password" if self._login else "#login", Input).focus()

    @on(Input.Submitted, "#login")
    def _to_password(self) -> None:
        self.query_one("#password", Input).focus()

    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#enter")
    def _submit(self) -> None:
        login = self.query_one("#login", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not login or not password:
            self._problem(T("missing"))
            return
        self._problem(T("busy"))
        self.query_one("#enter", Button).disabled = True
        self._log_in(login, password)

    @on(Button.Pressed, "#quit")
    def _quit(self) -> None:
        self.app.exit()

    @work(exclusive=True, group="login", exit_on_error=False)
    async def _log_in(self, login: str, password: str) -> None:
        from pydantic import SecretStr

        try:
            info = await self.app.session.login(login, SecretStr(password))  # type: ignore[attr-defined]
        except DomainError as exc:
            self._problem(readable(exc))
            self.query_one("#password", Input).value = ""
            self.query_one("#password", Input).focus()
            return
        finally:
            self.query_one("#enter", Button).disabled = False
        self.dismiss(info)

    def _problem(self, text: str) -> None:
        self.query_one("#problem", Label).update(text)
