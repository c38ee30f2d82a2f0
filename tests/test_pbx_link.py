"""LinkedDriver, the link plumbing the PBX drivers share: backoff, the announced sequence, the
NotConnected messages, the retry loop and close()."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from itertools import islice
from typing import Any

import pytest
from pydantic import SecretStr

from tui_caa.domain.events import DriverConnected, DriverDisconnected, PbxEvent, PbxSnapshot
from tui_caa.pbx.asterisk.driver import AsteriskDriver
from tui_caa.pbx.base import NotConnected
from tui_caa.pbx.digitro.driver import DigitroDriver
from tui_caa.pbx.forip.driver import ForipDriver
from tui_caa.pbx.link import LinkedDriver, backoff
from tui_caa.pbx.planetfone.driver import PlanetfoneDriver

TIMEOUT = 2.0


class Probe(LinkedDriver):
    """The smallest linked driver: a pump that waits until told to lose the link."""

    kind = "probe"
    label = "Probe"

    def __init__(self, name: str | None = None, event_backlog: int = 100) -> None:
        super().__init__(name, event_backlog)
        self.shut_down: list[str] = []
        self.lose = asyncio.Event()

    @classmethod
    def from_entry(cls, entry: Any, **options: Any) -> Probe:
        return cls()

    async def connect(self) -> None:
        self._require_open()
        self._link_established()

    async def snapshot(self) -> PbxSnapshot:
        raise NotImplementedError

    def _down_message(self) -> str:
        return f"the probe is down{self._outage_note()}"

    async def _pump(self) -> None:
        await self.lose.wait()
        self._link_lost("cable cut")

    async def _shut_down(self) -> None:
        self.shut_down.append("pump running" if self._pump_task and not self._pump_task.done() else "pump done")
        await self._stop_pump()
        self._announce_down("shutting down")  # still delivered: the stream closes after this


async def take(events: AsyncIterator[PbxEvent], n: int) -> list[PbxEvent]:
    return [await asyncio.wait_for(anext(events), TIMEOUT) for _ in range(n)]


async def _all(events: AsyncIterator[PbxEvent]) -> list[PbxEvent]:
    return [event async for event in events]


def kinds(events: list[PbxEvent]) -> list[str]:
    return [type(event).__name__ for event in events]


# ---- backoff ----

def test_backoff_doubles_up_to_the_maximum_and_stays_there() -> None:
    assert list(islice(backoff(0.5, 6.0), 7)) == [0.5, 1.0, 2.0, 4.0, 6.0, 6.0, 6.0]


def test_backoff_whose_first_wait_is_the_maximum_never_grows() -> None:
    assert list(islice(backoff(30.0, 30.0), 3)) == [30.0, 30.0, 30.0]


# ---- the announced sequence and the link's state ----

async def test_connect_announces_connected_then_resynced_and_starts_the_pump() -> None:
    drv = Probe(name="Lab")
    assert not drv.connected
    await drv.connect()
    assert drv.connected and drv._pump_task is not None and drv._pump_task.get_name() == "probe-pump Lab"
    events = drv.events()
    up = await take(events, 2)
    assert kinds(up) == ["DriverConnected", "DriverResynced"]
    assert isinstance(up[0], DriverConnected) and up[0].pbx == "Lab" and up[0].at == up[1].at
    await drv.close()


async def test_a_lost_link_says_why_and_a_restored_one_counts_a_reconnect() -> None:
    drv = Probe()
    await drv.connect()
    events = drv.events()
    await take(events, 2)
    drv.lose.set()
    (lost,) = await take(events, 1)
    assert isinstance(lost, DriverDisconnected) and lost.reason == "cable cut"
    assert not drv.connected and drv.reconnects == 0
    with pytest.raises(NotConnected) as refused:
        drv._require_link()
    assert str(refused.value) == "Probe: the probe is down (cable cut)"
    drv._link_restored()
    assert kinds(await take(events, 2)) == ["DriverConnected", "DriverResynced"]
    assert drv.connected and drv.reconnects == 1 and drv._outage == ""
    drv._require_link()  # up: no error
    await drv.close()


async def test_not_connected_before_connect_names_what_is_down_without_a_reason() -> None:
    drv = Probe(name="Lab")
    with pytest.raises(NotConnected) as refused:
        drv._require_link()
    assert str(refused.value) == "Lab: the probe is down"


async def test_a_closed_driver_refuses_connect_and_commands_and_closes_once() -> None:
    drv = Probe(name="Lab")
    await drv.connect()
    await drv.close()
    await drv.close()  # a second close does nothing
    assert drv.shut_down == ["pump running"] and not drv.connected
    assert drv._pump_task is not None and drv._pump_task.cancelled()
    with pytest.raises(NotConnected) as refused:
        await drv.connect()
    assert str(refused.value) == "Lab: the driver is closed"
    with pytest.raises(NotConnected) as refused:
        drv._require_link()
    assert str(refused.value) == "Lab: the driver is closed"


async def test_events_put_before_and_during_close_are_read_then_the_stream_ends() -> None:
    drv = Probe()
    await drv.connect()
    await drv.close()
    got = await asyncio.wait_for(_all(drv.events()), TIMEOUT)  # ends: the stream is closed
    assert kinds(got) == ["DriverConnected", "DriverResynced", "DriverDisconnected"]
    assert isinstance(got[2], DriverDisconnected) and got[2].reason == "shutting down"


# ---- the retry loop ----

async def test_retry_waits_the_backoff_before_each_attempt_until_one_works() -> None:
    drv = Probe()
    waits: list[float] = []
    attempts = 0

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def attempt() -> bool:
        nonlocal attempts
        attempts += 1
        return attempts == 5

    drv._sleep = sleep  # type: ignore[method-assign]
    assert await drv._retry(attempt, 0.1, 0.5) is True
    assert waits == [0.1, 0.2, 0.4, 0.5, 0.5] and attempts == 5
    await drv.close()


async def test_retry_stops_without_success_once_the_driver_is_closed() -> None:
    drv = Probe()
    attempts = 0

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    async def attempt() -> bool:
        nonlocal attempts
        attempts += 1
        if attempts == 3:
            await drv.close()
        return False

    drv._sleep = sleep  # type: ignore[method-assign]
    assert await drv._retry(attempt, 0.01, 0.01) is False
    assert attempts == 3


async def test_retry_on_a_closed_driver_attempts_nothing() -> None:
    drv = Probe()
    await drv.close()

    async def attempt() -> bool:
        raise AssertionError("no attempt after close")

    assert await drv._retry(attempt, 0.01, 0.01) is False


# ---- the four drivers use it ----

def drivers() -> list[LinkedDriver]:
    secret = SecretStr("x")
    return [AsteriskDriver("127.0.0.1", 1, "u", secret, name="A"), DigitroDriver("http://127.0.0.1:1", secret, name="D"),
            PlanetfoneDriver("http://127.0.0.1:1/wenvpabx2", name="P"),
            ForipDriver("http://127.0.0.1:1/api", "a@b.c", secret, name="F")]


@pytest.mark.parametrize("index, message", [
    (0, "A: not connected to the Asterisk manager"),
    (1, "D: the Dígitro event channel is down; reconnecting"),
    (2, "P: not connected to the Planetfone SOAP service at http://127.0.0.1:1/wenvpabx2"),
    (3, "F: not connected to ForIP (call connect() first)"),
])
async def test_each_driver_refuses_commands_before_connect_with_its_own_message(index: int, message: str) -> None:
    drv = drivers()[index]
    try:
        assert isinstance(drv, LinkedDriver) and not drv.connected and drv.reconnects == 0
        with pytest.raises(NotConnected) as refused:
            await drv.snapshot()
        assert str(refused.value) == message
        await drv.close()
        with pytest.raises(NotConnected) as refused:
            await drv.snapshot()
        assert str(refused.value) == f"{drv.name}: the driver is closed"
    finally:
        await drv.close()


async def test_an_asterisk_command_is_refused_by_the_link_check_not_a_stub() -> None:
    # AmiCommands comes first in AsteriskDriver's bases: it must not shadow LinkedDriver._require_link
    drv = AsteriskDriver("127.0.0.1", 1, "u", SecretStr("x"), name="A")
    with pytest.raises(NotConnected, match="A: not connected to the Asterisk manager"):
        await drv.hangup("1001", "some-call")
    await drv.close()

