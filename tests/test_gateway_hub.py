"""Fan-out to consoles: who gets what, and a slow console never blocks anyone."""

import asyncio

from tests.conftest import T0
from tui_caa.domain import ExtensionState
from tui_caa.domain.events import ExtensionStateChanged, PbxSnapshot
from tui_caa.gateway.hub import Hub
from tui_caa.protocol.messages import LinkState, LinkStatus, PbxUpdate, StateSnapshot


def snapshots(extension):  # type: ignore[no-untyped-def]
    return StateSnapshot(PbxSnapshot(at=T0, extensions={extension or "*": ExtensionState.IDLE}), LinkState.CONNECTED)


def update(ext: str) -> PbxUpdate:
    return PbxUpdate(ExtensionStateChanged(at=T0, extension=ext, state=ExtensionState.RINGING))


async def test_agent_gets_its_extension_supervisor_everything_snapshot_first() -> None:
    hub = Hub(snapshots)
    agent, other, supervisor = hub.subscribe("1001"), hub.subscribe("1002"), hub.subscribe(None)
    for sub in (agent, other, supervisor):
        first = await sub.get()
        assert isinstance(first, StateSnapshot)
    hub.publish("1001", update("1001"))
    hub.publish("1002", update("1002"))
    hub.publish(None, LinkStatus(LinkState.RECONNECTING, "x"))
    assert [m.event.extension for m in await agent.get_batch() if isinstance(m, PbxUpdate)] == ["1001"]
    assert [m.event.extension for m in await other.get_batch() if isinstance(m, PbxUpdate)] == ["1002"]
    everything = await supervisor.get_batch()
    assert [type(m).__name__ for m in everything] == ["PbxUpdate", "PbxUpdate", "LinkStatus"]


async def test_slow_subscriber_gets_a_fresh_snapshot_instead_of_the_lost_events() -> None:
    built: list[str | None] = []

    def snapshot(extension):  # type: ignore[no-untyped-def]
        built.append(extension)
        return snapshots(extension)

    hub = Hub(snapshot, maxsize=10)
    slow, fast = hub.subscribe("1001"), hub.subscribe("1001", maxsize=1000)
    await slow.get(), await fast.get()
    for _ in range(25):
        hub.publish("1001", update("1001"))  # never waits for anybody
    assert len(await fast.get_batch(limit=100)) == 25
    first = await slow.get()
    assert isinstance(first, StateSnapshot) and slow.overflows >= 1
    assert built == ["1001", "1001", "1001"]  # built when read, so it is current
    hub.publish("1001", update("1001"))
    assert isinstance(await slow.get(), PbxUpdate)


async def test_waiting_reader_wakes_and_close_ends_iteration() -> None:
    hub = Hub(snapshots)
    sub = hub.subscribe(None)
    await sub.get()
    reader = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0)
    hub.publish("1001", update("1001"))
    assert isinstance(await reader, PbxUpdate)
    sub.close()
    assert [m async for m in sub] == [] and hub.subscriptions() == []
