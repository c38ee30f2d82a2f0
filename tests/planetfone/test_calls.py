"""PlanetfoneDriver against the fake Planetfone (real sockets) and the real MariaDB: the user stories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.planetfone.conftest import Events, until
from tests.planetfone.fake_planetfone import RECORDING, FakePlanetfone
from tui_caa.domain.events import (
    CallAnswered,
    CallConsulting,
    CallDialing,
    CallEnded,
    CallHeld,
    CallParked,
    CallResumed,
    CallRinging,
    CallTransferred,
    DriverConnected,
    DriverResynced,
    ExtensionStateChanged,
)
from tui_caa.domain.telephony import CallState, Capability, Direction, Disposition, ExtensionState
from tui_caa.pbx.base import PbxError, Unsupported
from tui_caa.pbx.planetfone import PlanetfoneDriver

CALLER = "5133334444"
DDR = "5121010001"


async def ring(fake: FakePlanetfone, ext: str = "1001", number: str = CALLER, ddr: str | None = DDR) -> str:
    return await fake.sim.ring(ext, number, ddr=ddr)


async def test_connect_announces_and_snapshots(driver: PlanetfoneDriver, events: Events) -> None:
    await events.of(DriverResynced)
    assert [type(e) for e in events.seen[:2]] == [DriverConnected, DriverResynced]
    snap = await driver.snapshot()
    assert snap.extensions == {"1001": ExtensionState.IDLE, "1002": ExtensionState.IDLE, "1003": ExtensionState.IDLE}
    assert snap.calls == ()
    assert driver.capabilities == frozenset({Capability.DIAL, Capability.HANGUP, Capability.BLIND_TRANSFER,
                                             Capability.ATTENDED_TRANSFER, Capability.PARK, Capability.PICKUP,
                                             Capability.PLAY_RECORDING})


async def test_inbound_answered_with_ddr_and_recording(mysql: str, fake: FakePlanetfone, driver: PlanetfoneDriver,
                                                       events: Events) -> None:
    sim_id = await ring(fake)
    [ringing] = await events.of(CallRinging, extension="1001")
    call_id = fake.idlig(sim_id)
    assert (ringing.call_id, ringing.number, ringing.ddr, ringing.direction) == (call_id, CALLER, DDR, Direction.INBOUND)
    await events.of(ExtensionStateChanged, extension="1001", state=ExtensionState.RINGING)
    snap = await driver.snapshot()
    assert [(c.call_id, c.state, c.ddr) for c in snap.calls] == [(call_id, CallState.RINGING, DDR)]

    await fake.sim.answer("1001", sim_id)
    await events.of(CallAnswered, extension="1001", call_id=call_id)
    await events.of(ExtensionStateChanged, extension="1001", state=ExtensionState.IN_CALL)
    await fake.sim.remote_hangup(sim_id)
    [ended] = await events.of(CallEnded, extension="1001", call_id=call_id)
    assert ended.disposition is Disposition.ANSWERED
    assert ended.ddr == DDR
    assert ended.recording_ref and ended.recording_ref.endswith(".wav")  # from the CDR's recordingfile
    await events.of(ExtensionStateChanged, extension="1001", state=ExtensionState.IDLE)
    # each event once
    assert len(events.all(CallRinging, call_id=call_id)) == 1
    assert len(events.all(CallAnswered, call_id=call_id)) == 1
    assert len(events.all(CallEnded, call_id=call_id)) == 1


async def test_inbound_missed_keeps_its_ddr(fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    sim_id = await ring(fake, "1002")
    await events.of(CallRinging, extension="1002")
    await fake.sim.remote_hangup(sim_id)  # the customer gives up
    [ended] = await events.of(CallEnded, extension="1002")
    assert ended.disposition is Disposition.NO_ANSWER  # the CDR says NO ANSWER
    assert (ended.ddr, ended.number, ended.direction) == (DDR, CALLER, Direction.INBOUND)


async def test_ddr_from_abre_atendimento_when_busca_dados_has_none(fake: FakePlanetfone) -> None:
    from tests.planetfone.harness import make_driver

    drv = make_driver(fake, mysql=False, abre_atendimento=True)
    await drv.connect()
    ev = Events(drv)
    try:
        original = fake.op_BuscaDadosLigacao

        async def no_ddr(p):
            fields, lists = await original(p)
            fields["NroTelefChamado"] = ""
            return fields, lists

        fake.op_BuscaDadosLigacao = no_ddr  # type: ignore[method-assign]
        await ring(fake, "1003")
        [ringing] = await ev.of(CallRinging, extension="1003")
        assert ringing.ddr == DDR
        assert fake.count("AbreAtendimento") >= 1
    finally:
        ev.close()
        await drv.close()


async def test_ddr_from_the_cdr_when_soap_has_none(mysql: str, fake: FakePlanetfone, driver: PlanetfoneDriver,
                                                   events: Events) -> None:
    """A ringing call without a DDR in the SOAP data gets the CDR's `did` when the call ends."""
    original = fake.op_BuscaDadosLigacao

    async def no_ddr(p):
        fields, lists = await original(p)
        fields["NroTelefChamado"] = ""
        return fields, lists

    fake.op_BuscaDadosLigacao = no_ddr  # type: ignore[method-assign]
    sim_id = await ring(fake, "1001")
    [ringing] = await events.of(CallRinging, extension="1001")
    assert ringing.ddr is None
    await fake.sim.remote_hangup(sim_id)
    [ended] = await events.of(CallEnded, extension="1001")
    assert ended.ddr == DDR
    assert await driver.ddr_from_cdr(ended.call_id) == DDR


async def test_click_to_call(fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    call_id = await driver.dial("1001", "051999887766")
    [dialing] = await events.of(CallDialing, extension="1001")
    assert (dialing.call_id, dialing.number, dialing.direction) == (call_id, "051999887766", Direction.OUTBOUND)
    disca = [p for op, p in fake.requests if op == "Disca"]
    assert len(disca) == 1
    assert (disca[0]["NroTelefOrigem"], disca[0]["NroTelefDestino"]) == ("1001", "051999887766")
    sim_id = fake._by_idlig[call_id]
    await fake.sim.remote_answer(sim_id)
    await events.of(CallAnswered, extension="1001", call_id=call_id)
    await driver.hangup("1001", call_id)
    [ended] = await events.of(CallEnded, extension="1001", call_id=call_id)
    assert ended.disposition is Disposition.ANSWERED
    assert fake.count("DesligaChamada") == 1


async def test_outbound_busy_is_busy(mysql: str, fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    call_id = await driver.dial("1002", "051999887766")
    await events.of(CallDialing, extension="1002")
    await fake.sim.remote_busy(fake._by_idlig[call_id])
    [ended] = await events.of(CallEnded, extension="1002")
    assert ended.disposition is Disposition.BUSY


async def test_internal_call(fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    call_id = await driver.dial("1001", "1002")
    [dialing] = await events.of(CallDialing, extension="1001")
    [ringing] = await events.of(CallRinging, extension="1002")
    assert dialing.direction is ringing.direction is Direction.INTERNAL
    assert (dialing.number, ringing.number, ringing.call_id) == ("1002", "1001", call_id)


async def test_blind_transfer(fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    sim_id = await ring(fake, "1001")
    await events.of(CallRinging, extension="1001")
    await fake.sim.answer("1001", sim_id)
    [answered] = await events.of(CallAnswered, extension="1001")
    await driver.blind_transfer("1001", answered.call_id, "1002")
    [moved] = await events.of(CallTransferred, extension="1001")
    assert (moved.target, moved.attended) == ("1002", False)
    [ringing] = await events.of(CallRinging, extension="1002")
    assert (ringing.call_id, ringing.number, ringing.ddr) == (answered.call_id, CALLER, DDR)
    assert not events.all(CallEnded, extension="1001")
    [request] = [p for op, p in fake.requests if op == "TransfereChamada"]
    assert request["NroRamalDestino"] == "1002"
    assert request["CodCanal"].startswith("SIP/trunk-")  # the customer's channel is the one moved


async def test_consult_transfer_completed_and_cancelled(fake: FakePlanetfone, driver: PlanetfoneDriver,
                                                        events: Events) -> None:
    sim_id = await ring(fake, "1001")
    await events.of(CallRinging, extension="1001")
    await fake.sim.answer("1001", sim_id)
    [answered] = await events.of(CallAnswered, extension="1001")
    call_id = answered.call_id

    await driver.consult("1001", call_id, "1002")
    [consulting] = await events.of(CallConsulting, extension="1001")
    assert consulting.target == "1002"
    await events.of(CallRinging, extension="1002")
    await driver.cancel_transfer("1001", call_id)
    await events.of(CallResumed, extension="1001", call_id=call_id)
    await events.of(CallEnded, extension="1002")

    await driver.consult("1001", call_id, "1003")
    await events.of(CallConsulting, extension="1001", target="1003")
    [offered] = await events.of(CallRinging, extension="1003")
    await fake.sim.answer("1003", fake._by_idlig[offered.call_id])
    await events.of(CallAnswered, extension="1003", call_id=offered.call_id)
    await driver.complete_transfer("1001", call_id)
    [moved] = await events.of(CallTransferred, extension="1001", call_id=call_id)
    assert (moved.target, moved.attended) == ("1003", True)
    await events.of(CallAnswered, extension="1003", call_id=call_id)
    steps = [p["IdtOperacao"] for op, p in fake.requests if op == "TransfereComConsulta"]
    assert steps == ["C", "R", "C", "T"]


async def test_park_and_pickup(fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    sim_id = await ring(fake, "1001")
    await events.of(CallRinging, extension="1001")
    await fake.sim.answer("1001", sim_id)
    [answered] = await events.of(CallAnswered, extension="1001")
    slot = await driver.park("1001", answered.call_id)
    assert slot == "701"
    [parked] = await events.of(CallParked, extension="1001")
    assert parked.slot == "701"
    await until(lambda: "701" in driver._tracker.view.parked)
    await driver.pickup("1003", "701")
    [picked] = await events.of(CallAnswered, extension="1003", call_id=answered.call_id)
    assert picked.number == CALLER


async def test_pickup_of_a_ringing_extension(fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    await ring(fake, "1002")
    [ringing] = await events.of(CallRinging, extension="1002")
    await driver.pickup("1003", "1002")
    [moved] = await events.of(CallTransferred, extension="1002")
    assert moved.target == "1003"
    await events.of(CallAnswered, extension="1003", call_id=ringing.call_id)
    assert not events.all(CallEnded, extension="1002")
    with pytest.raises(PbxError, match="nothing is parked at '1002' and no call is ringing"):
        await driver.pickup("1003", "1002")


async def test_play_recording_to_an_extension(fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    call_id = await driver.play_recording(RECORDING + ".wav", "1002")
    [ringing] = await events.of(CallRinging, extension="1002")
    assert ringing.call_id == call_id
    [request] = [p for op, p in fake.requests if op == "BuscaGravacaoParaRamal"]
    assert (request["NomeArquivo"], request["Ramal"]) == (RECORDING, "1002")
    with pytest.raises(PbxError, match="the recording does not exist on the PBX .*IdtResultado=I"):
        await driver.play_recording("nao-existe", "1002")


async def test_unsupported_commands_are_refused_by_name(driver: PlanetfoneDriver) -> None:
    with pytest.raises(Unsupported, match="answer is not supported by Planetfone"):
        await driver.answer("1001", "x")
    with pytest.raises(Unsupported, match="hold is not supported by Planetfone"):
        await driver.hold("1001", "x")


async def test_call_history_from_the_cdr(mysql: str, fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    sim_id = await ring(fake, "1001")
    await events.of(CallRinging, extension="1001")
    await fake.sim.answer("1001", sim_id)
    await events.of(CallAnswered, extension="1001")
    await fake.sim.remote_hangup(sim_id)
    await events.of(CallEnded, extension="1001")
    missed = await ring(fake, "1001", number="5199990000", ddr="5121010002")
    await events.of(CallRinging, extension="1001", number="5199990000")
    await fake.sim.remote_hangup(missed)
    await events.of(CallEnded, extension="1001", count=2)
    out = await driver.dial("1001", "051988887777")
    await events.of(CallDialing, extension="1001")
    await driver.hangup("1001", out)
    await events.of(CallEnded, extension="1001", count=3)

    history = await driver.call_history("1001", start)
    assert [(r.direction, r.remote_raw, r.ddr_raw, r.disposition, r.missed) for r in history] == [
        (Direction.INBOUND, CALLER, DDR, Disposition.ANSWERED, False),
        (Direction.INBOUND, "5199990000", "5121010002", Disposition.NO_ANSWER, True),
        (Direction.OUTBOUND, "051988887777", None, Disposition.NO_ANSWER, False),
    ]
    assert history[0].recording_ref and history[0].answered_at is not None
    assert history[0].pbx_call_id == fake.idlig(sim_id)
    assert await driver.call_history("1002", start) == []


async def test_hold_on_the_phone_and_an_offline_phone_show(fake: FakePlanetfone, driver: PlanetfoneDriver,
                                                           events: Events) -> None:
    """The API has no hold command, but a seller may press the phone's hold key: the poll sees it."""
    sim_id = await ring(fake, "1001")
    await events.of(CallRinging, extension="1001")
    await fake.sim.answer("1001", sim_id)
    [answered] = await events.of(CallAnswered, extension="1001")
    await fake.sim.hold("1001", sim_id)
    await events.of(CallHeld, extension="1001", call_id=answered.call_id)
    await events.of(ExtensionStateChanged, extension="1001", state=ExtensionState.ON_HOLD)
    await fake.sim.resume("1001", sim_id)
    await events.of(CallResumed, extension="1001", call_id=answered.call_id)
    await fake.sim.set_registered("1003", False)
    await events.of(ExtensionStateChanged, extension="1003", state=ExtensionState.OFFLINE)
    assert (await driver.snapshot()).extensions["1003"] is ExtensionState.OFFLINE
