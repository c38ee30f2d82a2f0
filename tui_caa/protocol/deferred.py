"""A session that is still being opened: the embedded default puts its console on screen first and
opens the CRM store, the demo (first start), the PBX driver and the gateway behind that first frame.

Until the real session is there: `principal` is what the command line said, `capabilities()` is
empty (no call action is offered yet), `caller_id_rules()` the configured ones, and every request
(and the message stream) waits for it; a failed opening is raised by each of them."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from tui_caa.domain.telephony import Capability
from tui_caa.phones import CallerIdRules
from tui_caa.protocol.messages import GatewayMessage
from tui_caa.protocol.principal import Principal
from tui_caa.protocol.session import Session

# the Session protocol's requests: forwarded once the real session is open
_REQUESTS = frozenset(name for name, value in vars(Session).items() if inspect.iscoroutinefunction(value))


class DeferredSession:
    def __init__(self, principal: Principal, opener: Callable[[], Awaitable[Session]], *,
                 rules: CallerIdRules | None = None) -> None:
        self.principal = principal
        self._opener = opener
        self._rules = rules or CallerIdRules()
        self._task: asyncio.Task[Session] | None = None
        self._started = asyncio.Event()  # requests made before the first frame wait for it
        self.session: Session | None = None

    @property
    def opening(self) -> bool:
        """True until the real session is there (the console shows "loading")."""
        return self.session is None

    def start_opening(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._open(), name="open embedded session")
            self._started.set()

    async def _open(self) -> Session:
        session = await self._opener()
        self.session = session
        self.principal = session.principal
        return session

    async def opened(self) -> Session:
        """The real session, once `start_opening` (called after the first frame) has opened it."""
        await self._started.wait()
        assert self._task is not None
        return await asyncio.shield(self._task)  # a cancelled waiter does not cancel the opening

    async def cancel_opening(self) -> None:
        """At exit: an opening still under way is stopped (its opener closes what it opened)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except BaseException:  # noqa: BLE001 - cancelled or failed: either way nothing to wait for
                pass

    def capabilities(self) -> frozenset[Capability]:
        return self.session.capabilities() if self.session is not None else frozenset()

    def caller_id_rules(self) -> CallerIdRules:
        return self.session.caller_id_rules() if self.session is not None else self._rules

    async def messages(self) -> AsyncIterator[GatewayMessage]:
        session = await self.opened()
        async for message in session.messages():
            yield message

    async def close(self) -> None:
        await self.cancel_opening()
        if self.session is not None:
            await self.session.close()

    def __getattr__(self, name: str) -> Any:
        if name not in _REQUESTS:
            raise AttributeError(name)

        async def request(*args: Any, **kwargs: Any) -> Any:
            session = await self.opened()
            return await getattr(session, name)(*args, **kwargs)

        request.__name__ = name
        return request
