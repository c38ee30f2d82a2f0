"""The built-in PBX simulator: exact event sequences in scripted mode, random traffic that is
deterministic under a seed and realistic, and the link going down and coming back.

All on a ManualClock: no test sleeps; `await clock.advance(s)` moves virtual time."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tui_caa.clock import ManualClock
from tui_caa.domain import PbxKind, PbxRegistryEntry
from tui_caa.domain.events import (
    CallConsulting,
    CallEnded,
    CallEvent,
    CallParked,
    CallRinging,
    CallTransferred,
    DriverConnected,
    DriverDisconnected,
    DriverResynced,
    ExtensionStateChanged,
    PbxEvent,
)
from tui_caa.domain.telephony import ALL_CAPABILITIES, CallState, Capability, Direction, ExtensionState
from tui_caa.pbx.base import NotConnected, PbxError
from tui_caa.pbx.registry import driver_class
from tui_caa.pbx.sim import SimScenario, SimTraffic, SimulatorDriver
from tui_caa.pbx.sim_traffic import CallerGenerator, caller_id_forms
from tui_caa.phones import NumberKind, normalize

T0 = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
REC = "sim/2026/11/02/{}.wav"
CUSTOMER = "051987654321"  # a customer's mobile, as the trunk presents it (trunk 0 + DDD)
DDR = "5121010001"  # the Jornal traffic source's DDR, as DDD + number

SCENARIO = SimScenario(
    extensions=("1001", "1002", "1003", "1004"),
    known_numbers=("+5551987654321", "+555132345678", "+5511998765432", "+5551981112222"),
    shared_numbers=("+5551933334444",),
    ddrs=("+555121010001", "+555121010002", "+555121010003"),
    main_number="+555121010000",
    site_ddd="51",
)


# ---------------------------------------------------------------- harness

def row(event: PbxEvent) -> tuple[Any, ...]:
    """The part of an event the tests compare: type, extension, call id, then what matters."""
    if isinstance(event, ExtensionStateChanged):
        return ("extension_state", event.extension, event.state.value)
    if not isinstance(event, CallEvent):
        return (event.type,)
    out: tuple[Any, ...] = (event.type, event.extension, event.call_id,
                            event.direction.value if event.direction else None, event.number, event.ddr)
    if isinstance(event, CallEnded):
        out += (event.disposition.value, event.recording_ref)
    elif isinstance(event, CallTransferred):
        out += (event.target, event.attended)
    elif isinstance(event, CallConsulting):
        out += (event.target,)
    elif isinstance(event, CallParked):
        out += (event.slot,)
    return out


def state(ext: str, value: str) -> tuple[str, str, str]:
    return ("extension_state", ext, value)


class Harness:
    """A simulator on a ManualClock, with a reader collecting its events."""

    def __init__(self, sim: SimulatorDriver, clock: ManualClock) -> None:
        self.sim, self.clock = sim, clock
        self.seen: list[PbxEvent] = []
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for event in self.sim.events():
            self.seen.append(event)

    async def take(self) -> list[tuple[Any, ...]]:
        """The events emitted since the last take(), as rows."""
        for _ in range(5):
            await asyncio.sleep(0)
        rows = [row(e) for e in self.seen]
        self.seen.clear()
        return rows

    async def advance(self, seconds: float) -> list[tuple[Any, ...]]:
        await self.clock.advance(seconds)
        return await self.take()


async def make(traffic: SimTraffic | None = None, seed: int = 0, scenario: SimScenario = SCENARIO) -> Harness:
    clock = ManualClock(T0)
    sim = SimulatorDriver(scenario, seed=seed, clock=clock, traffic=traffic, id_prefix="sim")
    harness = Harness(sim, clock)
    await sim.connect()
    assert await harness.take() == [("driver_connected",), ("driver_resynced",)]
    return harness


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = await make()
    yield harness
    await harness.sim.close()
    await asyncio.wait_for(harness.reader, 1)  # close() ends the reader


async def answered_inbound(h: Harness, ext: str = "1001") -> str:
    cid = await h.sim.ring(ext, CUSTOMER, ddr=DDR)
    await h.sim.answer(ext, cid)
    await h.take()
    return cid


# ---------------------------------------------------------------- inbound

async def test_inbound_answered_then_hung_up_by_the_agent(h: Harness) -> None:
    cid = await h.sim.ring("1001", CUSTOMER, ddr=DDR, caller_name="JOAO SILVA")
    assert cid == "sim-000001"
    assert await h.take() == [
        ("call_ringing", "1001", cid, "in", CUSTOMER, DDR),
        state("1001", "ringing"),
    ]
    assert h.seen == [] and (await h.sim.snapshot()).calls[0].state is CallState.RINGING
    await h.clock.advance(5)
    await h.sim.answer("1001", cid)
    assert await h.take() == [("call_answered", "1001", cid, "in", CUSTOMER, DDR), state("1001", "in_call")]
    assert h.clock.sleepers == 0  # the ring timeout went with the answer: no stale timer is left
    snap = await h.sim.snapshot()
    assert snap.extensions == {"1001": ExtensionState.IN_CALL, "1002": ExtensionState.IDLE,
                               "1003": ExtensionState.IDLE, "1004": ExtensionState.IDLE}
    (call,) = snap.calls
    assert (call.call_id, call.extension, call.direction, call.state, call.number, call.ddr) == (
        cid, "1001", Direction.INBOUND, CallState.ACTIVE, CUSTOMER, DDR)
    assert call.started_at == T0 and (call.answered_at - T0).total_seconds() == 5
    assert await h.advance(120) == []  # scripted: nobody hangs up by themselves
    await h.sim.hangup("1001", cid)
    assert await h.take() == [
        ("call_ended", "1001", cid, "in", CUSTOMER, DDR, "answered", REC.format(cid)),
        state("1001", "idle"),
    ]
    assert h.sim.recordings == {REC.format(cid): 120.0}
    assert (await h.sim.snapshot()).calls == ()


async def test_ringing_event_carries_the_caller_name(h: Harness) -> None:
    await h.sim.ring("1001", CUSTOMER, caller_name="JOAO SILVA")
    await asyncio.sleep(0)
    assert isinstance(h.seen[0], CallRinging) and h.seen[0].caller_name == "JOAO SILVA"


async def test_inbound_missed_after_the_ring_timeout(h: Harness) -> None:
    cid = await h.sim.ring("1002", "32345678", ddr="21010002")
    await h.take()
    assert await h.advance(24.9) == []
    assert await h.advance(0.1) == [
        ("call_ended", "1002", cid, "in", "32345678", "21010002", "no_answer", None),
        state("1002", "idle"),
    ]
    assert h.clock.sleepers == 0  # no timer left behind


async def test_caller_hangs_up_while_ringing_is_abandoned(h: Harness) -> None:
    cid = await h.sim.ring("1001", "anonymous")
    await h.take()
    await h.sim.remote_hangup(cid)
    assert await h.take() == [
        ("call_ended", "1001", cid, "in", "anonymous", None, "abandoned", None),
        state("1001", "idle"),
    ]
    assert await h.advance(60) == []  # the ring timeout was cancelled


async def test_the_caller_hangs_up_an_answered_call(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.clock.advance(42)
    await h.sim.remote_hangup(cid)
    assert await h.take() == [
        ("call_ended", "1001", cid, "in", CUSTOMER, DDR, "answered", REC.format(cid)),
        state("1001", "idle"),
    ]


async def test_agent_declining_a_ringing_call_ends_it_busy(h: Harness) -> None:
    cid = await h.sim.ring("1001", CUSTOMER)
    await h.take()
    await h.sim.hangup("1001", cid)
    assert await h.take() == [("call_ended", "1001", cid, "in", CUSTOMER, None, "busy", None), state("1001", "idle")]


async def test_ring_on_a_busy_extension_leaves_a_missed_busy_call(h: Harness) -> None:
    first = await answered_inbound(h)
    second = await h.sim.ring("1001", "11998765432", ddr=DDR)
    assert second != first
    assert await h.take() == [  # no state change: 1001 stays in its call
        ("call_ringing", "1001", second, "in", "11998765432", DDR),
        ("call_ended", "1001", second, "in", "11998765432", DDR, "busy", None),
    ]
    assert [c.call_id for c in (await h.sim.snapshot()).calls] == [first]


async def test_ring_on_an_offline_extension_fails_and_registration_comes_back(h: Harness) -> None:
    await h.sim.set_registered("1003", False)
    await h.sim.set_registered("1003", False)  # no real change: no event
    assert await h.take() == [state("1003", "offline")]
    cid = await h.sim.ring("1003", CUSTOMER)
    assert await h.take() == [
        ("call_ringing", "1003", cid, "in", CUSTOMER, None),
        ("call_ended", "1003", cid, "in", CUSTOMER, None, "failed", None),
    ]
    with pytest.raises(PbxError, match="1003 is offline"):
        await h.sim.dial("1003", "51987654321")
    await h.sim.set_registered("1003", True)
    assert await h.take() == [state("1003", "idle")]


async def test_a_phone_going_offline_ends_its_calls(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.set_registered("1001", False)
    assert await h.take() == [
        ("call_ended", "1001", cid, "in", CUSTOMER, DDR, "answered", REC.format(cid)),
        state("1001", "offline"),  # straight to OFFLINE, never IDLE in between
    ]


# ---------------------------------------------------------------- outbound and internal

async def test_outbound_answered_by_the_far_end(h: Harness) -> None:
    cid = await h.sim.dial("1001", "987654321")
    assert await h.take() == [("call_dialing", "1001", cid, "out", "987654321", None), state("1001", "dialing")]
    await h.clock.advance(6)
    await h.sim.remote_answer(cid)
    assert await h.take() == [("call_answered", "1001", cid, "out", "987654321", None), state("1001", "in_call")]
    assert await h.advance(300) == []  # the 30 s no-answer timer was cancelled by the answer
    await h.sim.remote_hangup(cid)
    assert await h.take() == [
        ("call_ended", "1001", cid, "out", "987654321", None, "answered", REC.format(cid)),
        state("1001", "idle"),
    ]


async def test_outbound_not_answered_ends_after_30_seconds(h: Harness) -> None:
    cid = await h.sim.dial("1002", "01133334444")
    await h.take()
    assert await h.advance(29.5) == []
    assert await h.advance(0.5) == [
        ("call_ended", "1002", cid, "out", "01133334444", None, "no_answer", None),
        state("1002", "idle"),
    ]


async def test_outbound_far_end_busy(h: Harness) -> None:
    cid = await h.sim.dial("1002", "01133334444")
    await h.take()
    await h.sim.remote_busy(cid)
    assert await h.take() == [
        ("call_ended", "1002", cid, "out", "01133334444", None, "busy", None),
        state("1002", "idle"),
    ]
    with pytest.raises(PbxError, match="no call 'sim-000001'"):
        await h.sim.remote_answer(cid)


async def test_agent_gives_up_an_outbound_call_before_the_answer(h: Harness) -> None:
    cid = await h.sim.dial("1002", "01133334444")
    await h.take()
    await h.sim.hangup("1002", cid)
    assert await h.take() == [
        ("call_ended", "1002", cid, "out", "01133334444", None, "no_answer", None),
        state("1002", "idle"),
    ]


async def test_internal_call_between_two_extensions(h: Harness) -> None:
    cid = await h.sim.dial("1001", "1002")
    assert await h.take() == [
        ("call_dialing", "1001", cid, "internal", "1002", None),
        state("1001", "dialing"),
        ("call_ringing", "1002", cid, "internal", "1001", None),
        state("1002", "ringing"),
    ]
    await h.sim.answer("1002", cid)
    assert await h.take() == [
        ("call_answered", "1002", cid, "internal", "1001", None),
        state("1002", "in_call"),
        ("call_answered", "1001", cid, "internal", "1002", None),
        state("1001", "in_call"),
    ]
    snap = await h.sim.snapshot()
    assert sorted((c.extension, c.call_id, c.state) for c in snap.calls) == [
        ("1001", cid, CallState.ACTIVE), ("1002", cid, CallState.ACTIVE)]
    await h.sim.hangup("1002", cid)
    assert await h.take() == [
        ("call_ended", "1001", cid, "internal", "1002", None, "answered", REC.format(cid)),
        state("1001", "idle"),
        ("call_ended", "1002", cid, "internal", "1001", None, "answered", REC.format(cid)),
        state("1002", "idle"),
    ]


async def test_internal_call_nobody_answers(h: Harness) -> None:
    cid = await h.sim.dial("1001", "1002")
    await h.take()
    assert await h.advance(25) == [
        ("call_ended", "1001", cid, "internal", "1002", None, "no_answer", None),
        state("1001", "idle"),
        ("call_ended", "1002", cid, "internal", "1001", None, "no_answer", None),
        state("1002", "idle"),
    ]


async def test_internal_call_to_a_busy_extension(h: Harness) -> None:
    await answered_inbound(h, "1002")
    cid = await h.sim.dial("1001", "1002")
    assert await h.take() == [
        ("call_dialing", "1001", cid, "internal", "1002", None),
        state("1001", "dialing"),
        ("call_ringing", "1002", cid, "internal", "1001", None),
        ("call_ended", "1002", cid, "internal", "1001", None, "busy", None),
        ("call_ended", "1001", cid, "internal", "1002", None, "busy", None),
        state("1001", "idle"),
    ]


# ---------------------------------------------------------------- hold, transfers, park

async def test_hold_and_resume(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.hold("1001", cid)
    assert await h.take() == [("call_held", "1001", cid, "in", CUSTOMER, DDR), state("1001", "on_hold")]
    with pytest.raises(PbxError, match=f"call {cid} at extension 1001 is on hold"):
        await h.sim.hold("1001", cid)
    await h.sim.resume("1001", cid)
    assert await h.take() == [("call_resumed", "1001", cid, "in", CUSTOMER, DDR), state("1001", "in_call")]


async def test_a_held_call_waits_while_the_agent_makes_another(h: Harness) -> None:
    first = await answered_inbound(h)
    await h.sim.hold("1001", first)
    second = await h.sim.dial("1001", "1003")
    await h.sim.answer("1003", second)
    await h.take()
    with pytest.raises(PbxError, match=f"busy on call {second}"):
        await h.sim.resume("1001", first)
    await h.sim.hangup("1001", second)
    assert await h.take() == [
        ("call_ended", "1001", second, "internal", "1003", None, "answered", REC.format(second)),
        state("1001", "on_hold"),  # the first call still waits
        ("call_ended", "1003", second, "internal", "1001", None, "answered", REC.format(second)),
        state("1003", "idle"),
    ]
    await h.sim.resume("1001", first)
    assert await h.take() == [("call_resumed", "1001", first, "in", CUSTOMER, DDR), state("1001", "in_call")]


async def test_blind_transfer_to_an_extension_keeps_the_call_id(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.blind_transfer("1001", cid, "1002")
    assert await h.take() == [
        ("call_transferred", "1001", cid, "in", CUSTOMER, DDR, "1002", False),
        state("1001", "idle"),
        ("call_ringing", "1002", cid, "in", CUSTOMER, DDR),
        state("1002", "ringing"),
    ]
    await h.sim.answer("1002", cid)
    assert await h.take() == [("call_answered", "1002", cid, "in", CUSTOMER, DDR), state("1002", "in_call")]
    await h.sim.hangup("1002", cid)
    assert await h.take() == [
        ("call_ended", "1002", cid, "in", CUSTOMER, DDR, "answered", REC.format(cid)),
        state("1002", "idle"),
    ]


async def test_blind_transfer_nobody_answers_is_missed_at_the_target(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.blind_transfer("1001", cid, "1002")
    await h.take()
    assert await h.advance(25) == [
        ("call_ended", "1002", cid, "in", CUSTOMER, DDR, "no_answer", None),
        state("1002", "idle"),
    ]


async def test_blind_transfer_to_an_outside_number_leaves_the_pbx_view(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.blind_transfer("1001", cid, "051999887766")
    assert await h.take() == [
        ("call_transferred", "1001", cid, "in", CUSTOMER, DDR, "051999887766", False),
        state("1001", "idle"),
    ]
    assert h.sim.call(cid) is None and (await h.sim.snapshot()).calls == ()
    with pytest.raises(PbxError, match="not a number the PBX can dial"):
        await h.sim.blind_transfer("1002", await answered_inbound(h, "1002"), "51 abc")


async def test_attended_transfer_completed(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.consult("1001", cid, "1003")
    consult = "sim-000002"
    assert await h.take() == [
        ("call_consulting", "1001", cid, "in", CUSTOMER, DDR, "1003"),
        ("call_ringing", "1003", consult, "internal", "1001", None),
        state("1003", "ringing"),
    ]
    with pytest.raises(PbxError, match="1003 has not answered the consultation"):
        await h.sim.complete_transfer("1001", cid)
    with pytest.raises(PbxError, match="complete or cancel the transfer first"):
        await h.sim.hangup("1001", cid)
    await h.sim.answer("1003", consult)
    assert await h.take() == [("call_answered", "1003", consult, "internal", "1001", None), state("1003", "in_call")]
    await h.clock.advance(10)
    await h.sim.complete_transfer("1001", cid)
    assert await h.take() == [
        ("call_transferred", "1001", cid, "in", CUSTOMER, DDR, "1003", True),
        state("1001", "idle"),
        ("call_ended", "1003", consult, "internal", "1001", None, "answered", REC.format(consult)),
        ("call_answered", "1003", cid, "in", CUSTOMER, DDR),  # 1003 never looks idle in between
    ]
    (call,) = (await h.sim.snapshot()).calls
    assert (call.extension, call.call_id, call.state, call.direction) == ("1003", cid, CallState.ACTIVE, Direction.INBOUND)
    await h.sim.remote_hangup(cid)
    assert await h.take() == [
        ("call_ended", "1003", cid, "in", CUSTOMER, DDR, "answered", REC.format(cid)),
        state("1003", "idle"),
    ]


async def test_attended_transfer_cancelled(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.consult("1001", cid, "1003")
    await h.take()
    await h.sim.cancel_transfer("1001", cid)
    assert await h.take() == [
        ("call_ended", "1003", "sim-000002", "internal", "1001", None, "abandoned", None),
        state("1003", "idle"),
        ("call_resumed", "1001", cid, "in", CUSTOMER, DDR),
    ]
    with pytest.raises(PbxError, match="no attended transfer is under way"):
        await h.sim.cancel_transfer("1001", cid)


async def test_consulted_extension_that_does_not_answer_leaves_the_call_on_hold(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.consult("1001", cid, "1003")
    await h.take()
    assert await h.advance(25) == [
        ("call_ended", "1003", "sim-000002", "internal", "1001", None, "no_answer", None),
        state("1003", "idle"),
        ("call_held", "1001", cid, "in", CUSTOMER, DDR),
        state("1001", "on_hold"),
    ]


async def test_customer_hanging_up_during_a_consultation_ends_both(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.consult("1001", cid, "1003")
    await h.sim.answer("1003", "sim-000002")
    await h.take()
    await h.sim.remote_hangup(cid)
    assert await h.take() == [
        ("call_ended", "1003", "sim-000002", "internal", "1001", None, "answered", REC.format("sim-000002")),
        state("1003", "idle"),
        ("call_ended", "1001", cid, "in", CUSTOMER, DDR, "answered", REC.format(cid)),
        state("1001", "idle"),
    ]


async def test_park_and_pick_up_from_the_slot(h: Harness) -> None:
    cid = await answered_inbound(h)
    assert await h.sim.park("1001", cid) == "701"
    assert await h.take() == [("call_parked", "1001", cid, "in", CUSTOMER, DDR, "701"), state("1001", "idle")]
    assert h.sim.call(cid).parked_slot == "701"
    second = await answered_inbound(h, "1002")
    assert await h.sim.park("1002", second) == "702"
    await h.take()
    await h.sim.pickup("1003", "701")
    assert await h.take() == [("call_answered", "1003", cid, "in", CUSTOMER, DDR), state("1003", "in_call")]
    with pytest.raises(PbxError, match="nothing is parked at '701'"):
        await h.sim.pickup("1004", "701")
    assert await h.advance(60) != []  # the other one, never picked up, rings back where it was parked


async def test_parked_call_nobody_picks_up_rings_back(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.park("1001", cid)
    await h.take()
    assert await h.advance(45) == [("call_ringing", "1001", cid, "in", CUSTOMER, DDR), state("1001", "ringing")]


async def test_pick_up_a_call_ringing_at_another_extension(h: Harness) -> None:
    cid = await h.sim.ring("1001", CUSTOMER, ddr=DDR)
    await h.take()
    await h.sim.pickup("1002", "1001")
    assert await h.take() == [
        ("call_transferred", "1001", cid, "in", CUSTOMER, DDR, "1002", False),
        state("1001", "idle"),
        ("call_answered", "1002", cid, "in", CUSTOMER, DDR),
        state("1002", "in_call"),
    ]
    assert await h.advance(60) == []  # the ring timeout went with the ringing
    with pytest.raises(PbxError, match="no call is ringing at extension 1001"):
        await h.sim.pickup("1003", "1001")


async def test_dtmf_is_validated_and_recorded(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.send_dtmf("1001", cid, "12*#")
    await h.sim.send_dtmf("1001", cid, "ad")
    assert h.sim.call(cid).dtmf == "12*#AD"
    with pytest.raises(PbxError, match="'x' is not a DTMF digit"):
        await h.sim.send_dtmf("1001", cid, "12x")
    with pytest.raises(PbxError, match="no DTMF digits"):
        await h.sim.send_dtmf("1001", cid, "")
    ringing = await h.sim.ring("1002", CUSTOMER)
    with pytest.raises(PbxError, match=f"call {ringing} at extension 1002 is ringing"):
        await h.sim.send_dtmf("1002", ringing, "1")
    assert h.sim.call(cid).dtmf == "12*#AD"
    assert await h.take() == [("call_ringing", "1002", ringing, "in", CUSTOMER, None), state("1002", "ringing")]


# ---------------------------------------------------------------- recordings and monitoring

async def test_play_a_recording_on_the_agents_own_extension(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.clock.advance(90)
    await h.sim.hangup("1001", cid)
    await h.take()
    ref = REC.format(cid)
    play = await h.sim.play_recording(ref, "1001")
    assert await h.take() == [("call_ringing", "1001", play, "internal", "gravação", None), state("1001", "ringing")]
    await h.sim.answer("1001", play)
    assert await h.take() == [("call_answered", "1001", play, "internal", "gravação", None), state("1001", "in_call")]
    assert await h.advance(89) == []
    assert await h.advance(1) == [  # it plays for the recording's length, then ends; no new recording
        ("call_ended", "1001", play, "internal", "gravação", None, "answered", None),
        state("1001", "idle"),
    ]


async def test_play_an_unknown_recording_is_refused(h: Harness) -> None:
    with pytest.raises(PbxError, match="recording 'sim/2020/01/01/nope.wav' not found"):
        await h.sim.play_recording("sim/2020/01/01/nope.wav", "1001")
    assert await h.take() == []


async def test_play_a_recording_the_scenario_says_the_pbx_holds_to_an_outside_number() -> None:
    scenario = SimScenario(extensions=("1001",), recordings=(("recordings/2026/10/01/sim-000007.wav", 30.0),))
    h = await make(scenario=scenario)
    play = await h.sim.play_recording("recordings/2026/10/01/sim-000007.wav", "051987654321")
    assert h.sim.call(play).remote_state == "alerting"
    await h.sim.remote_answer(play)
    assert h.sim.call(play).remote_state == "connected"
    await h.clock.advance(30)
    assert h.sim.call(play) is None
    assert await h.take() == []  # no extension sees it
    await h.sim.close()


@pytest.mark.parametrize("mode", [Capability.LISTEN, Capability.WHISPER, Capability.BARGE])
async def test_monitoring_gives_the_supervisor_an_answered_internal_call(h: Harness, mode: Capability) -> None:
    with pytest.raises(PbxError, match=f"1001 has no call in progress to {mode.value}"):
        await h.sim.monitor(mode, "1004", "1001")
    cid = await answered_inbound(h)
    await h.sim.monitor(mode, "1004", "1001")
    spy = "sim-000002"
    assert await h.take() == [("call_answered", "1004", spy, "internal", "1001", None), state("1004", "in_call")]
    assert h.sim.call(spy).monitor_mode is mode
    await h.sim.hangup("1004", spy)
    assert await h.take() == [
        ("call_ended", "1004", spy, "internal", "1001", None, "answered", None),
        state("1004", "idle"),
    ]
    assert h.sim.call(cid).legs == {"1001": CallState.ACTIVE}  # the agent's call goes on


async def test_monitoring_ends_with_the_monitored_call(h: Harness) -> None:
    cid = await answered_inbound(h)
    await h.sim.monitor(Capability.LISTEN, "1004", "1001")
    await h.take()
    await h.sim.remote_hangup(cid)
    assert await h.take() == [
        ("call_ended", "1001", cid, "in", CUSTOMER, DDR, "answered", REC.format(cid)),
        state("1001", "idle"),
        ("call_ended", "1004", "sim-000002", "internal", "1001", None, "answered", None),
        state("1004", "idle"),
    ]


# ---------------------------------------------------------------- refusals

async def test_commands_that_make_no_sense_are_refused_with_the_call_and_its_state(h: Harness) -> None:
    with pytest.raises(PbxError, match="cannot call itself"):
        await h.sim.dial("1004", "1004")
    out = await h.sim.dial("1001", "051987654321")
    with pytest.raises(PbxError, match=f"call {out} at extension 1001 is an outbound call still being dialled"):
        await h.sim.answer("1001", out)
    with pytest.raises(PbxError, match="1001 is busy with call"):
        await h.sim.dial("1001", "1002")
    inbound = await h.sim.ring("1002", CUSTOMER)
    with pytest.raises(PbxError, match=f"call {inbound} at extension 1002 is ringing: only a call in conversation can be put on hold"):
        await h.sim.hold("1002", inbound)
    with pytest.raises(PbxError, match=f"call {inbound} is not at extension 1003"):
        await h.sim.answer("1003", inbound)
    await h.sim.answer("1002", inbound)
    await h.sim.hold("1002", inbound)
    with pytest.raises(PbxError, match=f"call {inbound} at extension 1002 is on hold.*can be transferred"):
        await h.sim.blind_transfer("1002", inbound, "1003")
    await h.sim.resume("1002", inbound)
    with pytest.raises(PbxError, match="cannot transfer call .* to itself"):
        await h.sim.blind_transfer("1002", inbound, "1002")
    with pytest.raises(PbxError, match="no call 'sim-999999'"):
        await h.sim.hangup("1001", "sim-999999")
    with pytest.raises(PbxError, match="extension '9999' does not exist"):
        await h.sim.ring("9999", CUSTOMER)
    with pytest.raises(PbxError, match="extension '9999' does not exist"):
        await h.sim.dial("9999", CUSTOMER)
    with pytest.raises(PbxError, match="1099 is not an extension"):
        await h.sim.dial("1003", "1099")
    with pytest.raises(PbxError, match="not calling out"):
        await h.sim.remote_answer(inbound)
    with pytest.raises(PbxError, match="internal"):
        await h.sim.remote_hangup(await h.sim.dial("1003", "1004"))
    with pytest.raises(PbxError, match="consults extensions only"):
        await h.sim.consult("1002", inbound, "051999887766")


async def test_monitor_mode_must_be_a_monitoring_capability(h: Harness) -> None:
    with pytest.raises(ValueError):
        await h.sim.monitor(Capability.HOLD, "1004", "1001")


# ---------------------------------------------------------------- the link

async def test_drop_and_restore_the_link(h: Harness) -> None:
    cid = await answered_inbound(h)
    ringing = await h.sim.ring("1002", CUSTOMER)
    await h.take()
    await h.sim.drop_link("cabo desconectado")
    assert await h.take() == [("driver_disconnected",)]
    assert h.sim.call(cid) is not None  # the PBX still has the call; only the link is gone
    with pytest.raises(NotConnected, match="cabo desconectado"):
        await h.sim.hangup("1001", cid)
    with pytest.raises(NotConnected):
        await h.sim.dial("1003", "1004")
    with pytest.raises(NotConnected):
        await h.sim.snapshot()
    with pytest.raises(NotConnected, match="link is down"):
        await h.sim.connect()  # a reconnect attempt fails while the PBX is unreachable
    # the PBX goes on meanwhile: the caller hangs up, 1002 rings out; none of it is told
    await h.sim.remote_hangup(cid)
    assert await h.advance(30) == []
    await h.sim.restore_link()
    assert await h.take() == [("driver_connected",), ("driver_resynced",)]
    snap = await h.sim.snapshot()
    assert snap.calls == () and set(snap.extensions.values()) == {ExtensionState.IDLE}
    assert h.sim.call(ringing) is None
    await h.sim.connect()  # already connected: nothing happens
    assert await h.take() == []
    cid = await h.sim.dial("1003", "1004")  # commands work again
    assert (await h.take())[0] == ("call_dialing", "1003", cid, "internal", "1004", None)


async def test_the_disconnect_carries_the_reason_and_restore_twice_is_refused(h: Harness) -> None:
    await h.sim.drop_link("manutenção")
    await asyncio.sleep(0)
    assert isinstance(h.seen[0], DriverDisconnected) and h.seen[0].reason == "manutenção"
    await h.sim.restore_link()
    await asyncio.sleep(0)
    assert isinstance(h.seen[1], DriverConnected) and h.seen[1].pbx == "Simulador"
    assert isinstance(h.seen[2], DriverResynced)
    with pytest.raises(PbxError, match="not down"):
        await h.sim.restore_link()


async def test_fail_next_connect_fails_once() -> None:
    sim = SimulatorDriver(SCENARIO, clock=ManualClock(T0))
    with pytest.raises(NotConnected, match="not connected"):
        await sim.dial("1001", "1002")
    sim.fail_next_connect = "login recusado"
    with pytest.raises(NotConnected, match="login recusado"):
        await sim.connect()
    await sim.connect()
    assert (await sim.snapshot()).extensions["1001"] is ExtensionState.IDLE
    await sim.close()
    with pytest.raises(NotConnected, match="closed"):
        await sim.dial("1001", "1002")


async def test_events_emitted_before_anyone_reads_are_kept_and_close_ends_the_stream() -> None:
    sim = SimulatorDriver(SCENARIO, clock=ManualClock(T0), id_prefix="sim")
    await sim.connect()
    await sim.ring("1001", CUSTOMER)
    await sim.close()
    got = [row(e) async for e in sim.events()]
    assert got == [("driver_connected",), ("driver_resynced",),
                   ("call_ringing", "1001", "sim-000001", "in", CUSTOMER, None), state("1001", "ringing")]


async def test_close_cancels_every_timer_and_the_traffic_task() -> None:
    h = await make(SimTraffic(calls_per_minute=30))
    await h.clock.advance(120)
    assert h.clock.sleepers > 0
    await h.sim.close()
    assert h.clock.sleepers == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("sim-")]


async def test_default_call_ids_carry_the_start_time_so_they_never_repeat_across_runs() -> None:
    sim = SimulatorDriver(SCENARIO, clock=ManualClock(T0))
    await sim.connect()
    assert await sim.ring("1001", CUSTOMER) == "sim-261102130000-000001"
    await sim.close()


# ---------------------------------------------------------------- random traffic

DEALERSHIP = SimScenario(  # ten sellers, as the demo's
    extensions=tuple(str(n) for n in range(1001, 1011)),
    known_numbers=SCENARIO.known_numbers, shared_numbers=SCENARIO.shared_numbers,
    ddrs=SCENARIO.ddrs, main_number=SCENARIO.main_number,
)


async def run_traffic(seed: int, hours: float, traffic: SimTraffic) -> tuple[list[PbxEvent], SimulatorDriver]:
    h = await make(traffic, seed=seed, scenario=DEALERSHIP)
    for _ in range(int(hours * 60)):
        await h.clock.advance(60)
    await h.sim.close()
    await h.reader
    return h.seen, h.sim


async def test_random_traffic_is_deterministic_under_the_seed() -> None:
    traffic = SimTraffic(calls_per_minute=6)
    first, _ = await run_traffic(7, 1, traffic)
    again, _ = await run_traffic(7, 1, traffic)
    other, _ = await run_traffic(8, 1, traffic)
    assert len(first) > 500
    assert [e.to_dict() for e in first] == [e.to_dict() for e in again]
    assert [e.to_dict() for e in first] != [e.to_dict() for e in other]


async def test_random_traffic_over_a_few_hours_looks_like_a_dealership() -> None:
    humans = frozenset({"1001"})
    events, sim = await run_traffic(3, 3, SimTraffic(calls_per_minute=6, human_extensions=humans))
    calls = [e for e in events if isinstance(e, CallEvent)]
    by_type = Counter(e.type for e in calls)
    endings = Counter(e.disposition.value for e in calls if isinstance(e, CallEnded))
    assert by_type["call_ringing"] > 700  # ~6 a minute for 3 hours
    assert by_type["call_dialing"] > 100  # simulated sellers call customers back
    assert endings["answered"] > 500 and endings["no_answer"] > 50 and endings["busy"] > 20
    assert endings["abandoned"] > 5
    # the person at 1001 got calls but none was answered for them
    assert any(isinstance(e, CallRinging) and e.extension == "1001" for e in calls)
    assert not [e for e in calls if e.extension == "1001" and e.type in ("call_answered", "call_dialing")]
    # every answered call has a recording, every caller ID normalises
    assert all(e.recording_ref for e in calls if isinstance(e, CallEnded) and e.disposition.value == "answered")
    raws = {e.number for e in calls if isinstance(e, CallRinging)}
    kinds = Counter(normalize(raw, default_ddd="51").kind for raw in raws)
    assert kinds[NumberKind.PHONE] > 100 and kinds[NumberKind.ANONYMOUS] >= 1 and kinds[NumberKind.EXTENSION] == 0
    assert {e.ddr for e in calls if isinstance(e, CallRinging)} - {None} >= {"5121010001"}
    # the extensions' states follow the calls, and events come in time order
    assert [e.at for e in events] == sorted(e.at for e in events)
    per_ext: dict[str, list[str]] = {}
    for e in events:
        if isinstance(e, ExtensionStateChanged):
            per_ext.setdefault(e.extension, []).append(e.state.value)
    for states in per_ext.values():
        assert all(a != b for a, b in zip(states, states[1:]))  # only real changes


async def test_random_traffic_leaves_no_growing_work_behind() -> None:
    h = await make(SimTraffic(calls_per_minute=12))
    for _ in range(120):
        await h.clock.advance(60)
    live = len(h.sim._calls)  # noqa: SLF001 - the point is the simulator's own bookkeeping
    assert live <= 20 and h.clock.sleepers <= live + 1  # one timer per live call, plus the generator
    await h.sim.close()


async def test_snapshot_after_random_traffic_matches_the_events() -> None:
    h = await make(SimTraffic(calls_per_minute=10))
    await h.clock.advance(1800)
    for _ in range(5):
        await asyncio.sleep(0)
    states: dict[str, str] = {}
    calls: dict[tuple[str, str], str] = {}
    for e in h.seen:
        if isinstance(e, ExtensionStateChanged):
            states[e.extension] = e.state.value
        elif isinstance(e, CallEvent):
            if e.state is CallState.ENDED:
                calls.pop((e.extension, e.call_id), None)
            else:
                calls[(e.extension, e.call_id)] = e.state.value
    snap = await h.sim.snapshot()
    assert {ext: s.value for ext, s in snap.extensions.items() if s is not ExtensionState.IDLE} == {
        ext: s for ext, s in states.items() if s != "idle"}
    assert {(c.extension, c.call_id): c.state.value for c in snap.calls} == calls
    await h.sim.close()


def test_generated_caller_ids_and_ddrs_normalise_to_who_is_calling() -> None:
    gen = CallerGenerator(random.Random(11), "51", SCENARIO.known_numbers, SCENARIO.shared_numbers,
                          SCENARIO.ddrs, SCENARIO.main_number)
    sources: Counter[str] = Counter()
    shapes: Counter[str] = Counter()
    for _ in range(5000):
        caller = gen.caller()
        if caller.e164 is None:
            assert caller.raw in ("anonymous", "")
            sources["anonymous"] += 1
            continue
        assert normalize(caller.raw, default_ddd="51").e164 == caller.e164, caller
        sources["known" if caller.e164 in SCENARIO.known_numbers
                else "shared" if caller.e164 in SCENARIO.shared_numbers else "new"] += 1
        raw = caller.raw
        shapes["+55" if raw.startswith("+") else "55" if raw.startswith("55") else "0" if raw.startswith("0")
               else f"{len(raw)} digits"] += 1
        ddr = gen.ddr()
        assert normalize(ddr, default_ddd="51").e164 in (*SCENARIO.ddrs, SCENARIO.main_number)
    assert 0.45 < sources["known"] / 5000 < 0.55
    assert 0.07 < sources["shared"] / 5000 < 0.13
    assert 0.30 < sources["new"] / 5000 < 0.40
    assert 0.03 < sources["anonymous"] / 5000 < 0.07
    # every shape PBXs send: +55…, 55…, 0+DDD…, DDD+9 digits, DDD+8 (fixed or legacy mobile), bare 8/9
    assert {"+55", "55", "0", "11 digits", "10 digits", "9 digits", "8 digits"} <= set(shapes)


def test_caller_id_forms_keep_only_shapes_that_identify_the_number() -> None:
    assert set(caller_id_forms("+5551987654321", "51")) == {
        "+5551987654321", "5551987654321", "051987654321", "51987654321", "987654321", "5187654321"}
    assert "87654321" not in caller_id_forms("+5511987654321", "51")  # no bare local for another DDD
    assert "40041234" in caller_id_forms("+5540041234", "51")
    # a fixed line 4004-1234 in DDD 51 cannot be sent bare: it would read as the national number 4004-1234
    assert "40041234" not in caller_id_forms("+555140041234", "51")
    assert "5140041234" in caller_id_forms("+555140041234", "51")
    assert all(normalize(f, default_ddd="51").e164 == "+14155551212" for f in caller_id_forms("+14155551212", "51"))


def test_scenario_and_traffic_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one extension"):
        SimScenario(extensions=())
    with pytest.raises(ValueError, match="not an E.164 number"):
        SimScenario(extensions=("1001",), known_numbers=("51987654321",))
    with pytest.raises(ValueError, match="DDD"):
        SimScenario(extensions=("1001",), site_ddd="20")
    with pytest.raises(ValueError, match="abandon_probability"):
        SimTraffic(abandon_probability=1.5)


# ---------------------------------------------------------------- registry

def test_the_registry_finds_the_simulator_and_it_supports_everything() -> None:
    cls = driver_class("simulator")
    assert cls is SimulatorDriver and cls.kind == "simulator" and cls.label == "Simulador"
    assert cls.capabilities == ALL_CAPABILITIES


async def test_from_entry_builds_it_from_the_registry_entry() -> None:
    entry = PbxRegistryEntry(name="Simulador (demonstração)", kind=PbxKind.SIMULATOR, active=True)
    sim = driver_class("simulator").from_entry(entry, scenario=SCENARIO, seed=3, clock=ManualClock(T0))
    await sim.connect()
    got = [e async for e in _first(sim.events(), 1)]
    assert isinstance(got[0], DriverConnected) and got[0].pbx == "Simulador (demonstração)"
    await sim.close()
    with pytest.raises(PbxError, match="needs a scenario"):
        SimulatorDriver.from_entry(entry)


async def _first(stream: AsyncIterator[PbxEvent], n: int) -> AsyncIterator[PbxEvent]:
    for _ in range(n):
        yield await anext(stream)
