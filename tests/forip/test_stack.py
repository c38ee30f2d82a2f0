"""The whole ForIP stack at once: the CRM API (fake ForIP), Asterisk's AMI (SimAmi) and the call
tickets (real PostgreSQL), all in front of one simulator. What AMI events say and what ForIP's
tables say about the same calls must agree: the ticket's linked_id is the call id of the events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.asterisk.sim_ami import SimAmi
from tests.forip.conftest import Events, db_options
from tests.forip.fake_forip import FakeForip
from tests.forip.harness import AMI_SECRET, AMI_USER, make_driver
from tui_caa.domain.events import (
    CallAnswered,
    CallDialing,
    CallEnded,
    CallRinging,
    DriverConnected,
    DriverDisconnected,
    DriverResynced,
)
from tui_caa.domain.telephony import Direction, Disposition

CUSTOMER = "51999887766"
DDR = "5121010005"


async def test_events_from_ami_and_tickets_from_postgresql_agree(pg: str):
    sim_ami = await SimAmi(username=AMI_USER, secret=AMI_SECRET).start()
    fake = FakeForip.on_sim_ami(sim_ami, odbc=pg)
    drv = None
    try:
        await fake.start()
        drv = make_driver(sim_ami, fake, **db_options(pg))
        events = Events(drv)
        await drv.connect()
        await events.next(DriverResynced)
        since = datetime.now(UTC) - timedelta(seconds=5)
        sim = sim_ami.sim

        # a customer calls the DDR; the seller answers; the customer hangs up
        sim_call = await sim.ring("1001", CUSTOMER, ddr=DDR)
        ringing = await events.next(CallRinging, extension="1001")
        assert ringing.ddr == DDR and ringing.number == CUSTOMER and ringing.direction is Direction.INBOUND
        await sim.answer("1001", sim_call)
        await events.next(CallAnswered, call_id=ringing.call_id)
        await sim.remote_hangup(sim_call)
        await events.next(CallEnded, call_id=ringing.call_id)

        # click-to-call through ForIP's API; the customer answers; the seller hangs up through AMI
        callid = await drv.dial("1002", CUSTOMER)
        dialing = await events.next(CallDialing, extension="1002")
        await sim.remote_answer(fake.dials[0].sim_call_id)
        await events.next(CallAnswered, call_id=dialing.call_id)
        await drv.hangup("1002", dialing.call_id)
        ended = await events.next(CallEnded, call_id=dialing.call_id)
        assert ended.disposition is Disposition.ANSWERED
        await fake.wait_tickets(2)

        (inbound,) = await drv.call_history("1001", since)
        assert inbound.linked_id == ringing.call_id  # the events' call id finds the ticket
        assert inbound.direction is Direction.INBOUND and inbound.answered and inbound.number == CUSTOMER
        assert await drv.ddr_of(ringing.call_id) == DDR == await drv.ddr_of(inbound)
        (outbound,) = await drv.call_history("1002", since)
        assert outbound.linked_id == dialing.call_id and outbound.direction is Direction.OUTBOUND
        assert outbound.recording_ref == f"GRAVACOES/{callid}.WAV"
        await events.close()
    finally:
        if drv is not None:
            await drv.close()
        await fake.close()
        await sim_ami.stop()


async def test_links_lost_mid_call_resync_and_no_call_record_is_lost(pg: str):
    sim_ami = await SimAmi(username=AMI_USER, secret=AMI_SECRET).start()
    fake = FakeForip.on_sim_ami(sim_ami, odbc=pg)
    drv = None
    try:
        await fake.start()
        drv = make_driver(sim_ami, fake, **db_options(pg))
        events = Events(drv)
        await drv.connect()
        await events.next(DriverResynced)
        since = datetime.now(UTC) - timedelta(seconds=5)
        sim = sim_ami.sim
        sim_call = await sim.ring("1003", CUSTOMER, ddr=DDR)
        ringing = await events.next(CallRinging, extension="1003")
        await sim.answer("1003", sim_call)
        await events.next(CallAnswered, call_id=ringing.call_id)

        # the AMI connection dies mid-call: link down, back, resynced; the call is still there
        sim_ami.drop_all()
        lost = await events.next(DriverDisconnected)
        assert lost.reason.startswith("ForIP AMI:")
        await events.next(DriverConnected)
        await events.next(DriverResynced)
        assert [c.call_id for c in (await drv.snapshot()).calls if c.extension == "1003"] == [ringing.call_id]

        # then the CRM API goes away; the call ends meanwhile (events still flow from AMI)
        await fake.stop()
        await events.next(DriverDisconnected)
        await sim.remote_hangup(sim_call)
        ended = await events.next(CallEnded, call_id=ringing.call_id)
        assert ended.disposition is Disposition.ANSWERED
        await fake.wait_tickets(1)  # ForIP's own record of the call is written whatever the links did
        await fake.start()
        await events.next(DriverConnected)
        await events.next(DriverResynced)
        (ticket,) = await drv.call_history("1003", since)
        assert ticket.linked_id == ringing.call_id and ticket.answered
        await events.close()
    finally:
        if drv is not None:
            await drv.close()
        await fake.close()
        await sim_ami.stop()
