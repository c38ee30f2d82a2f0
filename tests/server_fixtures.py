"""The gateway rig served over a real loopback socket (uvicorn), with login accounts: what remote
consoles and API tests talk to."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import uvicorn
from argon2 import PasswordHasher
from pydantic import SecretStr

from tests.gateway_fixtures import Rig
from tui_caa.crm import passwords
from tui_caa.domain import Account, Role
from tui_caa.remote import RemoteSession
from tui_caa.server.app import GatewayApi
from tui_caa.server.auth import Authenticator

PASSWORD = "senha-forte-1"
AGENTS = ("1001", "1002", "1003")
SUPERVISOR = "supervisora"


@dataclass
class Site:
    rig: Rig
    api: GatewayApi
    url: str
    opened: list[RemoteSession] = field(default_factory=list)

    async def console(self, login: str, password: str = PASSWORD, *, listen: bool = True) -> RemoteSession:
        """A remote session logged in as `login`; with `listen`, its messages are collected in
        `session.received` by a task (as a console's pump would)."""
        session = RemoteSession(self.url, backoff=(0.05, 0.2))
        await session.login(login, SecretStr(password))
        self.opened.append(session)
        if listen:
            session.received = []  # type: ignore[attr-defined]

            async def pump() -> None:
                async for message in session.messages():
                    session.received.append(message)  # type: ignore[attr-defined]

            session.pump = asyncio.ensure_future(pump())  # type: ignore[attr-defined]
            await self.caught_up(session)
        return session

    async def caught_up(self, *sessions: RemoteSession) -> None:
        """The gateway settled, and everything it published reached each session."""
        await self.rig.settle()
        for session in sessions or self.opened:
            if getattr(session, "pump", None) is not None and session.logged_in:
                await session.sync()

    async def close(self) -> None:
        for session in self.opened:
            pump = getattr(session, "pump", None)
            if pump is not None:
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
            await session.close()


class Serving:
    """uvicorn on a free loopback port, in this event loop."""

    def __init__(self, api: GatewayApi) -> None:
        self.api = api
        self.server = uvicorn.Server(uvicorn.Config(api.app(), host="127.0.0.1", port=0, log_config=None,
                                                    access_log=False, lifespan="off"))
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        self.task = asyncio.ensure_future(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for subscription in self.api.gateway.hub.subscriptions():
            subscription.close()
        self.server.should_exit = True
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)


async def add_accounts(rig: Rig) -> None:
    for extension in AGENTS:
        await rig.store.create_account(Account(login=extension, role=Role.AGENT, extension=extension),
                                       SecretStr(PASSWORD))
    await rig.store.create_account(Account(login=SUPERVISOR, role=Role.SUPERVISOR, extension="1009"),
                                   SecretStr(PASSWORD))


@pytest.fixture
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its lowest cost: the tests log in often (the real cost is the library's default)."""
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
async def site(rig: Rig, cheap_passwords: None) -> AsyncIterator[Site]:
    await add_accounts(rig)
    api = GatewayApi(rig.gateway, Authenticator(rig.gateway, rig.store, session_ttl=timedelta(hours=8),
                                                simulated=True, recheck=0.0), heartbeat=0.5)
    serving = Serving(api)
    made = Site(rig, api, await serving.start())
    yield made
    await made.close()
    await serving.stop()
