"""The gateway end to end on the scripted simulator: what each console receives, what the CRM
records, and what is refused."""

from pathlib import Path

import pytest

from tests.gateway_fixtures import Rig, make_rig
from tui_caa.crm import CrmStore, DatabaseUnavailable
from tui_caa.domain import Capability, Contact, Direction, Disposition, HistoryFilter
from tui_caa.domain.events import (
    CallAnswered,
    CallDialing,
    CallEnded,
    CallHeld,
    CallResumed,
    CallRinging,
    CallTransferred,
)
from tui_caa.pbx.base import Unsupported
from tui_caa.pbx.sim import SimulatorDriver
from tui_caa.protocol.messages import CallsRecorded, LinkState, LinkStatus, PbxUpdate, ScreenPop, StateSnapshot
from tui_caa.protocol.principal import NotAllowed, Reconnecting


def events(messages, kind=None):  # type: ignore[no-untyped-def]
    found = [m.event for m in messages if isinstance(m, PbxUpdate)]
    return [e for e in found if kind is None or isinstance(e, kind)]


async def test_inbound_answered_pops_the_customer_and_is_recorded(rig: Rig) -> None:
    agent, other = rig.sessions["1001"], rig.sessions["1002"]
    call_id = await rig.ring("1001", "051987654321", ddr="5121010001")
    got = await rig.received(agent)
    ringing = [m for m in got if isinstance(m, PbxUpdate) and isinstance(m.event, CallRinging)]
    assert ringing[0].traffic_source.name == "Jornal"  # at once, before any lookup
    pop = next(m for m in got if isinstance(m, ScreenPop))
    assert [match.customer.name for match in pop.lookup.exact] == ["Ana Souza"]
    assert pop.call_id == call_id and pop.traffic_source.name == "Jornal" and pop.error is None
    assert events(await rig.received(other)) == []
    assert any(isinstance(m, ScreenPop) for m in await rig.received(rig.supervisor))

    await agent.answer(call_id)
    await rig.settle(60)
    await agent.hangup(call_id)
    assert [type(e) for e in events(await rig.received(agent)) if e.call_id == call_id] == [CallAnswered, CallEnded]
    await rig.recorded()
    row = (await agent.call_history()).rows[0]
    assert (row.call.pbx_call_id, row.call.direction, row.call.talk_seconds, row.call.missed) == (
        call_id, Direction.INBOUND, 60, False)
    assert (row.call.ddr_e164, row.customer_name, row.call.remote_e164) == ("+555121010001", "Ana Souza",
                                                                            "+5551987654321")
    assert row.call.recording_ref


async def test_inbound_missed_is_recorded_as_missed_even_with_no_console(rig: Rig) -> None:
    for session in rig.sessions.values():
        await session.close()
    await rig.supervisor.close()
    call_id = await rig.ring("1002", "11 3333-4444")
    await rig.settle(30)
    await rig.recorded()
    page = await rig.store.call_history("1002", HistoryFilter(missed_only=True))
    assert [(r.call.pbx_call_id, r.call.disposition) for r in page.rows] == [(call_id, Disposition.NO_ANSWER)]


async def test_consoles_are_told_when_their_calls_reach_the_crm(rig: Rig) -> None:
    call_id = await rig.ring("1002", "11 3333-4444")
    await rig.settle(30)
    await rig.recorded()
    told = [m for m in await rig.received(rig.sessions["1002"]) if isinstance(m, CallsRecorded)]
    assert told == [CallsRecorded("1002", (call_id,))]
    assert not [m for m in await rig.received(rig.sessions["1001"]) if isinstance(m, CallsRecorded)]
    assert [m for m in await rig.received(rig.supervisor) if isinstance(m, CallsRecorded)] == told


async def test_unknown_caller_pops_no_match_and_anonymous_needs_no_lookup(rig: Rig) -> None:
    agent = rig.sessions["1001"]
    await rig.ring("1001", "(48) 3222-1111")
    pop = next(m for m in await rig.received(agent) if isinstance(m, ScreenPop))
    assert pop.lookup.e164 == "+554832221111" and pop.lookup.exact == () and pop.traffic_source is None
    await rig.settle(30)
    await rig.ring("1001", "anonymous")
    pop = next(m for m in await rig.received(agent) if isinstance(m, ScreenPop))
    assert pop.lookup.e164 is None and pop.lookup.exact == ()


async def test_outbound_dial_uses_the_dial_rules_answered_and_unanswered(rig: Rig) -> None:
    agent = rig.sessions["1003"]
    call_id = await agent.dial("(51) 3333-4444")
    dialing = events(await rig.received(agent), CallDialing)
    assert [(e.call_id, e.number, e.direction) for e in dialing] == [(call_id, "33334444", Direction.OUTBOUND)]
    await rig.sim.remote_answer(call_id)
    await rig.settle(30)
    await rig.sim.remote_hangup(call_id)
    unanswered = await agent.dial("(11) 98765-0000")
    await rig.settle(31)
    await rig.recorded()
    rows = {r.call.pbx_call_id: r.call for r in (await agent.call_history()).rows}
    assert (rows[call_id].talk_seconds, rows[call_id].disposition, rows[call_id].missed) == (30, Disposition.ANSWERED,
                                                                                             False)
    assert (rows[unanswered].disposition, rows[unanswered].missed, rows[unanswered].remote_raw) == (
        Disposition.NO_ANSWER, False, "011987650000")


async def test_invalid_number_to_dial_is_refused_with_the_reason(rig: Rig) -> None:
    with pytest.raises(NotAllowed, match="cannot dial: '12a' is not a phone number: contains letters"):
        await rig.sessions["1001"].dial("12a")


async def test_hold_and_blind_transfer(rig: Rig) -> None:
    first, second = rig.sessions["1001"], rig.sessions["1002"]
    call_id = await rig.ring("1001", "051987654321", ddr="5121010001")
    await first.answer(call_id)
    await first.hold(call_id)
    await first.resume(call_id)
    await rig.settle(10)
    await first.blind_transfer(call_id, "1002")
    kinds = [type(e) for e in events(await rig.received(first)) if e.call_id == call_id]
    assert kinds == [CallRinging, CallAnswered, CallHeld, CallResumed, CallTransferred]
    got = await rig.received(second)
    assert [e.number for e in events(got, CallRinging)] == ["051987654321"]
    pop = next(m for m in got if isinstance(m, ScreenPop))  # the same pop, no second lookup
    assert pop.lookup.exact[0].customer.name == "Ana Souza"
    await second.answer(call_id)
    await rig.settle(20)
    await second.hangup(call_id)
    await rig.recorded()
    one = (await first.call_history()).rows[0].call
    two = (await second.call_history()).rows[0].call
    assert (one.disposition, one.talk_seconds) == (Disposition.TRANSFERRED, 10)
    assert (two.disposition, two.talk_seconds, two.ddr_e164) == (Disposition.ANSWERED, 20, "+555121010001")


async def test_attended_transfer_complete(rig: Rig) -> None:
    first, second = rig.sessions["1001"], rig.sessions["1002"]
    call_id = await rig.ring("1001", "051987654321")
    await first.answer(call_id)
    await first.consult(call_id, "1002")
    consult = events(await rig.received(second), CallRinging)[0]
    await second.answer(consult.call_id)
    await first.complete_transfer(call_id)
    transferred = events(await rig.received(first), CallTransferred)
    assert [(e.call_id, e.attended) for e in transferred] == [(call_id, True)]
    assert any(e.call_id == call_id for e in events(await rig.received(second), CallAnswered))


async def test_contact_during_a_call_takes_the_ddr_source_locked(rig: Rig) -> None:
    agent = rig.sessions["1001"]
    call_id = await rig.ring("1001", "051987654321", ddr="5121010001")
    pop = next(m for m in await rig.received(agent) if isinstance(m, ScreenPop))
    contact = await agent.create_contact(Contact(customer_id=pop.lookup.exact[0].customer.id, outcome="interested",
                                                 call_id=call_id))
    assert contact.traffic_source_locked and contact.seller_id == agent.seller.id


async def test_agents_act_only_on_their_own_calls(rig: Rig) -> None:
    call_id = await rig.ring("1001", "051987654321")
    with pytest.raises(NotAllowed, match=f"call {call_id} is on extension 1001, not on yours \\(1002\\)"):
        await rig.sessions["1002"].hangup(call_id)
    with pytest.raises(NotAllowed, match="not under way on extension 1002"):
        await rig.sessions["1002"].answer("nope")
    with pytest.raises(NotAllowed, match="only supervisors"):
        await rig.sessions["1002"].monitor(Capability.LISTEN, "1001")
    with pytest.raises(NotAllowed, match="own extension only"):
        await rig.sessions["1002"].call_history(extension="1001")
    await rig.sessions["1001"].answer(call_id)
    await rig.supervisor.monitor(Capability.LISTEN, "1001")
    listening = events(await rig.received(rig.supervisor), CallAnswered)
    assert [e.extension for e in listening][-1] == "1009"


async def test_play_recording_calls_the_agents_own_phone(rig: Rig) -> None:
    agent = rig.sessions["1001"]
    call_id = await rig.ring("1001", "051987654321")
    await agent.answer(call_id)
    await rig.settle(40)
    await agent.hangup(call_id)
    await rig.recorded()
    await rig.received(agent)
    playback = await agent.play_recording(call_id)
    ring = events(await rig.received(agent), CallRinging)
    assert [(e.call_id, e.number) for e in ring] == [(playback, "gravação")]


async def test_slow_console_gets_a_snapshot_instead_of_what_it_missed(rig: Rig) -> None:
    slow = rig.gateway.subscribe(rig.sessions["1001"].principal, backlog=3)
    assert isinstance(slow.drain_nowait()[0], StateSnapshot)
    for _ in range(3):
        await rig.ring("1001", "051987654321")
        await rig.settle(30)
    got = slow.drain_nowait()
    assert isinstance(got[0], StateSnapshot) and slow.overflows >= 1
    assert len(got) <= 4


async def test_reconnect_resyncs_records_what_ended_meanwhile_and_never_replays_a_dial(rig: Rig) -> None:
    agent = rig.sessions["1001"]
    call_id = await rig.ring("1001", "051987654321")
    await agent.answer(call_id)
    await rig.received(agent)
    await rig.sim.drop_link("cabo de rede desconectado")
    got = await rig.received(agent)
    assert LinkStatus(LinkState.RECONNECTING, "cabo de rede desconectado") in got
    with pytest.raises(Reconnecting, match="reconnecting"):
        await agent.dial("(51) 3333-4444")
    await rig.sim.remote_hangup(call_id)  # ends while the gateway cannot see
    new_call = await rig.ring("1001", "(51) 3232-1000")
    await rig.sim.restore_link()
    got = await rig.received(agent)
    assert isinstance(got[0], StateSnapshot) and got[0].link is LinkState.CONNECTED
    assert [c.call_id for c in got[0].pbx.calls] == [new_call]
    assert rig.gateway.link is LinkState.CONNECTED
    await rig.recorded()
    recorded = (await agent.call_history()).rows
    assert [r.call.pbx_call_id for r in recorded] == [call_id]  # the vanished call, recorded once
    assert all(e.direction is not Direction.OUTBOUND for e in events(got))  # the refused dial never happened


async def test_database_down_then_up_loses_no_call(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    down = True
    real_record, real_lookup = rig.store.record_calls, rig.store.lookup_by_phone

    async def record_calls(records):  # type: ignore[no-untyped-def]
        if down:
            raise DatabaseUnavailable("CRM database crm@db is unavailable: connection refused")
        return await real_record(records)

    async def lookup(number):  # type: ignore[no-untyped-def]
        if down:
            raise DatabaseUnavailable("CRM database crm@db is unavailable: connection refused")
        return await real_lookup(number)

    monkeypatch.setattr(rig.store, "record_calls", record_calls)
    monkeypatch.setattr(rig.store, "lookup_by_phone", lookup)
    agent = rig.sessions["1001"]
    ids = []
    for _ in range(3):
        ids.append(await rig.ring("1001", "051987654321"))
        pop = next(m for m in await rig.received(agent) if isinstance(m, ScreenPop))
        assert pop.lookup is None and "unavailable" in pop.error
        await rig.settle(30)
    assert rig.gateway.recorder.waiting == 3
    down = False
    await rig.settle(60)
    await rig.recorded()
    rows = (await agent.call_history()).rows
    assert sorted(r.call.pbx_call_id for r in rows) == sorted(ids)


async def test_a_command_the_pbx_lacks_is_refused_naming_the_pbx(store: CrmStore, tmp_path: Path) -> None:
    class NoHold(SimulatorDriver):
        label = "Central sem espera"
        capabilities = SimulatorDriver.capabilities - {Capability.HOLD}

    rig = await make_rig(store, tmp_path, NoHold)
    try:
        call_id = await rig.ring("1001", "051987654321")
        await rig.sessions["1001"].answer(call_id)
        assert Capability.HOLD not in rig.sessions["1001"].capabilities()
        with pytest.raises(Unsupported, match="hold is not supported by Central sem espera"):
            await rig.sessions["1001"].hold(call_id)
    finally:
        await rig.gateway.stop()


async def test_attended_transfer_records_the_consultation_apart_and_pops_the_customer_at_the_target(
        rig: Rig) -> None:
    """The colleague's consultation is an internal call with the agent; the customer's call reaches
    it at the transfer with its DDR's source and the screen pop, and is recorded from there (issue 13)."""
    first, second = rig.sessions["1001"], rig.sessions["1002"]
    call_id = await rig.ring("1001", "051987654321", ddr="5121010001")
    await first.answer(call_id)
    await first.consult(call_id, "1002")
    consult = events(await rig.received(second), CallRinging)[0]
    assert (consult.direction, consult.number, consult.ddr) == (Direction.INTERNAL, "1001", None)
    await second.answer(consult.call_id)
    await rig.settle(20)  # the agents talk
    await first.complete_transfer(call_id)
    got = await rig.received(second)
    joined = next(m for m in got if isinstance(m, PbxUpdate) and isinstance(m.event, CallAnswered)
                  and m.event.call_id == call_id)
    assert joined.traffic_source is not None and joined.traffic_source.name == "Jornal"
    pop = next(m for m in got if isinstance(m, ScreenPop) and m.extension == "1002")
    assert pop.call_id == call_id and [match.customer.name for match in pop.lookup.exact] == ["Ana Souza"]
    await rig.settle(30)
    await second.hangup(call_id)
    await rig.recorded()
    rows = {row.call.pbx_call_id: row.call for row in (await second.call_history()).rows}
    talk, customer = rows[consult.call_id], rows[call_id]
    assert (talk.direction, talk.remote_raw, talk.ddr_raw, talk.talk_seconds) == (Direction.INTERNAL, "1001", None, 20)
    assert (customer.direction, customer.ddr_e164, customer.talk_seconds) == (Direction.INBOUND, "+555121010001", 30)
    assert customer.started_at == talk.ended_at  # from the transfer on, not from the consultation's ring
