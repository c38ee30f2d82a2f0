"""DigitroDriver when things go wrong: the PBX down, the channel dropped, silent or expired, malformed
events, HTTP errors, bad JSON, an expired API key, slow answers. The driver keeps running, says the
link is down, reopens the channel, resyncs, and never sends a command twice."""

from __future__ import annotations

import asyncio

import pytest

from tests.digitro.conftest import Events, until
from tests.digitro.fake_digitro import API_KEY, FakeDigitro, sse
from tests.digitro.harness import make_driver
from tui_caa.domain.events import (
    CallAnswered,
    CallDialing,
    CallEnded,
    CallRinging,
    DriverConnected,
    DriverDisconnected,
    DriverResynced,
)
from tui_caa.domain.telephony import CallState
from tui_caa.pbx.base import NotConnected, PbxError
from tui_caa.pbx.digitro import DigitroDriver
from tui_caa.pbx.digitro import protocol as p
from tui_caa.pbx.digitro.sse import MAX_EVENT_CHARS

CUSTOMER, DDR = "51999887766", "5121010005"


async def back_up(events: Events) -> DriverDisconnected:
    """The link went down and came back: DriverDisconnected, DriverConnected, DriverResynced."""
    down = await events.next(DriverDisconnected)
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    return down


async def reconnected(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    """The startup DriverConnected/DriverResynced are read first, so `back_up` sees the reconnection."""
    await events.next(DriverResynced)


# ---- the PBX down at start -----------------------------------------------------------------------

async def test_pbx_down_at_start_then_up() -> None:
    fake = await FakeDigitro().start()
    port, ecr_port = fake.port, fake.ecr_port
    await fake.stop_listening()
    drv = make_driver(fake)
    with pytest.raises(NotConnected) as refused:
        await drv.connect()
    assert f"127.0.0.1:{port}" in str(refused.value) and "address and port" in str(refused.value)
    assert not drv.connected
    await fake.start(port, ecr_port)
    await drv.connect()  # the gateway simply tries again
    assert drv.connected and fake.channel_opens == 1
    await drv.close()
    await fake.stop()


async def test_channel_open_answered_500_at_start(fake: FakeDigitro) -> None:
    fake.fail_next["channel"] = (500, b'{"CODIGO": 500, "MENSAGEM": "falha interna"}')
    drv = make_driver(fake)
    with pytest.raises(PbxError, match=r"Dígitro failed to open the event channel \(HTTP 500\): falha interna"):
        await drv.connect()
    await drv.connect()
    assert drv.connected
    await drv.close()


async def test_a_url_that_is_not_an_event_stream_is_named(fake: FakeDigitro) -> None:
    fake.fail_next["channel"] = (200, b"{}")
    drv = make_driver(fake)
    with pytest.raises(PbxError, match="did not open an event stream.*channel_path"):
        await drv.connect()
    await drv.close()


async def test_no_answer_to_the_channel_open_within_the_timeout(fake: FakeDigitro) -> None:
    drv = make_driver(fake, request_timeout=0.3)
    fake.delay["channel"] = 0.6
    with pytest.raises(NotConnected, match="did not open the event channel within 0.3 s"):
        await drv.connect()
    await drv.close()


async def test_no_opening_event_within_the_timeout(fake: FakeDigitro) -> None:
    drv = make_driver(fake, request_timeout=0.3)
    fake.delay["open_event"] = 0.6
    with pytest.raises(NotConnected, match="sent no EVENTO_DE_ABERTURA_DE_CANAL within 0.3 s"):
        await drv.connect()
    await drv.close()


# ---- the channel lost ----------------------------------------------------------------------------

async def test_channel_dropped_mid_call_reconnects_and_resyncs(fake: FakeDigitro, driver: DigitroDriver,
                                                               events: Events) -> None:
    await reconnected(fake, driver, events)
    await fake.sim.ring("1001", CUSTOMER, ddr=DDR)
    ringing = await events.next(CallRinging, "1001")
    await driver.answer("1001", ringing.call_id)
    await events.next(CallAnswered, "1001", ringing.call_id)
    fake.drop_channels()
    down = await back_up(events)
    assert "event channel" in down.reason
    assert fake.channel_opens == 2 and driver.channel_id == "2" and driver.reconnects == 1
    [call] = (await driver.snapshot()).calls  # the resync found the call still under way
    assert (call.call_id, call.state, call.ddr) == (ringing.call_id, CallState.ACTIVE, DDR)
    await driver.hangup("1001", ringing.call_id)  # commands go to the new channel
    assert (await events.next(CallEnded, "1001", ringing.call_id)).recording_ref


async def test_what_happens_while_down_is_resynced_not_replayed(fake: FakeDigitro, driver: DigitroDriver,
                                                                events: Events) -> None:
    await reconnected(fake, driver, events)
    await fake.stop_listening()
    fake.drop_channels()
    await events.next(DriverDisconnected)
    with pytest.raises(NotConnected, match="event channel is down"):
        await driver.dial("1001", CUSTOMER)
    sim_id = await fake.sim.ring("1002", CUSTOMER, ddr=DDR)  # rings while the link is down
    await fake.start(fake.port, fake.ecr_port)
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    [call] = (await driver.snapshot()).calls
    assert call.call_id == fake.digitro_id(sim_id) and call.state is CallState.RINGING
    assert not [e for e in events.all if isinstance(e, CallRinging)]  # known from the resync only
    assert fake.operations("dial") == []


async def test_silent_channel_is_declared_dead_by_heartbeat_timeout(fake: FakeDigitro) -> None:
    drv = make_driver(fake, heartbeat_timeout=0.4)
    await drv.connect()
    events = Events(drv)
    await events.next(DriverResynced)
    fake.silence_channels()
    down = await back_up(events)
    assert "no heartbeat" in down.reason and "heartbeat_timeout" in down.reason
    assert fake.channel_opens == 2
    await events.close()
    await drv.close()


async def test_heartbeats_keep_a_quiet_channel_alive(fake: FakeDigitro) -> None:
    fake.heartbeat_interval = 0.05
    drv = make_driver(fake, heartbeat_timeout=0.3)
    await drv.connect()
    await until(lambda: fake.heartbeats >= 20, "twenty heartbeats (over three heartbeat timeouts)")
    assert fake.channel_opens == 1 and drv.connected
    await drv.close()


async def test_the_channel_is_renewed_in_time(fake: FakeDigitro) -> None:
    # the fake closes a channel not renewed for 1 s; renewals every 0.1 s keep one channel open well
    # past that (a 10x margin: a loaded CI machine may stall the loop for a few hundred ms)
    fake.channel_ttl = 1.0
    drv = make_driver(fake, channel_renew_interval=0.1)
    await drv.connect()
    await until(lambda: drv.renewals >= 25, "25 renewals (2.5 s, past the channel's 1 s lifetime)", timeout=15)
    assert fake.channel_opens == 1 and drv.connected and drv.renewals >= 25
    await drv.close()


async def test_a_channel_not_renewed_expires_and_is_reopened(fake: FakeDigitro) -> None:
    fake.channel_ttl = 0.2
    drv = make_driver(fake, channel_renew_interval=600)
    await drv.connect()
    events = Events(drv)
    await events.next(DriverResynced)
    down = await back_up(events)
    assert "closed the event channel" in down.reason
    await events.close()
    await drv.close()


async def test_a_renewal_refused_404_reopens_the_channel(fake: FakeDigitro) -> None:
    drv = make_driver(fake, channel_renew_interval=0.1)
    await drv.connect()
    events = Events(drv)
    await events.next(DriverResynced)
    fake.fail_next["renew"] = (404, b'{"CODIGO": "CANAL_INEXISTENTE", "MENSAGEM": "canal expirado"}')
    down = await back_up(events)
    assert "could not be renewed" in down.reason and "canal expirado" in down.reason
    await events.close()
    await drv.close()


async def test_a_renewal_failing_500_only_counts(fake: FakeDigitro) -> None:
    drv = make_driver(fake, channel_renew_interval=0.05)
    await drv.connect()
    fake.fail_next["renew"] = (500, b"{}")
    await until(lambda: drv.renew_failures == 1 and drv.renewals >= 2, "a failed then good renewals")
    assert drv.connected and fake.channel_opens == 1
    await drv.close()


async def test_reopening_retries_with_backoff_until_the_pbx_answers(fake: FakeDigitro, driver: DigitroDriver,
                                                                    events: Events) -> None:
    await reconnected(fake, driver, events)
    fake.fail_next["channel"] = (503, b'{"MENSAGEM": "em manutencao"}')
    fake.drop_channels()
    await back_up(events)
    assert fake.channel_opens == 3  # the refused one, then the good one


async def test_reconnection_waits_grow_exponentially_to_the_maximum(fake: FakeDigitro) -> None:
    drv = make_driver(fake, reconnect_delay=0.01, reconnect_max_delay=0.05)
    waits: list[float] = []

    async def watched_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    drv._sleep = watched_sleep
    await drv.connect()
    events = Events(drv)
    await events.next(DriverResynced)
    fake.refuse_channels = 5
    fake.drop_channels()
    await back_up(events)
    assert waits == [0.01, 0.02, 0.04, 0.05, 0.05, 0.05]  # five refused, the sixth open works
    assert fake.channel_opens == 7 and drv.connected
    await events.close()
    await drv.close()


async def test_a_bug_while_reading_does_not_kill_the_pump(fake: FakeDigitro, driver: DigitroDriver,
                                                          events: Events, monkeypatch: pytest.MonkeyPatch) -> None:
    await reconnected(fake, driver, events)

    def broken(name: str, data: object) -> list:
        raise RuntimeError("a bug in the mapping")

    monkeypatch.setattr(driver._mapper, "feed", broken)
    await fake.sim.ring("1001", CUSTOMER, ddr=DDR)
    down = await back_up(events)  # the channel is reopened with a fresh mapper, which works
    assert "a bug in the mapping" in down.reason
    [call] = (await driver.snapshot()).calls
    assert call.extension == "1001" and call.state is CallState.RINGING


# ---- malformed events ----------------------------------------------------------------------------

async def test_malformed_events_are_counted_and_skipped(fake: FakeDigitro, driver: DigitroDriver,
                                                        events: Events) -> None:
    await reconnected(fake, driver, events)
    names = p.EVENTS
    fake.send_raw(f"event: {names['answered']}\ndata: {{not json\n\n")
    fake.send_raw(sse(names["ringing"], {p.CALL_ID: "1"}))  # no DISPOSITIVO
    fake.send_raw(sse(names["device_state"], {p.DEVICE: "1001", p.STATE: "VOANDO"}))  # unknown state
    fake.send_raw(sse(names["held"], {p.DEVICE: "1001", p.CALL_ID: "never seen"}))
    fake.send_raw(sse(names["ringing"], [1, 2]))  # not an object
    fake.send_raw(sse(names["ringing"], {p.DEVICE: {"x": 1}, p.CALL_ID: "1"}))  # not text
    fake.send_raw("event: EVENTO_DESCONHECIDO\ndata: {}\n\n")  # not ours: ignored, not malformed
    fake.send_raw("data: " + "x" * (MAX_EVENT_CHARS + 10) + "\n\n")
    await fake.sim.ring("1001", CUSTOMER, ddr=DDR)  # and the channel goes on
    ringing = await events.next(CallRinging, "1001")
    assert ringing.ddr == DDR
    assert driver.malformed_events == 7 and driver.unknown_events == 1
    assert driver.connected and fake.channel_opens == 1
    assert not [e for e in events.all if isinstance(e, DriverDisconnected)]


async def test_a_broken_opening_event_fails_the_connect(fake: FakeDigitro) -> None:
    fake.fail_next["channel"] = (200, b"")
    drv = make_driver(fake)
    with pytest.raises(PbxError):
        await drv.connect()
    await drv.close()


async def test_a_malformed_state_query_answer_fails_the_resync_clearly(fake: FakeDigitro) -> None:
    fake.fail_next["state"] = (200, b'{"ESTADO": "LIVRE", "CHAMADAS": "nenhuma"}')
    drv = make_driver(fake)
    with pytest.raises(PbxError, match="state query of extension 1001 with data the driver cannot use"):
        await drv.connect()
    await drv.connect()
    assert drv.connected
    await drv.close()


# ---- command failures ----------------------------------------------------------------------------

async def test_http_500_on_a_command(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    fake.fail_next["dial"] = (500, b'{"CODIGO": 500, "MENSAGEM": "erro interno"}')
    with pytest.raises(PbxError, match=r"Dígitro failed to call 51999887766 from extension 1001 \(HTTP 500\): "
                                       "erro interno"):
        await driver.dial("1001", CUSTOMER)
    assert driver.connected
    call_id = await driver.dial("1001", CUSTOMER)  # the next command works
    assert call_id and len(fake.operations("dial")) == 2


async def test_bad_json_answer(fake: FakeDigitro, driver: DigitroDriver) -> None:
    fake.fail_next["dial"] = (200, b"<html>proxy error</html>")
    with pytest.raises(PbxError, match="answered the request to call .* with something that is not JSON"):
        await driver.dial("1001", CUSTOMER)
    fake.fail_next["dial"] = (200, b"[1, 2]")
    with pytest.raises(PbxError, match="JSON that is not an object"):
        await driver.dial("1001", CUSTOMER)
    fake.fail_next["dial"] = (200, b"{}")
    with pytest.raises(PbxError, match="did not say its ID_CHAMADA"):
        await driver.dial("1001", CUSTOMER)
    assert driver.connected


async def test_an_expired_key_takes_the_link_down_until_it_is_fixed(fake: FakeDigitro, driver: DigitroDriver,
                                                                    events: Events) -> None:
    await reconnected(fake, driver, events)
    fake.expire_key()
    await events.next(DriverDisconnected)
    await until(lambda: "API key" in driver._outage, "the reopen refused for the key")
    with pytest.raises(NotConnected) as refused:
        await driver.dial("1001", CUSTOMER)
    assert "API key" in str(refused.value) and "`secret`" in str(refused.value)
    opens = fake.channel_opens
    await until(lambda: fake.channel_opens >= opens + 2, "retries with the old key")
    fake.api_key = API_KEY  # the administrator fixes the key (here: the PBX accepts it again)
    await events.next(DriverConnected)
    await events.next(DriverResynced)
    assert driver.connected


async def test_a_command_refused_for_the_key_names_the_field(fake: FakeDigitro, driver: DigitroDriver) -> None:
    fake.fail_next["hold"] = (403, b'{"MENSAGEM": "sem permissao"}')
    with pytest.raises(PbxError, match="refused the API key .HTTP 403. to hold call x") as refused:
        await driver.hold("1001", "x")
    assert refused.value.field == "secret"


async def test_a_slow_answer_times_out_and_is_never_sent_again(fake: FakeDigitro) -> None:
    drv = make_driver(fake, request_timeout=0.3)
    await drv.connect()
    events = Events(drv)
    await events.next(DriverResynced)
    fake.delay["dial"] = 0.8
    with pytest.raises(PbxError, match="did not answer the request to call .* within 0.3 s.*not sent again"):
        await drv.dial("1001", CUSTOMER)
    assert drv.connected
    # the PBX places the call anyway, late: the driver learns of it by its events
    await events.next(CallDialing, "1001")
    fake.delay.clear()
    fake.drop_channels()
    await back_up(events)
    assert len(fake.operations("dial")) == 1  # nothing replayed after the reconnection
    [call] = (await drv.snapshot()).calls
    assert call.state is CallState.DIALING
    await events.close()
    await drv.close()


async def test_a_dial_in_flight_when_the_channel_drops_is_not_replayed(fake: FakeDigitro, driver: DigitroDriver,
                                                                       events: Events) -> None:
    await reconnected(fake, driver, events)
    fake.delay["dial"] = 0.3
    dial = asyncio.ensure_future(driver.dial("1001", CUSTOMER))
    await until(lambda: len(fake.operations("dial")) == 1, "the dial request at the PBX")
    fake.drop_channels()
    await back_up(events)
    try:
        await dial  # it may succeed (its own HTTP connection) or fail; either way it is not re-sent
    except PbxError:
        pass
    assert len(fake.operations("dial")) == 1


async def test_the_pump_survives_everything_at_once(fake: FakeDigitro, driver: DigitroDriver,
                                                    events: Events) -> None:
    await reconnected(fake, driver, events)
    for _ in range(3):
        fake.send_raw("event: EVENTO_DE_ATENDIMENTO\ndata: nope\n\n")
        fake.drop_channels()
        await back_up(events)
    await fake.sim.ring("1003", CUSTOMER, ddr=DDR)
    await events.next(CallRinging, "1003")
    assert driver.reconnects == 3 and driver._pump_task is not None and not driver._pump_task.done()
