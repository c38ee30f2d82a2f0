"""Who is calling the API: the login token, checked against the CRM, turned into a console's session.

The principal (role, extension) comes from the account, never from the request. A token is looked
up in the CRM at most every `recheck` seconds per token, so that a command costs no extra query
while a revoked or disabled account still loses access within that time (`tui-caa user revoke`
runs in another process: the CRM is where the gateway learns of it)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

from tui_caa.crm import CrmStore
from tui_caa.domain import Seller
from tui_caa.domain.accounts import Account
from tui_caa.domain.errors import InvalidCredentials, SessionExpired
from tui_caa.gateway.service import Gateway
from tui_caa.gateway.session import LocalSession
from tui_caa.protocol.api import SessionInfo
from tui_caa.protocol.link_errors import TooManyAttempts, Unauthorized
from tui_caa.protocol.principal import Principal

# how long a checked token is trusted before the CRM is asked again (a revoked or disabled account
# loses access within this time; 500 consoles cost the CRM ~17 token reads a second)
RECHECK_SECONDS = 30.0


@dataclass
class Console:
    """One logged-in console: its account and the session that acts for it."""

    token: str
    account: Account
    session: LocalSession
    checked_at: float
    expires_at: datetime

    @property
    def principal(self) -> Principal:
        return self.session.principal


class Throttle:
    """Failed logins per key (a login, an address): `limit` failures within `window` seconds lock
    the key until the oldest of them leaves the window."""

    def __init__(self, limit: int = 5, window: float = 300.0, *, max_keys: int = 10_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._failures: dict[str, deque[float]] = {}

    def wait_seconds(self, key: str, now: float) -> float:
        failures = self._failures.get(key)
        if not failures:
            return 0.0
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(failures) < self.limit:
            return 0.0
        return failures[0] + self.window - now

    def failed(self, key: str, now: float) -> None:
        if key not in self._failures and len(self._failures) >= self.max_keys:
            self._failures.pop(next(iter(self._failures)))  # an address flood must not grow memory
        self._failures.setdefault(key, deque(maxlen=self.limit)).append(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


class Authenticator:
    def __init__(self, gateway: Gateway, store: CrmStore, *, session_ttl: timedelta, recheck: float = RECHECK_SECONDS,
                 simulated: bool = False, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.gateway = gateway
        self.store = store
        self.session_ttl = session_ttl
        self.recheck = recheck
        self.simulated = simulated
        self.by_login = Throttle()
        self.by_address = Throttle(limit=20)
        self._consoles: dict[str, Console] = {}
        self._now = monotonic

    async def login(self, login: str, password: SecretStr, address: str | None) -> tuple[str, SessionInfo]:
        login = login.strip().lower()
        now = self._now()
        wait = max(self.by_login.wait_seconds(login, now), self.by_address.wait_seconds(address or "", now))
        if wait > 0:
            await self.store.audit("login_throttled", login=login, address=address)
            raise TooManyAttempts(f"too many failed logins; try again in {int(wait) + 1} s", field="login")
        try:
            account = await self.store.verify_login(login, password)
        except InvalidCredentials:
            self.by_login.failed(login, now)
            self.by_address.failed(address or "", now)
            await self.store.audit("login_failed", login=login, address=address)
            raise
        self.by_login.succeeded(login)
        token = await self.store.open_auth_session(account, ttl=self.session_ttl, address=address)
        await self.store.audit("login", login=account.login, address=address)
        console = await self._console(token, account, self.store.clock() + self.session_ttl)
        return token, self.info(console)

    async def console(self, token: str | None) -> Console:
        """The console of a token; Unauthorized (401) when it has none or it ended."""
        if not token:
            raise Unauthorized("log in first: this request has no session token", field="authorization")
        console = self._consoles.get(token)
        if console is not None and self._now() - console.checked_at < self.recheck:
            return console
        try:
            account, auth_session = await self.store.auth_session(token)
        except SessionExpired as exc:
            self.forget(token)
            raise Unauthorized(str(exc), field="authorization") from None
        if console is not None and console.account == account:
            console.checked_at = self._now()
            return console
        self.forget(token)
        return await self._console(token, account, auth_session.expires_at)

    async def logout(self, token: str, address: str | None) -> None:
        console = await self.console(token)
        await self.store.close_auth_session(token)
        await self.store.audit("logout", login=console.account.login, address=address)
        self.forget(token)

    def forget(self, token: str) -> None:
        self._consoles.pop(token, None)

    async def _console(self, token: str, account: Account, expires_at: datetime) -> Console:
        seller = await self._seller(account)
        name = seller.name if seller else account.login
        principal = Principal(account.role, account.extension, name)
        console = Console(token, account, LocalSession(self.gateway, principal, seller=seller), self._now(),
                          expires_at)
        self._consoles[token] = console
        return console

    async def _seller(self, account: Account) -> Seller | None:
        if account.seller_id is None:
            return None
        found = next((s for s in await self.store.sellers() if s.id == account.seller_id), None)
        return found.model_copy(update={"extension_password": None}) if found else None

    def info(self, console: Console) -> SessionInfo:
        principal = console.principal
        return SessionInfo(login=console.account.login, role=principal.role, extension=principal.extension,
                           name=principal.name, seller=console.session.seller,
                           capabilities=self.gateway.capabilities, caller_id_rules=self.gateway.caller_id_rules,
                           simulated=self.simulated, expires_at=console.expires_at)
