"""One set of user stories, run on every PBX family within its capabilities.

Each family's harness (`tests/<family>/harness.py`) runs the built-in simulator behind a fake
server that speaks the vendor's protocol; the driver under test talks to it over real sockets. The
stories only use the driver's public interface and its domain events, so a family passes exactly
when an agent would see the same thing on it as on any other PBX.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tui_caa.domain.events import (
    CallAnswered,
    CallDialing,
    CallEnded,
    CallEvent,
    CallHeld,
    CallResumed,
    CallRinging,
    CallTransferred,
    CommandFailed,
    PbxEvent,
)
from tui_caa.domain.telephony import ALL_CAPABILITIES, MISSED_DISPOSITIONS, Capability, Direction, Disposition
from tui_caa.pbx.base import PbxDriver, PbxError, Unsupported

FAMILIES = {
    "simulator": "tests.contract.sim_harness",
    "digitro": "tests.digitro.harness",
    "forip": "tests.forip.harness",
    "planetfone": "tests.planetfone.harness",
    "asterisk": "tests.asterisk.harness",
}

CUSTOMER = "51999887766"  # what the caller ID shows (a mobile of DDD 51)
DDR = "5121010005"  # the dealership number the customer dialed
AGENT, COLLEAGUE = "1001", "1002"
WAIT = 10.0  # seconds: generous, for polling drivers on a loaded CI machine


def digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


class Watcher:
    """Reads the driver's events in the background; a story waits for the next one that matches."""

    def __init__(self, driver: PbxDriver) -> None:
        self.driver = driver
        self.seen: list[PbxEvent] = []
        self._changed = asyncio.Condition()
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for event in self.driver.events():
            async with self._changed:
                self.seen.append(event)
                self._changed.notify_all()

    async def next(self, kind: type[CallEvent], extension: str, call_id: str | None = None) -> Any:
        """The first event of `kind` at `extension` (and `call_id`) not returned before (it is taken out)."""
        def match(event: PbxEvent) -> bool:
            return isinstance(event, kind) and event.extension == extension and (
                call_id is None or event.call_id == call_id)

        async def found() -> Any:
            async with self._changed:
                while True:
                    for index, event in enumerate(self.seen):
                        if match(event):
                            return self.seen.pop(index)
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(found(), WAIT)
        except TimeoutError:
            raise AssertionError(
                f"no {kind.__name__} at {extension} within {WAIT:.0f} s; events seen: "
                + ", ".join(f"{e.type}@{e.extension}" for e in self.seen)) from None

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class Story:
    def __init__(self, harness: Any, watcher: Watcher) -> None:
        self.harness = harness
        self.driver: PbxDriver = harness.driver
        self.events = watcher

    def can(self, capability: Capability) -> bool:
        return capability in self.driver.capabilities

    async def inbound_answered(self) -> str:
        """A customer calls the DDR, the agent's phone rings and the agent takes the call."""
        await self.harness.ring(AGENT, CUSTOMER, DDR)
        ringing = await self.events.next(CallRinging, AGENT)
        if self.can(Capability.ANSWER):
            await self.driver.answer(AGENT, ringing.call_id)
        else:
            await self.harness.pick_up(AGENT)
        await self.events.next(CallAnswered, AGENT, ringing.call_id)
        return ringing.call_id

    async def until_ringing(self, extension: str) -> None:
        async def ringing() -> bool:
            result = self.harness.ringing(extension)
            return await result if inspect.isawaitable(result) else result

        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while not await ringing():
            assert loop.time() < deadline, f"the PBX never rang extension {extension}"
            await asyncio.sleep(0.02)


@pytest.fixture(params=list(FAMILIES))
async def story(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Story]:
    module = importlib.import_module(FAMILIES[request.param])
    async with module.make(tmp_path) as harness:
        watcher = Watcher(harness.driver)
        try:
            yield Story(harness, watcher)
        finally:
            await watcher.close()


async def test_an_inbound_call_answered_is_under_way_then_ends_answered(story: Story):
    call_id = await story.inbound_answered()
    snapshot = await story.driver.snapshot()
    mine = [c for c in snapshot.calls if c.extension == AGENT and c.call_id == call_id]
    assert mine and mine[0].direction is Direction.INBOUND, snapshot.calls
    await story.harness.remote_hangup(AGENT)
    ended = await story.events.next(CallEnded, AGENT, call_id)
    assert ended.disposition is Disposition.ANSWERED


async def test_ringing_event_carries_the_caller_and_the_ddr(story: Story):
    await story.harness.ring(AGENT, CUSTOMER, DDR)
    ringing = await story.events.next(CallRinging, AGENT)
    assert ringing.direction is Direction.INBOUND
    assert digits(ringing.number).endswith(CUSTOMER[-8:]), ringing
    assert digits(ringing.ddr).endswith(DDR[-8:]), ringing


async def test_a_caller_who_gives_up_is_a_missed_call_with_its_ddr(story: Story):
    await story.harness.ring(AGENT, CUSTOMER, DDR)
    ringing = await story.events.next(CallRinging, AGENT)
    await story.harness.remote_hangup(AGENT)
    ended = await story.events.next(CallEnded, AGENT, ringing.call_id)
    assert ended.disposition in MISSED_DISPOSITIONS
    assert digits(ringing.ddr).endswith(DDR[-8:])


async def test_click_to_call_dials_answers_and_hangs_up(story: Story):
    call_id = await story.driver.dial(AGENT, CUSTOMER)
    assert call_id
    dialing = await story.events.next(CallDialing, AGENT)
    assert digits(dialing.number).endswith(CUSTOMER[-8:]), dialing
    assert dialing.direction is Direction.OUTBOUND
    await story.harness.remote_answer(AGENT)
    answered = await story.events.next(CallAnswered, AGENT, dialing.call_id)
    await story.driver.hangup(AGENT, answered.call_id)
    ended = await story.events.next(CallEnded, AGENT, dialing.call_id)
    assert ended.disposition is Disposition.ANSWERED


async def test_blind_transfer_sends_the_customer_to_a_colleague(story: Story):
    if not story.can(Capability.BLIND_TRANSFER):
        pytest.skip(f"{story.driver.label} cannot transfer (checked by the refusal test)")
    call_id = await story.inbound_answered()
    await story.driver.blind_transfer(AGENT, call_id, COLLEAGUE)
    transferred = await story.events.next(CallTransferred, AGENT, call_id)
    assert transferred.target == COLLEAGUE
    ringing = await story.events.next(CallRinging, COLLEAGUE)
    assert digits(ringing.number).endswith(CUSTOMER[-8:]), ringing


async def test_hold_and_resume(story: Story):
    if not story.can(Capability.HOLD):
        pytest.skip(f"{story.driver.label} has no hold (checked by the refusal test)")
    call_id = await story.inbound_answered()
    await story.driver.hold(AGENT, call_id)
    await story.events.next(CallHeld, AGENT, call_id)
    await story.driver.resume(AGENT, call_id)
    await story.events.next(CallResumed, AGENT, call_id)


async def test_a_cancelled_consultation_is_an_internal_call_for_the_colleague(story: Story):
    """The colleague only ever speaks with the agent: an internal call from the agent, without the
    customer's number or DDR, whatever call id the PBX gives it (issue 13)."""
    if not story.can(Capability.ATTENDED_TRANSFER):
        pytest.skip(f"{story.driver.label} has no attended transfer (checked by the refusal test)")
    call_id = await story.inbound_answered()
    await story.driver.consult(AGENT, call_id, COLLEAGUE)
    ringing = await story.events.next(CallRinging, COLLEAGUE)
    assert (ringing.direction, digits(ringing.number), ringing.ddr) == (Direction.INTERNAL, AGENT, None), ringing
    if story.can(Capability.ANSWER):
        await story.driver.answer(COLLEAGUE, ringing.call_id)
    else:
        await story.harness.pick_up(COLLEAGUE)
    await story.events.next(CallAnswered, COLLEAGUE, ringing.call_id)
    await story.driver.cancel_transfer(AGENT, call_id)
    ended = await story.events.next(CallEnded, COLLEAGUE, ringing.call_id)
    assert (ended.direction, digits(ended.number), ended.ddr) == (Direction.INTERNAL, AGENT, None), ended
    assert ended.disposition is Disposition.ANSWERED


async def test_a_transfer_to_no_such_extension_is_reported(story: Story):
    """Refused at once, or accepted and then reported (CommandFailed): never silent (issue 13)."""
    if not story.can(Capability.ATTENDED_TRANSFER):
        pytest.skip(f"{story.driver.label} has no attended transfer (checked by the refusal test)")
    call_id = await story.inbound_answered()
    try:
        await story.driver.consult(AGENT, call_id, "1999")
    except PbxError:
        return  # refused, with the PBX's reason
    failed = await story.events.next(CommandFailed, AGENT, call_id)
    assert failed.command is Capability.ATTENDED_TRANSFER and failed.target == "1999"


async def test_a_recording_is_played_by_ringing_the_chosen_phone(story: Story):
    if not story.can(Capability.PLAY_RECORDING):
        pytest.skip(f"{story.driver.label} cannot play recordings (checked by the refusal test)")
    await story.driver.play_recording(story.harness.recording_ref, COLLEAGUE)
    await story.until_ringing(COLLEAGUE)


_COMMANDS: dict[Capability, Callable[[PbxDriver], Any]] = {
    Capability.DIAL: lambda d: d.dial(AGENT, CUSTOMER),
    Capability.ANSWER: lambda d: d.answer(AGENT, "x"),
    Capability.HANGUP: lambda d: d.hangup(AGENT, "x"),
    Capability.BLIND_TRANSFER: lambda d: d.blind_transfer(AGENT, "x", COLLEAGUE),
    Capability.ATTENDED_TRANSFER: lambda d: d.consult(AGENT, "x", COLLEAGUE),
    Capability.HOLD: lambda d: d.hold(AGENT, "x"),
    Capability.PARK: lambda d: d.park(AGENT, "x"),
    Capability.PICKUP: lambda d: d.pickup(AGENT, "701"),
    Capability.DTMF: lambda d: d.send_dtmf(AGENT, "x", "1"),
    Capability.PLAY_RECORDING: lambda d: d.play_recording("x", COLLEAGUE),
    Capability.LISTEN: lambda d: d.monitor(Capability.LISTEN, COLLEAGUE, AGENT),
    Capability.WHISPER: lambda d: d.monitor(Capability.WHISPER, COLLEAGUE, AGENT),
    Capability.BARGE: lambda d: d.monitor(Capability.BARGE, COLLEAGUE, AGENT),
}


async def test_commands_the_pbx_lacks_are_refused_with_its_name(story: Story):
    assert set(_COMMANDS) == set(ALL_CAPABILITIES)
    missing = sorted(ALL_CAPABILITIES - story.driver.capabilities)
    for capability in missing:
        with pytest.raises(Unsupported) as refused:
            await _COMMANDS[capability](story.driver)
        assert story.driver.label in str(refused.value), refused.value
    if not missing:  # the simulator does everything; the refusal itself is covered in tests/test_sim.py
        assert story.driver.capabilities == ALL_CAPABILITIES
