"""LinkedDriver, the link plumbing the PBX drivers share: backoff, the announced sequence, the
NotConnected messages, the retry loop and close()."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from itertools import islice
from typing import Any

import pytest
from pydantic import SecretStr

from tui_caa.domain.events import DriverConnected, DriverDisconnected, PbxEvent, PbxSnapshot
from tui_caa.pbx.asterisk.driver import AsteriskDriver
from tui_caa.pbx.base import NotConnected
from tui_caa.pbx.digitro.driver import DigitroDriver
from tui_caa.pbx.forip.driver import ForipDriver
from tui_caa.pbx.link import LinkedDriver, PumpedDriver, backoff
from tui_caa.pbx.planetfone.driver import PlanetfoneDriver

TIMEOUT = 2.0


class Probe(PumpedDriver):
    """The smallest linked driver: its pump loses the link when told to; its first `failures`
    reconnect attempts are refused; the backoff's waits are recorded, not slept."""

    kind = "probe"
    label = "Probe"

    def __init__(self, name: str | None = None, event_backlog: int = 100, *, failures: int = 0) -> None:
        super().__init__(name, event_backlog, reconnect_delay=0.1, reconnect_max_delay=0.5)
        self.failures = failures
        self.attempts = 0
        self.waits: list[float] = []
        self._sleep = self._record_wait  # type: ignore[method-assign]
        self.shut_down: list[str] = []
        self.lose = asyncio.Event()

    async def _record_wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)

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
        while not self._closed:
            await self.lose.wait()
            self.lose.clear()
            self._link_lost("cable cut")
            await self._reconnect()

    async def _try_reconnect(self) -> bool:
        self.attempts += 1
        if self.attempts <= self.failures:
            self._outage = f"attempt {self.attempts} refused"
            return False
        return True

    async def _shut_down(self) -> None:
        self.shut_down.append("pump running" if self._pump_task and not self._pump_task.done() else "pump done")
        await self._stop_pump()
        self._announce_down("shutting down")  # still delivered: the stream closes after this


async def take(events: AsyncIterator[PbxEvent], n: int) -> list[PbxEvent]:
    return [await asyncio.wait_for(anext(events), TIMEOUT) for _ in range(n)]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            await asyncio.sleep(0)


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


async def test_a_lost_link_is_retried_with_backoff_then_announced_up_and_counted() -> None:
    drv = Probe(failures=5)
    refusals: list[str] = []
    attempt = drv._try_reconnect

    async def watched_attempt() -> bool:  # what a command hears before each attempt
        with pytest.raises(NotConnected) as refused:
            drv._require_link()
        refusals.append(str(refused.value))
        return await attempt()

    drv._try_reconnect = watched_attempt  # type: ignore[method-assign]
    await drv.connect()
    events = drv.events()
    await take(events, 2)
    drv.lose.set()
    got = await take(events, 3)
    assert kinds(got) == ["DriverDisconnected", "DriverConnected", "DriverResynced"]
    assert isinstance(got[0], DriverDisconnected) and got[0].reason == "cable cut"
    assert drv.waits == [0.1, 0.2, 0.4, 0.5, 0.5, 0.5] and drv.attempts == 6
    assert refusals == ["Probe: the probe is down (cable cut)"] + [
        f"Probe: the probe is down (attempt {n} refused)" for n in range(1, 6)]
    assert drv.connected and drv.reconnects == 1 and drv._outage == ""
    drv._require_link()  # up: no error
    drv.lose.set()  # a second outage starts the backoff again from the first wait
    assert kinds(await take(events, 3)) == ["DriverDisconnected", "DriverConnected", "DriverResynced"]
    assert drv.waits[6:] == [0.1] and drv.reconnects == 2
    await drv.close()


async def test_reconnecting_stops_quietly_when_the_driver_is_closed() -> None:
    drv = Probe(failures=1_000_000)
    await drv.connect()
    events = drv.events()
    await take(events, 2)
    drv.lose.set()
    await take(events, 1)  # DriverDisconnected; attempts go on failing
    await until(lambda: drv.attempts >= 3)
    await drv.close()
    assert drv._pump_task is not None and drv._pump_task.done() and drv.reconnects == 0
    rest = await asyncio.wait_for(_all(events), TIMEOUT)
    assert kinds(rest) == ["DriverDisconnected"]  # the probe's own "shutting down": nothing announced up


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
    attempts = 0

    async def attempt() -> bool:
        nonlocal attempts
        attempts += 1
        return attempts == 5

    assert await drv._retry(attempt) is True
    assert drv.waits == [0.1, 0.2, 0.4, 0.5, 0.5] and attempts == 5
    assert drv.reconnects == 0  # _retry alone announces and counts nothing (ForIP's parts do that)
    await drv.close()


async def test_retry_stops_without_success_once_the_driver_is_closed() -> None:
    drv = Probe()
    attempts = 0

    async def attempt() -> bool:
        nonlocal attempts
        attempts += 1
        if attempts == 3:
            await drv.close()
        return False

    assert await drv._retry(attempt) is False
    assert attempts == 3


async def test_retry_on_a_closed_driver_attempts_nothing() -> None:
    drv = Probe()
    await drv.close()

    async def attempt() -> bool:
        raise AssertionError("no attempt after close")

    assert await drv._retry(attempt) is False and drv.waits == []


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

