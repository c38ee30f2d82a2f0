"""`check()` names the part that failed (SOAP service or MySQL); IdtResultado codes become sentences;
calls that begin and end between two polls still give their events, once; settings are validated."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pydantic import SecretStr

from tests.planetfone.conftest import Events
from tests.planetfone.fake_planetfone import FakePlanetfone
from tests.planetfone.harness import make_driver
from tui_caa.domain.events import CallAnswered, CallDialing, CallEnded, CallRinging, DriverResynced
from tui_caa.domain.telephony import Direction, Disposition
from tui_caa.pbx.base import PbxError, Unsupported
from tui_caa.pbx.planetfone import PlanetfoneDriver, PlanetfoneRefused
from tui_caa.pbx.planetfone.results import meaning

CALLER, DDR = "5133334444", "5121010001"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- check

async def test_check_is_clean_when_both_answer(mysql: str, driver: PlanetfoneDriver) -> None:
    assert await driver.check() == []


async def test_check_names_the_soap_service_when_it_is_down(mysql: str, fake: FakePlanetfone, driver: PlanetfoneDriver) -> None:
    await fake.stop()
    [problem] = await driver.check()
    assert problem.startswith(f"SOAP service at http://127.0.0.1:{fake.port}/wenvpabx2: SituacaoAgente: cannot reach")


async def test_check_names_mysql_with_a_wrong_password(mysql: str, fake: FakePlanetfone) -> None:
    drv = make_driver(fake, entry_overrides={"mysql_password": SecretStr("wrong-password")})
    try:
        await drv.connect()  # the SOAP service answers: the driver works, without the CDR
        assert drv.connected and drv.mysql_problem is not None
        [problem] = await drv.check()
        assert problem.startswith("MySQL at 127.0.0.1:3306 (database caa_planetfone, table cdr_")
        assert "error 1045" in problem and "check mysql_user and mysql_password in the PBX registry" in problem
        assert "wrong-password" not in problem and "wrong-password" not in repr(drv.cdr)
        with pytest.raises(PbxError, match="MySQL at 127.0.0.1:3306"):
            await drv.call_history("1001", fake.sim.clock.now())
        ev = Events(drv)  # calls go on without the CDR's help, and the polls do not wait on the MySQL
        sim_id = await fake.sim.ring("1002", CALLER, ddr=DDR)
        [ringing] = await ev.of(CallRinging, extension="1002")
        await fake.sim.remote_hangup(sim_id)
        [ended] = await ev.of(CallEnded, extension="1002")
        assert (ringing.ddr, ended.disposition) == (DDR, Disposition.NO_ANSWER)
        assert drv.cdr is not None and drv.cdr.failures <= 4  # connect, check, history, one sweep: not per poll
        ev.close()
    finally:
        await drv.close()


async def test_check_names_both_when_both_fail(mysql: str, fake: FakePlanetfone) -> None:
    drv = make_driver(fake, entry_overrides={"mysql_port": closed_port()})
    await fake.stop()
    try:
        soap, mysql = await drv.check()
        assert soap.startswith("SOAP service at ")
        assert mysql.startswith("MySQL at 127.0.0.1:") and "error 2003" in mysql
        assert "is the server up, and mysql_host/mysql_port right?" in mysql
    finally:
        await drv.close()


async def test_check_names_a_missing_cdr_table(mysql: str, fake: FakePlanetfone) -> None:
    drv = make_driver(fake, cdr_table="no_such_cdr")
    try:
        [problem] = await drv.check()
        assert "table no_such_cdr" in problem and "error 1146" in problem and "check cdr_table" in problem
    finally:
        await drv.close()


async def test_without_mysql_the_driver_works_and_says_what_is_missing(fake: FakePlanetfone) -> None:
    drv = make_driver(fake, mysql=False)
    await drv.connect()
    ev = Events(drv)
    try:
        [problem] = await drv.check()
        assert problem.startswith("MySQL: not configured (fill mysql_host")
        with pytest.raises(Unsupported, match="call history needs the PBX's MySQL"):
            await drv.call_history("1001", fake.sim.clock.now())
        sim_id = await fake.sim.ring("1001", CALLER, ddr=DDR)
        [ringing] = await ev.of(CallRinging, extension="1001")
        assert ringing.ddr == DDR  # from BuscaDadosLigacao
        await fake.sim.remote_hangup(sim_id)
        [ended] = await ev.of(CallEnded, extension="1001")
        assert ended.disposition is Disposition.NO_ANSWER
    finally:
        ev.close()
        await drv.close()


# ---------------------------------------------------------------- IdtResultado

@pytest.mark.parametrize(("code", "text"), [
    ("O", "the number is busy"),
    ("N", "the number is not valid"),
    ("S", r"nobody answered \(sem resposta\)"),
    ("E", "the PBX could not place the call"),
])
async def test_disca_codes_are_sentences(fake: FakePlanetfone, driver: PlanetfoneDriver, code: str, text: str) -> None:
    fake.results["Disca"] = code
    with pytest.raises(PlanetfoneRefused, match=rf"cannot call 051999887766 from 1001: {text} "
                                                rf"\(Planetfone Disca IdtResultado={code}\)") as caught:
        await driver.dial("1001", "051999887766")
    assert caught.value.code == code


async def test_the_pbx_own_words_are_kept(fake: FakePlanetfone, driver: PlanetfoneDriver) -> None:
    await fake.sim.ring("1001", CALLER)  # 1001 is busy: the simulator refuses, the fake says E + why
    with pytest.raises(PlanetfoneRefused, match=r"IdtResultado=O\): extension 1001 is busy"):
        await driver.dial("1001", "051999887766")


async def test_hangup_of_a_call_the_pbx_no_longer_has(fake: FakePlanetfone, driver: PlanetfoneDriver,
                                                      events: Events) -> None:
    sim_id = await fake.sim.ring("1001", CALLER)
    [ringing] = await events.of(CallRinging, extension="1001")
    fake.results["DesligaChamada"] = "I"
    with pytest.raises(PlanetfoneRefused, match=rf"cannot hang up call {ringing.call_id} at 1001: the call does "
                                                r"not exist \(any more\) on the PBX"):
        await driver.hangup("1001", ringing.call_id)
    with pytest.raises(PbxError, match="call nope is not under way at extension 1001"):
        await driver.hangup("1001", "nope")
    await fake.sim.remote_hangup(sim_id)


async def test_transfer_timeout_code(fake: FakePlanetfone, driver: PlanetfoneDriver, events: Events) -> None:
    sim_id = await fake.sim.ring("1001", CALLER)
    await events.of(CallRinging, extension="1001")
    await fake.sim.answer("1001", sim_id)
    [answered] = await events.of(CallAnswered, extension="1001")
    fake.results["TransfereChamada"] = "T"
    with pytest.raises(PlanetfoneRefused, match=r"nobody answered in time \(timeout\)"):
        await driver.blind_transfer("1001", answered.call_id, "1002")
    assert driver._tracker.leg("1001", answered.call_id).intent is None  # the failed command left no trace


def test_meaning_depends_on_the_operation() -> None:
    assert meaning("Disca", "S") == "nobody answered (sem resposta)"
    assert meaning("DesligaChamada", "S") == "done (sucesso)"
    assert meaning("Disca", "Z") == "unknown result code 'Z'"


async def test_bad_input_is_refused_before_the_pbx_hears_of_it(fake: FakePlanetfone, driver: PlanetfoneDriver) -> None:
    with pytest.raises(PbxError, match="'10x1' is not an extension number"):
        await driver.dial("10x1", "0519")
    with pytest.raises(PbxError, match="'051 9999' is not a number Planetfone can dial"):
        await driver.dial("1001", "051 9999")
    assert fake.count("Disca") == 0


# ---------------------------------------------------------------- between two polls

async def test_calls_between_two_polls_come_from_the_cdr_once(mysql: str, fake: FakePlanetfone) -> None:
    drv = make_driver(fake, poll_interval=60, cdr_sweep_interval=0.01)  # polls only when the test says
    await drv.connect()
    ev = Events(drv)
    try:
        await ev.of(DriverResynced)
        missed = await fake.sim.ring("1002", CALLER, ddr=DDR)
        await fake.sim.remote_hangup(missed)
        talked = await fake.sim.ring("1003", "5198887777", ddr="5121010002")
        await fake.sim.answer("1003", talked)
        await fake.sim.remote_hangup(talked)
        out = await fake.sim.dial("1001", "051977776666")
        await fake.sim.remote_busy(out)
        await fake.settled()
        await asyncio.sleep(0.02)  # past the sweep interval (a poll cadence, not a wait for a result)
        await drv.poll()
        [r2] = await ev.of(CallRinging, extension="1002")
        [e2] = await ev.of(CallEnded, extension="1002")
        assert (r2.number, r2.ddr, e2.disposition, e2.direction) == (CALLER, DDR, Disposition.NO_ANSWER,
                                                                      Direction.INBOUND)
        assert r2.call_id == e2.call_id == fake.idlig(missed)
        [e3] = await ev.of(CallEnded, extension="1003")
        await ev.of(CallAnswered, extension="1003")
        assert (e3.disposition, e3.ddr) == (Disposition.ANSWERED, "5121010002") and e3.recording_ref
        [d1] = await ev.of(CallDialing, extension="1001")
        [e1] = await ev.of(CallEnded, extension="1001")
        assert (d1.number, e1.disposition, e1.direction) == ("051977776666", Disposition.BUSY, Direction.OUTBOUND)
        assert e2.at >= r2.at  # the CDR's own times
        for _ in range(3):
            await asyncio.sleep(0.02)
            await drv.poll()
        assert len(ev.all(CallEnded)) == 3 and len(ev.all(CallRinging)) == 2
    finally:
        ev.close()
        await drv.close()


async def test_a_call_answered_between_two_polls_rings_then_answers(fake: FakePlanetfone) -> None:
    drv = make_driver(fake, poll_interval=60)
    await drv.connect()
    ev = Events(drv)
    try:
        sim_id = await fake.sim.ring("1001", CALLER, ddr=DDR)
        await fake.sim.answer("1001", sim_id)
        await drv.poll()
        [ringing] = await ev.of(CallRinging, extension="1001")
        [answered] = await ev.of(CallAnswered, extension="1001")
        assert ringing.call_id == answered.call_id and ringing.ddr == DDR
        assert ev.seen.index(ringing) < ev.seen.index(answered)
    finally:
        ev.close()
        await drv.close()


# ---------------------------------------------------------------- settings

def test_settings_are_checked_with_the_field_named(fake: FakePlanetfone) -> None:
    with pytest.raises(PbxError, match=r"\[pbx.planetfone\] settings are not valid.*channel_pattern"):
        make_driver(fake, channel_pattern=r"^SIP/(\d+)-")
    with pytest.raises(PbxError, match=r"unknown CDR column 'calldte'"):
        make_driver(fake, cdr_columns={"calldte": "data"})
    with pytest.raises(PbxError, match=r"unknown time zone 'Mars/Olympus'"):
        make_driver(fake, cdr_timezone="Mars/Olympus")


def test_secrets_never_show(mysql: str, fake: FakePlanetfone) -> None:
    drv = make_driver(fake, entry_overrides={"mysql_password": SecretStr("s3cr3t-pw")})
    assert "s3cr3t-pw" not in repr(drv.cdr) and "s3cr3t-pw" not in repr(vars(drv))
