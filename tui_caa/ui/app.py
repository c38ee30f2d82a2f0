"""The console application: modes (agent, supervisor monitor), keys, themes, and the one worker
that turns the gateway's messages into the console's model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TypeVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.signal import Signal
from textual.theme import Theme

from tui_caa import phones
from tui_caa.clock import Clock, SystemClock
from tui_caa.domain.errors import DomainError
from tui_caa.protocol.link_errors import Unauthorized
from tui_caa.protocol.principal import Role
from tui_caa.protocol.session import Session
from tui_caa.ui.call_actions import CALL_BINDINGS, CallActions
from tui_caa.ui.errors import readable
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.model import ConsoleModel
from tui_caa.ui.themes import DEFAULT_THEME, VARIABLE_DEFAULTS, load_themes, shipped_themes_dir

if TYPE_CHECKING:
    from tui_caa.domain import Customer
    from tui_caa.protocol.api import SessionInfo

T = Catalog({
    "help": ("Ajuda", "Help"),
    "quit": ("Sair", "Quit"),
    "agent": ("Atendimento", "Agent"),
    "monitor": ("Monitor", "Monitor"),
    "search": ("Buscar cliente", "Find customer"),
    "error_title": ("Não foi possível", "Could not do it"),
    "theme_problem": ("Tema com problema", "Theme problem"),
    "unknown_theme": ("Tema '{name}' não existe; usando {default}. Temas: {known}",
                      "Theme '{name}' does not exist; using {default}. Themes: {known}"),
    "bad_key": ("Atalho inválido no [keymap]: {problem}", "Invalid key in [keymap]: {problem}"),
    "quit_title": ("Sair do tui-caa?", "Quit tui-caa?"),
    "palette": ("comandos", "commands"),
    "palette_tooltip": ("Abrir a paleta de comandos", "Open the command palette"),
    "palette_placeholder": ("Buscar comandos…", "Search for commands…"),
    "quit_call": ("Há uma ligação em andamento: ela continua na central, mas este console deixa de vê-la.",
                  "A call is under way: it goes on at the PBX, but this console stops seeing it."),
    "quit_unsaved": ("Há dados digitados e não salvos, que serão perdidos.",
                     "There is typed data not saved, which will be lost."),
    "monitor_only": ("O monitor é para supervisores (--role supervisor)",
                     "The monitor is for supervisors (--role supervisor)"),
})
R = TypeVar("R")


def _console_commands():  # type: ignore[no-untyped-def]
    """The palette's provider, imported when the palette first opens."""
    from tui_caa.ui.commands import ConsoleCommands

    return ConsoleCommands


class CaaApp(CallActions, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "tui-caa"
    ENABLE_COMMAND_PALETTE = True
    # tui-caa's own commands only: Textual's (Maximize, Screenshot, every Textual theme) are English
    # and beside the point at a seller's desk
    COMMANDS = {_console_commands}

    MODES: ClassVar[dict[str, Callable[[], Screen]]] = {  # type: ignore[assignment]
        "agent": lambda: _agent_screen(),
        "monitor": lambda: _monitor_screen(),
    }

    BINDINGS: ClassVar[list[BindingType]] = [  # the footer shows them in this order
        *CALL_BINDINGS,
        Binding("ctrl+f", "find_customer", T("search"), id="app.search"),
        Binding("f1", "help", T("help"), id="app.help"),
        Binding("f2", "show_agent", T("agent"), id="app.agent", show=False),
        Binding("f3", "show_monitor", T("monitor"), id="app.monitor", show=False),
        Binding("f10,ctrl+q", "quit", T("quit"), id="app.quit", priority=True),
        Binding("ctrl+p", "command_palette", T("palette"), id="app.palette", show=False, priority=True,
                tooltip=T("palette_tooltip")),  # Textual's own would be in English
    ]

    def __init__(
        self,
        session: Session,
        *,
        role: Role = Role.AGENT,
        simulated: bool = False,
        theme_name: str = DEFAULT_THEME,
        theme_dirs: tuple[Path, ...] = (),
        keymap: dict[str, str] | None = None,
        clock: Clock | None = None,
        remembered_login: Callable[[str | None], str] | None = None,
    ) -> None:
        from tui_caa.ui.keymap import translate_loaded_bindings

        translate_loaded_bindings()  # before super().__init__ copies the app's own bindings
        super().__init__()
        self.session = session
        self.clock: Clock = clock or SystemClock()
        self.role = role
        self.simulated = simulated
        # a remote console learns who it is from its login (never from its own flags)
        self.needs_login = getattr(session, "logged_in", True) is False
        self.remembered_login = remembered_login
        self.model = ConsoleModel(extension=None if self.needs_login else session.principal.extension)
        # the embedded default: on screen first, its CRM and gateway opened behind the first frame
        self.model.loading = getattr(session, "opening", False) is True
        self.console_changed: Signal[set[str]] = Signal(self, "console-changed")
        self._theme_name = theme_name
        self._theme_dirs = theme_dirs
        self.keymap = keymap or {}
        # before the stylesheet is first parsed: a theme set on mount would parse it all again
        self._theme_problems = self._install_themes()

    # ---- start ----
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self.call_after_refresh(phones.preload)  # after the first frame, before the first call
        for problem in self._theme_problems:
            self.notify(problem, title=T("theme_problem"), severity="error", timeout=15)
        if self.keymap:
            self._apply_keymap()
        if hasattr(self.session, "on_session_ended"):  # a remote console: any request may learn it
            self.session.on_session_ended = lambda: self.call_later(self.show_login, expired=True)
        if self.needs_login:
            self.show_login()
        else:
            self._begin()

    def _begin(self) -> None:
        self.pump_messages()
        self.switch_mode("monitor" if self.role is Role.SUPERVISOR else "agent")
        if self.model.loading:  # after the first frame: opening the store blocks the loop for a while
            self.call_after_refresh(self.session.start_opening)  # type: ignore[attr-defined]

    # ---- a remote console's login ----
    def show_login(self, *, expired: bool = False) -> None:
        """The login screen, on top of everything open (an expired session loses no typed text)."""
        from tui_caa.ui.screens.login import LoginScreen

        if isinstance(self.screen, LoginScreen):
            return
        info = getattr(self.session, "info", None)  # after an expiry: the account that was logged in
        remembered = info.login if info else self.remembered_login(None) if self.remembered_login else ""
        self.push_screen(LoginScreen(login=remembered, expired=expired), self._logged_in)

    def _logged_in(self, info: SessionInfo | None) -> None:
        if info is None:
            return
        if self.remembered_login is not None:
            self.remembered_login(info.login)
        first = self.needs_login
        self.needs_login = False
        self.role = info.role
        self.simulated = info.simulated
        self.model.extension = info.extension
        if first:
            self._begin()
        else:
            self.pump_messages()  # the stream ended with the session: open it again (a fresh snapshot)

    def _install_themes(self) -> list[str]:
        """Registers the shipped and the user's themes and selects the configured one; returns
        what was wrong with them, to be shown once the console is on screen."""
        loaded = load_themes(shipped_themes_dir(), *self._theme_dirs)
        problems = list(loaded.problems)
        for theme in loaded.themes.values():
            self.register_theme(theme)
        for name in ("ansi-dark", "ansi-light"):  # they ignore the state colours
            self.unregister_theme(name)
        self.console_themes = tuple(sorted(loaded.themes))  # what the palette offers (not Textual's)
        if self._theme_name not in self.available_themes:
            known = ", ".join(sorted(loaded.themes))
            problems.append(T("unknown_theme", name=self._theme_name, default=DEFAULT_THEME, known=known))
            self._theme_name = DEFAULT_THEME
        if self._theme_name not in self.available_themes:  # the shipped files are missing
            self.register_theme(Theme(name=DEFAULT_THEME, primary="#3B8EEA", variables=dict(VARIABLE_DEFAULTS)))
        self.theme = self._theme_name
        return problems

    def action_command_palette(self) -> None:
        from textual.command import CommandPalette

        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(placeholder=T("palette_placeholder"), id="--command-palette"))

    # ---- quitting ----
    async def action_quit(self) -> None:
        """F10 / ctrl+q: at once, unless a call is under way or a screen holds unsaved typing; then
        the agent confirms (quitting never ends the call at the PBX)."""
        from tui_caa.ui.screens.prompts import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen) and self.screen.id == "confirm-quit":
            self.exit()  # the quit key again, on its own question: that is a yes
            return
        reasons = []
        if self.model.my_calls():
            reasons.append(T("quit_call"))
        if any(getattr(screen, "has_unsaved_changes", lambda: False)() for screen in self.screen_stack):
            reasons.append(T("quit_unsaved"))
        if not reasons:
            self.exit()
            return
        def answered(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self.exit()

        question = ConfirmScreen(T("quit_title"), " ".join(reasons), default=False)
        question.id = "confirm-quit"
        self.push_screen(question, answered)

    def _apply_keymap(self) -> None:
        """`tui-caa` refuses a bad [keymap] before the console starts; an app built with one anyway
        (a test, an embedding) says what is wrong and keeps the keys it can."""
        from tui_caa.ui.keymap import all_bindings, keymap_problems

        for problem in keymap_problems(self.keymap):
            self.notify(problem, severity="error", timeout=20)
        known = {b.id for b in all_bindings()}
        try:
            self.set_keymap({k: v for k, v in self.keymap.items() if k in known})
        except Exception as exc:  # noqa: BLE001 - a bad key must not stop the console
            self.notify(T("bad_key", problem=exc), severity="error", timeout=15)

    # ---- the gateway ----
    @work(exclusive=True, group="gateway", exit_on_error=False, description="gateway messages")
    async def pump_messages(self) -> None:
        if self.model.loading and not await self._opened():
            return
        try:
            async for message in self.session.messages():
                changes = self.model.apply(message)
                if changes:
                    self.console_changed.publish(changes)
                if "missed" in changes:
                    self.notify_missed()
                if "failure" in changes:
                    self.notify_failures()
        except Unauthorized:
            pass  # the login screen is on its way (the session said it ended); a new login restarts this

    async def _opened(self) -> bool:
        """Waits for the embedded session; who it is (seller, extension) comes with it."""
        try:
            await self.session.opened()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - whoever opens it reports the failure and ends the console
            return False
        self.model.extension = self.session.principal.extension
        self.model.loading = False
        self.console_changed.publish({"link", "mine"})
        return True

    def refresh_console(self) -> None:
        """Asks every widget to redraw from the model (a screen that mounted after the first
        snapshot arrived has not heard of it)."""
        self.console_changed.publish({"link", "extensions", "calls", "pop"})

    def run_command(self, make: Callable[[], Awaitable[R]], *, done: Callable[[R], None] | None = None,
                    group: str = "command") -> None:
        """Runs a gateway/CRM operation without blocking the keyboard; a refusal becomes a readable
        notification (never a traceback)."""

        async def command() -> None:
            try:
                result = await make()
            except Unauthorized:
                return  # the login screen is on its way (the session said it ended)
            except DomainError as exc:
                self.notify(readable(exc), title=T("error_title"), severity="error", timeout=8)
                return
            except (TimeoutError, OSError) as exc:
                self.notify(str(exc) or type(exc).__name__, title=T("error_title"), severity="error", timeout=8)
                return
            if done is not None:
                done(result)

        self.run_worker(command(), group=group, exit_on_error=False)

    # ---- what any screen can ask for ----
    def dial(self, number: str) -> None:
        from tui_caa.ui.screens.agent import notify_dialing

        self.run_command(lambda: self.session.dial(number), done=lambda call_id: notify_dialing(self, number))

    def open_customer(self, customer_id: int, *, call_id: str | None = None, tab: str | None = None) -> None:
        from tui_caa.ui.screens.customer import CustomerScreen

        self.push_screen(CustomerScreen(customer_id, call_id=call_id, tab=tab))

    def action_find_customer(self, query: str = "") -> None:
        from tui_caa.ui.screens.search import SearchScreen

        def picked(customer: Customer | None) -> None:
            if customer is not None and customer.id is not None:
                self.open_customer(customer.id)

        self.push_screen(SearchScreen(query), picked)

    def action_help(self) -> None:
        from tui_caa.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_show_agent(self) -> None:
        self.switch_mode("agent")

    def action_show_monitor(self) -> None:
        if self.role is not Role.SUPERVISOR:
            self.notify(T("monitor_only"), severity="warning")
            return
        self.switch_mode("monitor")


def _agent_screen() -> Screen:
    from tui_caa.ui.screens.agent import AgentScreen

    return AgentScreen()


def _monitor_screen() -> Screen:
    from tui_caa.ui.screens.monitor import MonitorScreen

    return MonitorScreen()
