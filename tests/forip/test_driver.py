"""ForipDriver against the fake ForIP over real HTTP: login, click-to-call now and scheduled,
ForIP's {"error"} messages, key renewal, capabilities without AMI, settings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr, ValidationError

from tests.forip.conftest import DriverFactory, Events, until
from tests.forip.fake_forip import EMAIL, FakeForip
from tui_caa.domain.events import DriverConnected, DriverResynced
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import ALL_CAPABILITIES, CallState, Capability
from tui_caa.pbx.base import NotConnected, PbxError, Unsupported
from tui_caa.pbx.forip import ForipDriver
from tui_caa.pbx.forip.api import ApiRefused
from tui_caa.pbx.options import PbxOptions
from tui_caa.pbx.options.forip import ForipOptions
from tui_caa.pbx.registry import driver_class
from tui_caa.pbx.sim import SimulatorDriver

CUSTOMER = "51999887766"
CALLID = re.compile(r"^\d{8}/CRM-1001-51999887766-\d{6}$")


def test_found_by_registry_with_dial_only_without_ami() -> None:
    cls = driver_class("forip")
    assert cls is ForipDriver and cls.kind == "forip" and cls.label == "ForIP"
    drv = ForipDriver.from_entry(PbxRegistryEntry(kind="forip", address="10.0.0.5", port=8000, login=EMAIL,
                                                  secret=SecretStr("pw")))
    assert drv.capabilities == {Capability.DIAL}
    assert drv.api.base_url == "http://10.0.0.5:8000/admanager/crm"
    assert drv.recording_url("GRAVACOES/20261102/abc.WAV") == \
        "http://10.0.0.5/download_audio.php?diretorio=20261102&arquivo=abc.WAV"
    assert "pw" not in repr(drv.api) and "pw" not in repr(drv.options)


def test_address_with_a_path_and_refusals() -> None:
    drv = ForipDriver.from_entry(PbxRegistryEntry(kind="forip", address="http://pbx.example.com.br/crm/api",
                                                  port=8080, login=EMAIL, secret=SecretStr("pw")))
    assert drv.api.base_url == "http://pbx.example.com.br:8080/crm/api"
    assert drv.recordings_url == "http://pbx.example.com.br"
    with pytest.raises(PbxError, match="e-mail"):
        ForipDriver.from_entry(PbxRegistryEntry(kind="forip", address="10.0.0.5", port=8000))
    with pytest.raises(PbxError, match="not ForIP"):
        ForipDriver.from_entry(PbxRegistryEntry(kind="simulator"))


def test_options_are_validated_with_the_field_and_the_fix() -> None:
    with pytest.raises(ValidationError, match="both ami_user and ami_secret"):
        ForipOptions(ami_user="crm")
    with pytest.raises(ValidationError, match="put it in db_password"):
        ForipOptions(odbc_dsn="Driver={PostgreSQL Unicode};Server=x;Pwd=secret")
    with pytest.raises(ValidationError, match="two \\? parameters"):
        ForipOptions(ddr_query="SELECT ddr FROM f_ddr")
    with pytest.raises(ValidationError, match="db_user needs db_password"):
        ForipOptions(db_user="forip")
    with pytest.raises(PbxError, match=r"\[pbx.forip\] request_timeout: Input should be greater than 0"):
        ForipDriver.from_entry(PbxRegistryEntry(kind="forip", address="10.0.0.5", port=8000, login=EMAIL,
                                                secret=SecretStr("pw")), request_timeout=0)
    with pytest.raises(ValidationError, match="time zone"):
        ForipOptions(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="table name"):
        ForipOptions(tickets_table="f_bilhetes; DROP TABLE x")
    opts = PbxOptions.model_validate({"forip": {"ami_user": "crm", "ami_secret": "s3cret", "db_user": "forip",
                                                "db_password": "pg-secret", "ami": {"dial_context": "crm"}}})
    assert opts.forip.ami.dial_context == "crm" and opts.forip.ami.technology == "PJSIP"
    assert ForipOptions().ami.technology == "SIP" and ForipOptions().ami.dial_context == "ramais"
    shown = repr(opts) + str(opts.model_dump())
    assert "s3cret" not in shown and "pg-secret" not in shown
    assert set(opts.for_kind("forip")) >= {"api_path", "ami_user", "odbc_dsn", "recordings_url"}
    # the gateway's make_driver path: the [pbx.forip] table as keyword arguments
    drv = ForipDriver.from_entry(PbxRegistryEntry(kind="forip", address="10.0.0.5", port=8000, login=EMAIL,
                                                  secret=SecretStr("pw")), **opts.for_kind("forip"))
    assert drv.options == opts.forip and drv.capabilities > {Capability.DIAL, Capability.HANGUP}
    assert drv.ami_driver is not None and drv.ami_driver.dial_context == "crm"
    assert drv.tickets is not None and "Server=10.0.0.5;Port=5432;Database=forip;Uid=forip" in repr(drv.tickets)
    assert "pg-secret" not in repr(drv.tickets)


async def test_login_then_click_to_call_now(fake: FakeForip, sim: SimulatorDriver, make_driver: DriverFactory):
    await fake.start()
    drv = make_driver()
    events = Events(drv)
    await drv.connect()
    await events.next(DriverConnected, pbx="ForIP lab")
    await events.next(DriverResynced)
    assert fake.endpoint_requests("login_crm") == [{"email": EMAIL, "senha": fake.password}]
    assert drv.api.agent == {"email": EMAIL, "name": "agent01", "id": 1}

    callid = await drv.dial("1001", CUSTOMER)
    assert CALLID.match(callid), callid
    (sent,) = fake.endpoint_requests("disca_crm")
    assert sent["agent"] == "1001" and sent["phone"] == CUSTOMER and sent["ts"] == "0"
    assert sent["api_key"] in fake.keys
    (dial,) = fake.dials
    view = sim.call(dial.sim_call_id)
    assert view is not None and view.legs == {"1001": CallState.DIALING} and view.external == CUSTOMER
    assert (await drv.snapshot()).calls == ()  # the CRM API tells nothing about calls
    await events.close()


async def test_scheduled_dial_is_placed_when_its_time_comes(fake: FakeForip, sim: SimulatorDriver,
                                                            make_driver: DriverFactory):
    await fake.start()
    drv = make_driver()
    await drv.connect()
    at = datetime.now(UTC) + timedelta(seconds=1.2)
    callid = await drv.schedule_dial("1001", CUSTOMER, at)
    assert CALLID.match(callid)
    (sent,) = fake.endpoint_requests("disca_crm")
    assert sent["ts"] == str(int(at.timestamp()))
    (dial,) = fake.dials
    assert dial.sim_call_id is None  # not yet
    await until(dial.done.is_set, 5.0, "the scheduled call")
    assert datetime.now(UTC).timestamp() >= int(at.timestamp())
    assert sim.call(dial.sim_call_id).legs == {"1001": CallState.DIALING}

    with pytest.raises(PbxError, match="has passed"):
        await drv.schedule_dial("1002", CUSTOMER, datetime.now(UTC) - timedelta(minutes=1))
    with pytest.raises(PbxError, match="aware"):
        await drv.schedule_dial("1002", CUSTOMER, datetime(2030, 1, 1, 10, 0))
    assert len(fake.endpoint_requests("disca_crm")) == 1


async def test_forip_errors_become_clear_messages(fake: FakeForip, make_driver: DriverFactory):
    await fake.start()
    with pytest.raises(ApiRefused, match="senha incorreta.*secret must be that agent's ForIP password") as bad:
        await make_driver(password="wrong").connect()
    assert bad.value.field == "secret"
    drv = make_driver()
    await drv.connect()
    with pytest.raises(ApiRefused, match="ForIP refused to call 51999887766 from 1009: agente 1009 inexistente"):
        await drv.dial("1009", CUSTOMER)
    with pytest.raises(PbxError, match="not a number ForIP can dial"):
        await drv.dial("1001", "abc")
    with pytest.raises(PbxError, match="not an extension"):
        await drv.dial("x", CUSTOMER)
    assert len(fake.endpoint_requests("disca_crm")) == 1  # bad input never reaches ForIP
    assert drv.connected  # a refusal is not an outage


async def test_an_expired_key_is_renewed_once_and_the_dial_sent_again(fake: FakeForip, sim: SimulatorDriver,
                                                                       make_driver: DriverFactory):
    await fake.start()
    drv = make_driver()
    await drv.connect()
    fake.expire_keys()
    callid = await drv.dial("1001", CUSTOMER)
    assert CALLID.match(callid)
    assert len(fake.endpoint_requests("login_crm")) == 2
    first, second = fake.endpoint_requests("disca_crm")
    assert first["api_key"] != second["api_key"]
    assert len(fake.dials) == 1  # refused then placed: one call
    assert drv.api.errors["key_renewed"] == 1 and drv.connected


async def test_a_key_refused_again_after_login_is_an_error_not_a_loop(fake: FakeForip, make_driver: DriverFactory):
    await fake.start()
    drv = make_driver()
    await drv.connect()
    real_login = fake._login

    def login_with_dead_keys(method, params):
        reply = real_login(method, params)
        fake.keys.clear()  # ForIP hands out keys it does not accept
        return reply

    fake._login = login_with_dead_keys  # type: ignore[method-assign]
    fake.expire_keys()
    with pytest.raises(ApiRefused, match="api_key invalido"):
        await drv.dial("1001", CUSTOMER)
    assert len(fake.endpoint_requests("disca_crm")) == 2 and len(fake.endpoint_requests("login_crm")) == 2
    assert fake.dials == []


async def test_without_ami_only_dial_and_the_refusal_names_the_setting(fake: FakeForip, make_driver: DriverFactory):
    await fake.start()
    drv = make_driver()
    await drv.connect()
    assert drv.capabilities == {Capability.DIAL}
    for capability in sorted(ALL_CAPABILITIES - {Capability.DIAL}):
        with pytest.raises(Unsupported) as refused:
            drv.require(capability)
        assert "ForIP" in str(refused.value) and "ami_user" in str(refused.value), refused.value
    with pytest.raises(Unsupported, match="hangup is not supported by ForIP without AMI access"):
        await drv.hangup("1001", "x")
    with pytest.raises(Unsupported, match="set odbc_dsn, or db_user"):
        await drv.call_history("1001", datetime.now(UTC))
    await drv.close()
    with pytest.raises(NotConnected, match="closed"):
        await drv.dial("1001", CUSTOMER)
