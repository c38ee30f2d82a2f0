"""DigitroDriver over real sockets against the fake Dígitro API (the simulator behind it): calls."""

from __future__ import annotations

import logging
import re

import pytest
from pydantic import SecretStr

from tests.digitro.conftest import Events
from tests.digitro.fake_digitro import API_KEY, PASSWORDS, RECORDING, FakeDigitro
from tests.digitro.harness import ACCOUNT, ROUTE, entry, make_driver
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
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import CallState, Capability, Direction, Disposition, ExtensionState
from tui_caa.pbx.base import NotConnected, PbxError, Unsupported
from tui_caa.pbx.digitro import DigitroDriver
from tui_caa.pbx.digitro import protocol as p
from tui_caa.pbx.registry import driver_class

CUSTOMER, DDR = "51999887766", "5121010005"
DIGITRO_ID = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d [0-9A-F]{4} \d{4}/\d\d$")  # "08/07/24 10:46:19 010A 0974/00"


async def inbound_answered(fake: FakeDigitro, driver: DigitroDriver, events: Events, ext: str = "1001") -> str:
    await fake.sim.ring(ext, CUSTOMER, ddr=DDR)
    ringing = await events.next(CallRinging, ext)
    await driver.answer(ext, ringing.call_id)
    await events.next(CallAnswered, ext, ringing.call_id)
    return ringing.call_id


# ---- building the driver -------------------------------------------------------------------------

def test_found_by_the_entry_point_with_its_capabilities() -> None:
    cls = driver_class("digitro")
    assert cls is DigitroDriver and cls.kind == "digitro" and cls.label == "Dígitro"
    assert Capability.PLAY_RECORDING not in cls.capabilities
    assert cls.capabilities == {Capability.DIAL, Capability.ANSWER, Capability.HANGUP, Capability.BLIND_TRANSFER,
                                Capability.ATTENDED_TRANSFER, Capability.HOLD, Capability.PARK, Capability.PICKUP,
                                Capability.DTMF, Capability.BARGE}


async def test_easycall_record_settings_add_play_recording(fake: FakeDigitro) -> None:
    with_ecr, without = make_driver(fake), make_driver(fake, ecr=False)
    assert Capability.PLAY_RECORDING in with_ecr.capabilities
    assert Capability.PLAY_RECORDING not in without.capabilities
    await with_ecr.close()
    await without.close()


def test_from_entry_refusals_name_the_field() -> None:
    base = dict(kind="digitro", address="10.0.0.5", port=8443, account="0", route="0")
    with pytest.raises(PbxError, match="API key in the field `secret`") as refused:
        DigitroDriver.from_entry(PbxRegistryEntry(**base))
    assert refused.value.field == "secret"
    with pytest.raises(PbxError, match="not Dígitro"):
        DigitroDriver.from_entry(PbxRegistryEntry(kind="simulator"))
    good = PbxRegistryEntry(**base, secret=SecretStr("k"))
    with pytest.raises(PbxError, match=r"\[pbx.digitro\] heartbeat_timeout") as refused:
        DigitroDriver.from_entry(good, heartbeat_timeout=-1)
    assert refused.value.field == "pbx.digitro"
    with pytest.raises(PbxError, match=r"operations: unknown teleport; known: monitor"):
        DigitroDriver.from_entry(good, operations={"teleport": "x"})
    with pytest.raises(PbxError, match=r"\[pbx.digitro\] channel_path"):
        DigitroDriver.from_entry(good, channel_path="no-slash")
    with pytest.raises(PbxError, match="'12a' is not an extension number"):
        DigitroDriver.from_entry(good, device_passwords={"12a": SecretStr("x")})


async def test_base_url_and_tls_from_the_entry_and_options() -> None:
    e = PbxRegistryEntry(kind="digitro", address="pabx.example.com", port=8443, account="0", route="0",
                         secret=SecretStr("k"))
    drv = DigitroDriver.from_entry(e, use_tls=True, base_path="/api-pabx")
    assert drv._http.base_url == "https://pabx.example.com:8443/api-pabx"
    await drv.close()


async def test_secrets_never_in_repr_or_logs(fake: FakeDigitro, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    drv = make_driver(fake)
    await drv.connect()
    events = Events(drv)
    await inbound_answered(fake, drv, events)
    fake.expire_key()
    with pytest.raises(PbxError):
        await drv.hold("1001", "x")
    await events.close()
    await drv.close()
    shown = repr(drv) + repr(entry(fake)) + caplog.text
    for secret in (API_KEY, *PASSWORDS.values(), "ecr-secret"):
        assert secret not in shown


# ---- connecting ----------------------------------------------------------------------------------

async def test_connect_opens_the_channel_monitors_the_devices_and_resyncs(fake: FakeDigitro,
                                                                          driver: DigitroDriver,
                                                                          events: Events) -> None:
    assert isinstance(await events.next(DriverConnected), DriverConnected)
    await events.next(DriverResynced)
    assert driver.channel_id == "1" and fake.channel_opens == 1
    assert [(b[p.DEVICE], b[p.DEVICE_PASSWORD]) for b in fake.operations("monitor")] == list(PASSWORDS.items())
    assert [b[p.DEVICE] for b in fake.operations("state")] == list(PASSWORDS)
    snapshot = await driver.snapshot()
    assert snapshot.extensions == dict.fromkeys(PASSWORDS, ExtensionState.IDLE) and snapshot.calls == ()


async def test_a_call_under_way_before_connecting_is_in_the_snapshot(fake: FakeDigitro) -> None:
    sim_id = await fake.sim.ring("1002", CUSTOMER, ddr=DDR)
    drv = make_driver(fake)
    await drv.connect()
    snapshot = await drv.snapshot()
    assert snapshot.extensions["1002"] is ExtensionState.RINGING
    [call] = snapshot.calls
    assert (call.call_id, call.extension, call.state, call.direction, call.number, call.ddr) == (
        fake.digitro_id(sim_id), "1002", CallState.RINGING, Direction.INBOUND, CUSTOMER, DDR)
    await drv.close()


async def test_a_wrong_api_key_is_refused_naming_the_registry_field(fake: FakeDigitro) -> None:
    drv = make_driver(fake, api_key="wrong")
    with pytest.raises(PbxError) as refused:
        await drv.connect()
    assert refused.value.field == "secret"
    message = str(refused.value)
    assert "API key" in message and "`secret`" in message and "HTTP 401" in message
    assert not drv.connected
    await drv.close()


async def test_commands_before_connecting_are_refused(fake: FakeDigitro) -> None:
    drv = make_driver(fake)
    with pytest.raises(NotConnected, match="event channel is down"):
        await drv.dial("1001", CUSTOMER)
    assert fake.operations("dial") == []
    await drv.close()


# ---- calls ---------------------------------------------------------------------------------------

async def test_inbound_answered_keeps_digitro_call_ids(fake: FakeDigitro, driver: DigitroDriver,
                                                       events: Events) -> None:
    await fake.sim.ring("1001", CUSTOMER, ddr=DDR, caller_name="Ana")
    ringing = await events.next(CallRinging, "1001")
    assert DIGITRO_ID.match(ringing.call_id), ringing.call_id
    assert (ringing.direction, ringing.number, ringing.ddr, ringing.caller_name) == (
        Direction.INBOUND, CUSTOMER, DDR, "Ana")
    assert (await events.next(ExtensionStateChanged, "1001")).state is ExtensionState.RINGING
    await driver.answer("1001", ringing.call_id)
    assert fake.operations("answer")[-1] == {p.DEVICE: "1001", p.DEVICE_PASSWORD: "s1001",
                                             p.CALL_ID: ringing.call_id}
    await events.next(CallAnswered, "1001", ringing.call_id)
    [call] = (await driver.snapshot()).calls
    assert call.state is CallState.ACTIVE and call.answered_at is not None
    await fake.sim.remote_hangup(await fake.sim_call_at("1001"))
    ended = await events.next(CallEnded, "1001", ringing.call_id)
    assert ended.disposition is Disposition.ANSWERED and ended.ddr == DDR
    assert ended.recording_ref and ended.recording_ref.endswith(".wav")
    assert (await driver.snapshot()).calls == ()


async def test_inbound_missed_carries_the_ddr(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    await fake.sim.ring("1001", CUSTOMER, ddr=DDR)
    ringing = await events.next(CallRinging, "1001")
    await fake.sim.remote_hangup(await fake.sim_call_at("1001"))
    ended = await events.next(CallEnded, "1001", ringing.call_id)
    assert ended.disposition is Disposition.ABANDONED and ended.ddr == DDR and ended.recording_ref is None


async def test_the_ddr_field_name_is_configurable(fake: FakeDigitro) -> None:
    fake.ddr_field = "NUMERO_DISCADO"
    drv = make_driver(fake, ddr_field="NUMERO_DISCADO")
    await drv.connect()
    events = Events(drv)
    await fake.sim.ring("1001", CUSTOMER, ddr=DDR)
    assert (await events.next(CallRinging, "1001")).ddr == DDR
    await events.close()
    await drv.close()


async def test_click_to_call_sends_route_and_account(fake: FakeDigitro, driver: DigitroDriver,
                                                     events: Events) -> None:
    call_id = await driver.dial("1001", CUSTOMER)
    assert DIGITRO_ID.match(call_id)
    assert fake.operations("dial") == [{p.DEVICE: "1001", p.DEVICE_PASSWORD: "s1001", p.ROUTE: ROUTE,
                                        p.ACCOUNT: ACCOUNT, p.ACCOUNT_PASSWORD: None,
                                        p.DESTINATION: CUSTOMER}]
    dialing = await events.next(CallDialing, "1001", call_id)
    assert (dialing.direction, dialing.number) == (Direction.OUTBOUND, CUSTOMER)
    await fake.sim.remote_answer(await fake.sim_call_at("1001", CallState.DIALING))
    await events.next(CallAnswered, "1001", call_id)
    await driver.hangup("1001", call_id)
    ended = await events.next(CallEnded, "1001", call_id)
    assert ended.disposition is Disposition.ANSWERED


async def test_the_account_password_is_sent_when_configured(fake: FakeDigitro) -> None:
    drv = make_driver(fake, account_password=SecretStr("conta-123"))
    await drv.connect()
    await drv.dial("1003", CUSTOMER)
    assert fake.operations("dial")[-1][p.ACCOUNT_PASSWORD] == "conta-123"
    await drv.close()


async def test_hold_and_retrieve(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    call_id = await inbound_answered(fake, driver, events)
    await driver.hold("1001", call_id)
    await events.next(CallHeld, "1001", call_id)
    assert (await driver.snapshot()).calls[0].state is CallState.HELD
    await driver.resume("1001", call_id)
    await events.next(CallResumed, "1001", call_id)
    assert [op for op, _ in fake.requests if op in ("hold", "retrieve")] == ["hold", "retrieve"]


async def test_blind_transfer(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    call_id = await inbound_answered(fake, driver, events)
    await driver.blind_transfer("1001", call_id, "1002")
    assert fake.operations("blind_transfer")[-1][p.TARGET_DEVICE] == "1002"
    transferred = await events.next(CallTransferred, "1001", call_id)
    assert transferred.target == "1002" and not transferred.attended
    ringing = await events.next(CallRinging, "1002", call_id)
    assert (ringing.number, ringing.ddr) == (CUSTOMER, DDR)


async def test_attended_transfer_through_the_paused_device(fake: FakeDigitro, driver: DigitroDriver,
                                                           events: Events) -> None:
    call_id = await inbound_answered(fake, driver, events)
    await driver.consult("1001", call_id, "1002")
    consulting = await events.next(CallConsulting, "1001", call_id)
    assert consulting.target == "1002"
    consult = await events.next(CallRinging, "1002")
    await driver.answer("1002", consult.call_id)
    await events.next(CallAnswered, "1002", consult.call_id)
    await driver.complete_transfer("1001", call_id)
    transferred = await events.next(CallTransferred, "1001", call_id)
    assert transferred.attended and transferred.target == "1002"
    answered = await events.next(CallAnswered, "1002", call_id)  # the customer now talks to 1002
    assert answered.number == CUSTOMER


async def test_cancelled_consultation_comes_back(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    call_id = await inbound_answered(fake, driver, events)
    await driver.consult("1001", call_id, "1003")
    await events.next(CallConsulting, "1001", call_id)
    await driver.cancel_transfer("1001", call_id)
    await events.next(CallResumed, "1001", call_id)
    assert fake.operations("cancel_transfer")[-1][p.CALL_ID] == call_id


async def test_park_and_pick_up_elsewhere(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    call_id = await inbound_answered(fake, driver, events)
    slot = await driver.park("1001", call_id)
    assert slot == "701"
    parked = await events.next(CallParked, "1001", call_id)
    assert parked.slot == slot
    await driver.pickup("1003", slot)
    assert fake.operations("pickup_parked")[-1][p.SLOT] == slot
    answered = await events.next(CallAnswered, "1003", call_id)
    assert answered.number == CUSTOMER


async def test_pick_up_a_colleagues_ringing_call(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    await fake.sim.ring("1002", CUSTOMER, ddr=DDR)
    ringing = await events.next(CallRinging, "1002")
    await driver.pickup("1001", "1002")
    assert fake.operations("pickup")[-1][p.TARGET_DEVICE] == "1002"
    await events.next(CallTransferred, "1002", ringing.call_id)
    await events.next(CallAnswered, "1001", ringing.call_id)


async def test_dtmf(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    call_id = await inbound_answered(fake, driver, events)
    await driver.send_dtmf("1001", call_id, "12#")
    view = fake.sim.call(fake.sim_id(call_id))
    assert view is not None and view.dtmf == "12#"
    with pytest.raises(PbxError, match="not DTMF digits"):
        await driver.send_dtmf("1001", call_id, "9x")


async def test_barge(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    call_id = await inbound_answered(fake, driver, events)
    await driver.monitor(Capability.BARGE, "1003", "1001")
    assert fake.operations("barge")[-1] == {p.DEVICE: "1003", p.DEVICE_PASSWORD: "s1003",
                                            p.TARGET_DEVICE: "1001", p.CALL_ID: call_id}
    await events.next(CallAnswered, "1003")
    with pytest.raises(Unsupported, match="listen is not supported by Dígitro"):
        await driver.monitor(Capability.LISTEN, "1003", "1001")


async def test_refusals_of_the_pbx_are_shown(fake: FakeDigitro, driver: DigitroDriver) -> None:
    with pytest.raises(PbxError, match=r"Dígitro refused to hold call 1 at extension 1001 \(HTTP 409\): "
                                       "chamada inexistente"):
        await driver.hold("1001", "1")


async def test_a_wrong_device_password_names_the_sellers_field(fake: FakeDigitro) -> None:
    drv = make_driver(fake, passwords={**PASSWORDS, "1002": "bad"})
    await drv.connect()  # one seller's wrong password does not keep the others offline
    assert set((await drv.snapshot()).extensions) == {"1001", "1003"}
    assert "1002" in drv.unmonitored and "Cadastro Vendedores" in drv.unmonitored["1002"]
    [problem] = await drv.check()  # what `tui-caa pbx check` prints
    assert problem.startswith("extension 1002 is not monitored: ") and "Cadastro Vendedores" in problem
    with pytest.raises(PbxError, match="device password") as refused:
        await drv.dial("1002", CUSTOMER)
    assert refused.value.field == "device_password"
    assert "Cadastro Vendedores" in str(refused.value)
    await drv.close()


async def test_an_extension_without_password_is_refused_before_sending(fake: FakeDigitro) -> None:
    drv = make_driver(fake, passwords={"1001": "s1001"})
    await drv.connect()
    sent = len(fake.requests)
    with pytest.raises(PbxError, match="extension 1002 has no device password") as refused:
        await drv.dial("1002", CUSTOMER)
    assert refused.value.field == "device_password" and len(fake.requests) == sent
    await drv.close()


# ---- EasyCall Record -----------------------------------------------------------------------------

async def test_recording_playback_rings_the_chosen_phone(fake: FakeDigitro, driver: DigitroDriver,
                                                         events: Events) -> None:
    call_id = await driver.play_recording(RECORDING, "1002")
    assert DIGITRO_ID.match(call_id)
    assert fake.operations("ecr_play") == [{"ID_GRAVACAO": RECORDING, "DESTINO": "1002"}]
    ringing = await events.next(CallRinging, "1002", call_id)
    assert ringing.caller_name is None or ringing.caller_name == RECORDING
    with pytest.raises(PbxError, match="recording 'nope' not found on EasyCall Record") as refused:
        await driver.play_recording("nope", "1002")
    assert refused.value.field == "recording_ref"


async def test_recordings_are_found_by_call_id(fake: FakeDigitro, driver: DigitroDriver, events: Events) -> None:
    call_id = await inbound_answered(fake, driver, events)
    await driver.hangup("1001", call_id)
    ended = await events.next(CallEnded, "1001", call_id)
    [found] = await driver.find_recordings(call_id)
    assert found.ref == ended.recording_ref and found.call_id == call_id and found.seconds


async def test_easycall_record_credentials_refused(fake: FakeDigitro, driver: DigitroDriver) -> None:
    fake.fail_next["ecr_lookup"] = (401, b"{}")
    with pytest.raises(PbxError, match="ecr_user and ecr_password"):
        await driver.play_recording(RECORDING, "1002")


async def test_without_easycall_record_playback_is_unsupported(fake: FakeDigitro) -> None:
    drv = make_driver(fake, ecr=False)
    await drv.connect()
    with pytest.raises(Unsupported, match="Dígitro"):
        await drv.play_recording(RECORDING, "1002")
    with pytest.raises(Unsupported, match="ecr_address"):
        await drv.find_recordings("x")
    assert fake.operations("ecr_play") == []
    await drv.close()


async def test_unmonitored_devices_events_do_not_arrive(fake: FakeDigitro) -> None:
    drv = make_driver(fake, passwords={"1001": "s1001"})
    await drv.connect()
    events = Events(drv)
    await fake.sim.ring("1002", CUSTOMER, ddr=DDR)
    await fake.sim.ring("1001", CUSTOMER, ddr=DDR)
    first = await events.next(CallRinging)
    assert first.extension == "1001"
    await events.close()
    await drv.close()
