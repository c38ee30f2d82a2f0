"""History, DDR and recordings from ForIP's tables in a real PostgreSQL, through aioodbc + psqlODBC.

The calls really happen on the simulator behind the fake ForIP, which writes the tickets like
ForIP does; the driver reads them back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyodbc
import pytest
from pydantic import SecretStr

from tests.forip.conftest import DriverFactory, Events, db_options, split_password
from tests.forip.fake_forip import ZONE, FakeForip
from tui_caa.domain.events import CallAnswered, CallDialing, CallEnded
from tui_caa.domain.telephony import CallState, Direction, Disposition
from tui_caa.pbx.base import PbxError
from tui_caa.pbx.forip import DatabaseError, parse_recording_ref, recording_ref
from tui_caa.pbx.sim import SimulatorDriver

CUSTOMER = "51999887766"
OTHER = "5133334444"
DDR = "5121010005"


def test_split_password_reads_braced_values() -> None:
    assert split_password("Driver={X};Pwd={a;b}}c};Uid=u") == ("Driver={X};Uid=u", "a;b}c")
    assert split_password("Driver={X};Server=h;PWD=plain") == ("Driver={X};Server=h", "plain")


def test_recording_refs() -> None:
    assert recording_ref(datetime(2026, 11, 2, 10, 0), "CRM-1001-51999887766-100000") == \
        "GRAVACOES/20261102/CRM-1001-51999887766-100000.WAV"
    assert parse_recording_ref("GRAVACOES/20261102/abc.WAV") == ("20261102", "abc.WAV")
    assert parse_recording_ref("20261102/CRM-1001-51999887766-100000") == \
        ("20261102", "CRM-1001-51999887766-100000.WAV")  # ForIP's call id names its recording
    for bad in ("abc.WAV", "GRAVACOES/2026/abc.WAV", "GRAVACOES/20261102/../etc/passwd", "20261102/a&b=c"):
        with pytest.raises(PbxError, match="not a ForIP recording"):
            parse_recording_ref(bad)


async def test_history_ddr_and_recordings_of_real_calls(pg: str, sim: SimulatorDriver, fake: FakeForip,
                                                      make_driver: DriverFactory):
    fake.odbc = pg  # the fake writes tickets like ForIP
    await fake.start()
    drv = make_driver(**db_options(pg))
    await drv.connect()
    since = datetime.now(UTC) - timedelta(seconds=2)

    # an inbound call on a DDR, answered, then the customer hangs up
    inbound = await sim.ring("1001", CUSTOMER, ddr="+55" + DDR)
    await sim.answer("1001", inbound)
    await sim.remote_hangup(inbound)
    # another customer gives up while 1001 rings
    missed = await sim.ring("1001", OTHER, ddr="+55" + DDR[:-1] + "9")
    await sim.remote_hangup(missed)
    # click-to-call through ForIP's API, answered, the agent hangs up
    callid = await drv.dial("1001", CUSTOMER)
    (dial,) = fake.dials
    assert sim.call(dial.sim_call_id).legs == {"1001": CallState.DIALING}
    await sim.remote_answer(dial.sim_call_id)
    await sim.hangup("1001", dial.sim_call_id)
    await fake.wait_tickets(3)

    history = await drv.call_history("1001", since)
    assert [(t.direction, t.number, t.answered, t.disposition) for t in history] == [
        (Direction.INBOUND, CUSTOMER, True, Disposition.ANSWERED),
        (Direction.INBOUND, OTHER, False, Disposition.NO_ANSWER),
        (Direction.OUTBOUND, CUSTOMER, True, Disposition.ANSWERED),
    ]
    first, gave_up, clicked = history
    assert first.linked_id == inbound and first.extension == "1001"
    assert abs(first.started_at - datetime.now(UTC)) < timedelta(minutes=1)  # local time read back as UTC
    assert first.started_at.tzinfo is not None
    assert gave_up.recording_ref is None and gave_up.talk_seconds == 0
    # the click-to-call's recording is named by ForIP's call id
    assert clicked.recording_ref == f"GRAVACOES/{callid}.WAV"
    day, name = callid.split("/")
    assert drv.recording_url(clicked.recording_ref) == \
        f"http://127.0.0.1/download_audio.php?diretorio={day}&arquivo={name}.WAV"
    assert first.recording_ref is not None and first.recording_ref.startswith(
        f"GRAVACOES/{first.started_at.astimezone(ZONE):%Y%m%d}/")

    # the DDR each inbound call came in on: by ticket, or by the call id AMI events carry
    assert await drv.ddr_of(first) == DDR
    assert await drv.ddr_of(gave_up) == DDR[:-1] + "9"
    assert await drv.ddr_of(inbound) == DDR
    assert await drv.ddr_of(clicked) is None  # outbound: no DDR
    assert await drv.ddr_of("no-such-call") is None
    # other extensions see nothing of it; the window is respected
    assert await drv.call_history("1002", since) == []
    assert await drv.call_history("1001", datetime.now(UTC) + timedelta(minutes=5)) == []


def _insert(pg: str, rows: list[tuple]) -> None:
    conn = pyodbc.connect(pg, autocommit=True)
    try:
        for row in rows:
            conn.execute("INSERT INTO f_bilhetes_chamadas (origem, destino, linked_id, horario, status, tempo, "
                         "id_empresa, id_destino, gravacao, atendido, arquivo_gravacao) "
                         "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)", *row)
    finally:
        conn.close()


async def test_direction_comes_from_id_destino_and_times_from_the_pbx_zone(pg: str, fake: FakeForip,
                                                                          make_driver: DriverFactory):
    local = datetime(2026, 11, 2, 10, 0, 0)  # 10:00 in São Paulo = 13:00 UTC
    _insert(pg, [
        ("1002", "0215133334444", "1.1", local, "ANSWERED", 65, 3, True, "S", "out-1"),
        ("51999887766", "1002", "1.2", local + timedelta(minutes=1), "BUSY", 0, -1, False, "N", None),
        ("1002", "1003", "1.3", local + timedelta(minutes=2), "NO ANSWER", 0, 0, False, "N", None),
        ("1003", "1002", "1.4", local + timedelta(minutes=3), "ANSWERED", 12, 0, True, "S", "int-1.WAV"),
        ("1001", "1002", "1.5", local - timedelta(days=1), "ANSWERED", 5, 0, True, "S", None),
    ])
    await fake.start()
    drv = make_driver(**db_options(pg))
    tickets = await drv.call_history("1002", datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
    assert [(t.linked_id, t.direction, t.number, t.disposition, t.talk_seconds) for t in tickets] == [
        ("1.1", Direction.OUTBOUND, "0215133334444", Disposition.ANSWERED, 65),
        ("1.2", Direction.INBOUND, "51999887766", Disposition.BUSY, 0),
        ("1.3", Direction.INTERNAL, "1003", Disposition.NO_ANSWER, 0),
        ("1.4", Direction.INTERNAL, "1003", Disposition.ANSWERED, 12),
    ]
    assert tickets[0].started_at == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    assert tickets[0].recording_ref == "GRAVACOES/20261102/out-1.WAV"
    assert tickets[3].recording_ref == "GRAVACOES/20261102/int-1.WAV"
    until = datetime(2026, 11, 2, 13, 1, 30, tzinfo=UTC)
    assert [t.linked_id for t in await drv.call_history("1002", datetime(2026, 11, 2, 12, 0, tzinfo=UTC), until)] \
        == ["1.1", "1.2"]
    with pytest.raises(PbxError, match="aware"):
        await drv.call_history("1002", datetime(2026, 11, 2))


async def test_database_errors_name_the_setting_and_hide_the_password(pg: str, fake: FakeForip,
                                                                     make_driver: DriverFactory):
    await fake.start()
    options = db_options(pg)
    wrong = make_driver(**{**options, "db_password": SecretStr("not-the-password-x9")})
    with pytest.raises(DatabaseError, match="check db_user and db_password") as refused:
        await wrong.check_database()
    assert "not-the-password-x9" not in str(refused.value)
    missing = make_driver(**{**options, "tickets_table": "f_nao_existe"})
    with pytest.raises(DatabaseError, match="check tickets_table"):
        await missing.call_history("1001", datetime.now(UTC))
    nowhere = make_driver(**{**options, "odbc_dsn": options["odbc_dsn"].replace("Port=", "Port=1") + ";Port=1"})
    with pytest.raises(DatabaseError):
        await nowhere.check_database()
    no_driver = make_driver(**{**options, "odbc_dsn": "Driver={No Such ODBC Driver};Server=127.0.0.1"})
    with pytest.raises(DatabaseError, match="install unixodbc and odbc-postgresql"):
        await no_driver.check_database()
    good = make_driver(**options)
    await good.check_database()
    assert wrong.tickets is not None and wrong.tickets.errors == 1


async def test_a_lost_database_connection_is_opened_again(pg: str, fake: FakeForip, make_driver: DriverFactory):
    await fake.start()
    drv = make_driver(**db_options(pg))
    await drv.check_database()
    conn = pyodbc.connect(pg, autocommit=True)
    try:  # the server ends the driver's session (a PostgreSQL restart looks the same to the client)
        killed = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    finally:
        conn.close()
    assert killed and all(row[0] for row in killed)
    assert await drv.call_history("1001", datetime.now(UTC)) == []
    assert drv.tickets is not None and drv.tickets.errors == 1


async def test_without_ami_a_dial_is_dialing_until_its_ticket_tells_the_outcome(
        pg: str, sim: SimulatorDriver, fake: FakeForip, make_driver: DriverFactory):
    fake.odbc = pg
    await fake.start()
    drv = make_driver(**db_options(pg), outcome_poll_interval=0.05)
    events = Events(drv)
    await drv.connect()
    callid = await drv.dial("1001", CUSTOMER)
    dialing = await events.next(CallDialing, call_id=callid)
    assert (dialing.extension, dialing.number, dialing.direction) == ("1001", CUSTOMER, Direction.OUTBOUND)
    (active,) = (await drv.snapshot()).calls
    assert (active.call_id, active.state) == (callid, CallState.DIALING)
    # a busy number: ended BUSY, nothing answered
    busy = await drv.dial("1002", OTHER)
    await events.next(CallDialing, call_id=busy)
    await sim.remote_busy(fake.dials[1].sim_call_id)
    assert (await events.next(CallEnded, call_id=busy)).disposition is Disposition.BUSY
    # the customer answers, talks, the agent hangs up: answered, with the recording ForIP names after the call id
    await sim.remote_answer(fake.dials[0].sim_call_id)
    await sim.hangup("1001", fake.dials[0].sim_call_id)
    answered = await events.next(CallAnswered, call_id=callid)
    ended = await events.next(CallEnded, call_id=callid)
    assert ended.disposition is Disposition.ANSWERED and ended.recording_ref == f"GRAVACOES/{callid}.WAV"
    assert dialing.at <= answered.at <= ended.at
    assert (await drv.snapshot()).calls == ()
    assert not [e for e in events.seen if isinstance(e, (CallAnswered, CallEnded))]  # nothing twice
    await events.close()


async def test_without_ami_a_scheduled_dial_shows_up_when_due(pg: str, fake: FakeForip, make_driver: DriverFactory):
    await fake.start()
    drv = make_driver(**db_options(pg), outcome_poll_interval=0.05, dial_outcome_timeout=0.5)
    events = Events(drv)
    await drv.connect()
    at = datetime.now(UTC) + timedelta(seconds=0.5)
    callid = await drv.schedule_dial("1003", CUSTOMER, at)
    assert (await drv.snapshot()).calls == ()  # not due yet
    dialing = await events.next(CallDialing, call_id=callid)
    due = datetime.fromtimestamp(int(at.timestamp()), UTC)  # ForIP's ts is in whole seconds
    assert dialing.at == due and datetime.now(UTC) >= due
    # the fake writes no ticket here (no ODBC for it): after dial_outcome_timeout the call is given up
    ended = await events.next(CallEnded, call_id=callid)
    assert ended.disposition is Disposition.FAILED
    await events.close()
