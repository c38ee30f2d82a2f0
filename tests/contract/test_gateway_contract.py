"""The PBX link fails, the gateway does not: the same stories on every PBX family, at the gateway.

Each family's harness (tests/contract/harness.py) gives a driver talking over real sockets to a
fake vendor server with the built-in simulator behind it; here a real `Gateway` runs on that
driver with a real CRM (SQLite) and an agent's session at extension 1001. The harness cuts the
link (the vendor server stops listening and drops its connections, the PBX's calls go on) and
restores it. On every family the agent sees the link go down and come back, commands are refused
meanwhile and never sent later, and every call ends up in the CRM exactly once.
"""

from __future__ import annotations

import asyncio
import importlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.contract.test_driver_contract import FAMILIES
from tui_caa.crm import CrmStore
from tui_caa.domain import CallRecord, Seller, TrafficSource
from tui_caa.domain.events import CallAnswered, CallDialing, CallEnded, CallEvent, CallRinging
from tui_caa.domain.telephony import MISSED_DISPOSITIONS, Capability, Direction, Disposition
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.gateway.session import LocalSession
from tui_caa.pbx.base import PbxError
from tui_caa.phones import DialRules
from tui_caa.protocol.messages import GatewayMessage, LinkState, LinkStatus, PbxUpdate, StateSnapshot
from tui_caa.protocol.principal import Principal, Reconnecting, Role

CUSTOMER = "51999887766"  # the caller ID / the number the agent dials
DDR = "5121010005"  # the dealership number the customer dialed
LATER = "51988776655"  # a second customer, after the outage
AGENT = "1001"
WAIT = 10.0  # seconds, for any condition: polling drivers on a loaded 2-core CI machine

def digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


async def until(condition: Callable[[], Any], what: str | Callable[[], str], timeout: float = WAIT) -> Any:
    """Polls `condition` (a function, sync or async) until it returns something truthy; that value.
    `what` names the condition (a function: described when the wait failed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what() if callable(what) else what}")
        await asyncio.sleep(0.01)


class Console:
    """What the agent's console receives, read in the background from the session."""

    def __init__(self, session: LocalSession, gateway: Gateway) -> None:
        self.session, self.gateway = session, gateway
        self.seen: list[GatewayMessage] = []
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for message in self.session.messages():
            self.seen.append(message)

    def mark(self) -> int:
        return len(self.seen)

    def links(self, since: int = 0) -> list[LinkStatus | StateSnapshot]:
        """What told the console the link's state: LinkStatus, or a StateSnapshot (which replaces the
        messages a console had not read yet when the gateway resynced)."""
        return [m for m in self.seen[since:] if isinstance(m, LinkStatus | StateSnapshot)]

    def find(self, kind: type[CallEvent], call_id: str | None = None, since: int = 0) -> CallEvent | None:
        return next((m.event for m in self.seen[since:] if isinstance(m, PbxUpdate) and isinstance(m.event, kind)
                     and m.event.extension == AGENT and call_id in (None, m.event.call_id)), None)

    async def event(self, kind: type[CallEvent], call_id: str | None = None, since: int = 0) -> Any:
        return await until(lambda: self.find(kind, call_id, since), f"{kind.__name__} at {AGENT} on the console")

    async def link(self, state: LinkState, since: int = 0) -> LinkStatus | StateSnapshot:
        """The first message from `since` on that shows the link in `state`."""
        def shown(m: LinkStatus | StateSnapshot) -> bool:
            return (m.state if isinstance(m, LinkStatus) else m.link) is state

        def described() -> str:
            got = [(m.state.value, m.reason) if isinstance(m, LinkStatus) else ("snapshot", m.link.value)
                   for m in self.links(since)]
            return (f"the console shown the PBX link {state.value}; it got {got}; the gateway's link is "
                    f"{self.gateway.link.value} ({self.gateway.link_reason})")
        return await until(lambda: next((m for m in self.links(since) if shown(m)), None), described)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.session.close()


@dataclass
class Rig:
    harness: Any
    gateway: Gateway
    store: CrmStore
    console: Console

    @property
    def family(self) -> str:
        return self.gateway.driver.label

    async def records(self) -> list[CallRecord]:
        await asyncio.wait_for(self.gateway.recorder.drained(), WAIT)
        return [row.call for row in (await self.store.call_history(AGENT)).rows]

    async def record_of(self, call_id: str) -> CallRecord:
        async def found() -> CallRecord | None:
            return next((r for r in await self.records() if r.pbx_call_id == call_id), None)
        return await until(found, f"the record of call {call_id} at {AGENT} in the CRM")

    async def cut(self) -> int:
        """Cuts the link; the console's mark from before the cut, once it showed the link lost."""
        mark = self.console.mark()
        await self.harness.cut_link()
        lost = await self.console.link(LinkState.RECONNECTING, mark)
        assert isinstance(lost, LinkStatus) and lost.reason, lost  # the console says why
        assert self.gateway.link is not LinkState.CONNECTED
        return mark

    async def restore(self, mark: int) -> StateSnapshot:
        """Restores the link; the console must get the resynced picture, with the link connected
        (the gateway resyncs before it says connected, so that picture comes after the driver's
        connected and resynced)."""
        await self.harness.restore_link()
        return await self.resynced(mark)

    async def resynced(self, mark: int) -> StateSnapshot:
        """The resynced picture the console got since `mark`, with the link connected."""
        def resynced() -> StateSnapshot | None:
            return next((m for m in self.console.seen[mark:] if isinstance(m, StateSnapshot)
                         and m.link is LinkState.CONNECTED), None)
        picture = await until(resynced, lambda: f"the console resynced with the link connected; it got "
                              f"{self.console.links(mark)}")
        assert self.gateway.link is LinkState.CONNECTED
        return picture

    async def inbound_answered(self) -> str:
        mark = self.console.mark()
        await self.harness.ring(AGENT, CUSTOMER, DDR)
        ringing = await self.console.event(CallRinging, since=mark)
        if Capability.ANSWER in self.console.session.capabilities():
            await self.console.session.answer(ringing.call_id)
        else:
            await self.harness.pick_up(AGENT)
        await self.console.event(CallAnswered, ringing.call_id, mark)
        return ringing.call_id

    async def outbound_answered(self) -> str:
        mark = self.console.mark()
        await self.console.session.dial(CUSTOMER)
        dialing = await self.console.event(CallDialing, since=mark)
        await self.harness.remote_answer(AGENT)
        await self.console.event(CallAnswered, dialing.call_id, mark)
        return dialing.call_id

    async def missed_call_after(self, *earlier: str) -> None:
        """A later call is recorded normally, and the earlier ones are not recorded again."""
        mark = self.console.mark()
        await self.harness.ring(AGENT, LATER, DDR)
        ringing = await self.console.event(CallRinging, since=mark)
        await self.harness.remote_hangup(AGENT)
        record = await self.record_of(ringing.call_id)
        assert record.missed and digits(record.remote_raw).endswith(LATER[-8:]), record
        records = await self.records()
        assert sorted(r.pbx_call_id for r in records) == sorted([*earlier, ringing.call_id]), records
        assert self.gateway.recorder.written == len(earlier) + 1, "a call was written to the CRM twice"
        assert not self.gateway.recorder._outbox.refused()


async def _rig(harness: Any, store: CrmStore, tmp_path: Path) -> tuple[Gateway, LocalSession]:
    await store.save_traffic_source(TrafficSource(name="Jornal", ddr_raw=DDR))
    seller = await store.save_seller(Seller(name="Vendedor 1001", extension=AGENT))
    gateway = Gateway(harness.driver, store, Outbox(tmp_path / "outbox.sqlite3"), dial_rules=DialRules(site_ddd="51"),
                      backoff=(0.02, 0.2))
    await gateway.start()
    return gateway, LocalSession(gateway, Principal(Role.AGENT, AGENT, seller.name), seller=seller)


@pytest.fixture(params=list(FAMILIES))
def family(request: pytest.FixtureRequest) -> Any:
    return importlib.import_module(FAMILIES[request.param])


async def _running(family: Any, store: CrmStore, tmp_path: Path, *, connected: bool) -> AsyncIterator[Rig]:
    async with family.make(tmp_path, connected=connected) as harness:
        if not connected:
            await harness.cut_link()  # the PBX is down when the gateway starts
        gateway, session = await _rig(harness, store, tmp_path)
        console = Console(session, gateway)
        try:
            if connected:
                await asyncio.wait_for(gateway.wait_connected(), WAIT)
            yield Rig(harness, gateway, store, console)
        finally:
            await console.close()
            await gateway.stop()


@pytest.fixture
async def rig(family: Any, store: CrmStore, tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in _running(family, store, tmp_path, connected=True):
        yield made


@pytest.fixture
async def rig_pbx_down(family: Any, store: CrmStore, tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in _running(family, store, tmp_path, connected=False):
        yield made


def _check(record: CallRecord, call_id: str, direction: Direction) -> None:
    assert (record.pbx_call_id, record.extension, record.direction) == (call_id, AGENT, direction), record
    assert record.answered_at is not None and record.disposition is Disposition.ANSWERED and not record.missed, record
    assert digits(record.remote_raw).endswith(CUSTOMER[-8:]), record
    if direction is Direction.INBOUND:
        assert digits(record.ddr_raw).endswith(DDR[-8:]), record


# ---- a. a call under way when the link is cut ----------------------------------------------------

@pytest.mark.parametrize("direction", [Direction.INBOUND, Direction.OUTBOUND], ids=["inbound", "outbound"])
@pytest.mark.parametrize("ends", ["after the link returns", "during the outage"], ids=["ends-after", "ends-during"])
async def test_a_call_under_way_when_the_link_is_cut_is_recorded_once(rig: Rig, direction: Direction, ends: str):
    call_id = await (rig.inbound_answered() if direction is Direction.INBOUND else rig.outbound_answered())

    mark = await rig.cut()
    with pytest.raises(Reconnecting) as refused:
        await rig.console.session.hangup(call_id)
    assert "reconnecting" in str(refused.value) and "try again when it is connected" in str(refused.value), refused
    if ends == "during the outage":
        await rig.harness.remote_hangup(AGENT)

    picture = await rig.restore(mark)
    under_way = [c.call_id for c in picture.pbx.calls if c.extension == AGENT]
    if ends == "after the link returns":
        # the refused hang-up was not sent later: the call is still up, at the PBX and on the console
        assert under_way == [call_id], picture.pbx.calls
        await rig.harness.remote_hangup(AGENT)
        ended = await rig.console.event(CallEnded, call_id, mark)
        assert ended.disposition is Disposition.ANSWERED
    else:
        assert under_way == [], picture.pbx.calls
    _check(await rig.record_of(call_id), call_id, direction)
    await rig.missed_call_after(call_id)


# ---- b. a call that starts and ends while the link is down ---------------------------------------

@pytest.mark.parametrize("answered", [True, False], ids=["answered", "missed"])
async def test_a_call_entirely_inside_an_outage_is_recorded_once_the_link_returns(rig: Rig, answered: bool):
    if rig.harness.unseen_in_outage:
        pytest.skip(f"{rig.family}: {rig.harness.unseen_in_outage}")
    mark = await rig.cut()
    await rig.harness.ring(AGENT, CUSTOMER, DDR)
    await until(lambda: rig.harness.ringing(AGENT), f"{AGENT} ringing at the PBX")
    if answered:
        await rig.harness.pick_up(AGENT)
    await rig.harness.remote_hangup(AGENT)
    assert await rig.records() == [], "nothing can be recorded before the link returns"

    await rig.restore(mark)
    [record] = await until(rig.records, "the call of the outage in the CRM")
    assert (record.extension, record.direction) == (AGENT, Direction.INBOUND), record
    assert digits(record.remote_raw).endswith(CUSTOMER[-8:]) and digits(record.ddr_raw).endswith(DDR[-8:]), record
    if answered:
        assert record.answered_at is not None and record.disposition is Disposition.ANSWERED, record
    else:
        assert record.missed and record.disposition in MISSED_DISPOSITIONS, record
    await rig.missed_call_after(record.pbx_call_id)


# ---- c. the PBX is down when the gateway starts --------------------------------------------------

async def test_the_gateway_starts_with_the_pbx_down_and_connects_when_it_comes_up(rig_pbx_down: Rig):
    rig = rig_pbx_down
    await rig.console.link(LinkState.DOWN)
    await until(lambda: rig.gateway.link_reason != "not connected yet", "a first connect() attempt failed")
    assert rig.gateway.link is LinkState.DOWN and rig.gateway.link_reason, "the gateway must say why the link is down"
    with pytest.raises(Reconnecting, match="the PBX link is down .*try again when it is connected"):
        await rig.console.session.dial(CUSTOMER)

    await rig.restore(0)
    assert rig.gateway.link is LinkState.CONNECTED
    call_id = await rig.inbound_answered()
    await rig.harness.remote_hangup(AGENT)
    _check(await rig.record_of(call_id), call_id, Direction.INBOUND)


# ---- d. the link drops again while the gateway resyncs -------------------------------------------

async def test_a_link_lost_again_during_the_resync_still_comes_back(rig: Rig):
    call_id = await rig.inbound_answered()
    mark = await rig.cut()
    driver = rig.gateway.driver
    original = driver.snapshot
    restored = asyncio.Event()  # the harness is done restoring (a driver may reconnect before it returns)
    flapped = asyncio.Event()

    async def flapping() -> Any:
        """The gateway's snapshot after the driver resynced: the link is lost again right then."""
        driver.snapshot = original  # type: ignore[method-assign]  # once
        await restored.wait()
        await rig.harness.cut_link()

        async def refused() -> PbxError | None:
            try:
                await original()
            except PbxError as exc:
                return exc
            return None
        lost = await until(refused, "the driver noticed the link lost again")
        flapped.set()
        raise lost

    driver.snapshot = flapping  # type: ignore[method-assign]
    await rig.harness.restore_link()
    restored.set()
    await asyncio.wait_for(flapped.wait(), WAIT)  # the gateway resynced, and the link flapped right then
    await rig.harness.restore_link()
    # connected again; or stuck for good on a driver the gateway closed itself (fail at once)
    await until(lambda: rig.gateway.link is LinkState.CONNECTED or rig.gateway.link_reason.endswith("is closed"),
                "the gateway connected again")
    assert rig.gateway.link is LinkState.CONNECTED, rig.gateway.link_reason
    picture = await rig.resynced(mark)
    assert [c.call_id for c in picture.pbx.calls if c.extension == AGENT] == [call_id], picture.pbx.calls
    await rig.harness.remote_hangup(AGENT)
    _check(await rig.record_of(call_id), call_id, Direction.INBOUND)
