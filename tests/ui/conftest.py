"""Pilot tests of the console: the real app on the gateway rig (scripted simulator + SQLite CRM)."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.gateway_fixtures import Rig
from tests.server_fixtures import SUPERVISOR, Site
from tui_caa.protocol.principal import Role
from tui_caa.protocol.session import Session
from tui_caa.remote import RemoteSession
from tui_caa.ui import i18n
from tui_caa.ui.app import CaaApp

SIZE = (160, 48)


@pytest.fixture(autouse=True)
def portuguese_and_steady_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Screens in pt-BR (the default), and no blinking cursor to make snapshots flaky."""
    i18n.set_language("pt_BR")
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None, raising=False)
    monkeypatch.setattr(Input, "cursor_blink", False, raising=False)


@pytest.fixture(autouse=True)
async def no_task_left_hanging() -> AsyncIterator[None]:
    """After the console, the gateway and the CRM have closed, cancels what is left; a task that
    will not end is reported with its stack in seconds, instead of hanging the event loop's close
    until the 300 s timeout with no clue (seen once in CI, under load)."""
    yield
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    for task in left:
        task.cancel()
    if not left:
        return
    _done, stuck = await asyncio.wait(left, timeout=10)
    if stuck:
        stacks = "\n".join(f"{task.get_name()} {task.get_coro()!r}\n" + "".join(traceback.format_stack(frame)
                           for frame in task.get_stack()) for task in stuck)
        pytest.fail(f"{len(stuck)} task(s) ignored cancellation after the test:\n{stacks}")


async def settle(rig: Rig, pilot: Pilot) -> None:
    """The gateway, the CRM and the console all caught up (no fixed sleeps); a remote console also
    has everything the gateway published (its `sync` marker came back through the stream)."""
    session = pilot.app.session  # type: ignore[attr-defined]
    for _ in range(2):
        await rig.settle()
        if isinstance(session, RemoteSession) and session.logged_in:
            await session.sync()
        busy = [w for w in pilot.app.workers if w.group != "gateway" and not w.is_finished]
        if busy:  # (an empty list would mean "all workers", the endless gateway pump included)
            # a worker replaced by a newer one of its group is cancelled: that is settled too
            await asyncio.gather(*(worker.wait() for worker in busy), return_exceptions=True)
        await pilot.pause()


@pytest.fixture(params=["local", "remote"])
def console(rig: Rig, request: pytest.FixtureRequest) -> Callable[..., object]:
    """`async with console() as (app, pilot):` a running console for extension 1001 (or as given),
    in the gateway's process ("local") and logged in to it over a real socket ("remote")."""
    site: Site | None = request.getfixturevalue("site") if request.param == "remote" else None

    @asynccontextmanager
    async def open_console(extension: str = "1001", role: Role = Role.AGENT,
                           size: tuple[int, int] = SIZE, **options: object) -> AsyncIterator[tuple[CaaApp, Pilot]]:
        session: Session
        if site is None:
            session = rig.supervisor if role is Role.SUPERVISOR else rig.sessions[extension]
        else:
            session = await site.console(SUPERVISOR if role is Role.SUPERVISOR else extension, listen=False)
        app = CaaApp(session, role=role, simulated=True, clock=rig.clock, **options)  # type: ignore[arg-type]
        async with app.run_test(size=size) as pilot:
            await settle(rig, pilot)
            yield app, pilot

    return open_console
