"""`[pbx.digitro]`: what the public documentation leaves open is configuration, and it works end to end."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from tests.digitro.conftest import Events
from tests.digitro.fake_digitro import FakeDigitro
from tests.digitro.harness import make_driver
from tui_caa.domain.events import CallRinging, ExtensionStateChanged
from tui_caa.domain.pbx import PbxRegistryEntry
from tui_caa.domain.telephony import ExtensionState
from tui_caa.pbx.base import PbxError
from tui_caa.pbx.digitro import DigitroDriver
from tui_caa.pbx.digitro import protocol as p
from tui_caa.pbx.options import DigitroOptions, PbxOptions

CUSTOMER, DDR = "51999887766", "5121010005"
SITE = {"operations": {"dial": "gerar-chamada-rota-especifica"},
        "event_names": {"ringing": "EVENTO_CHAMADA_ENTRANTE"}}


async def test_defaults_and_the_config_table() -> None:
    options = PbxOptions.model_validate({"digitro": {
        "base_path": "/api-pabx", "heartbeat_timeout": 45, "account_password": "conta",
        "operations": {"dial": "gerar-chamada"}, "ddr_field": "NUMERO_DISCADO"}})
    kwargs = options.for_kind("digitro")
    assert kwargs["base_path"] == "/api-pabx" and kwargs["heartbeat_timeout"] == 45
    assert isinstance(kwargs["account_password"], SecretStr) and "conta" not in repr(options)
    assert DigitroOptions().channel_path == "/canal-de-eventos"
    entry = PbxRegistryEntry(kind="digitro", address="10.0.0.5", port=8080, account="0", route="0",
                             secret=SecretStr("k"))
    driver = DigitroDriver.from_entry(entry, **kwargs)  # as make_driver hands the table over
    assert driver._http.base_url == "http://10.0.0.5:8080/api-pabx"
    assert driver.operations["dial"] == "gerar-chamada" and driver.operations["answer"] == "atender-chamada"
    await driver.close()


@pytest.mark.parametrize(("table", "message"), [
    ({"base_path": "api"}, "not a URL path"),
    ({"heartbeat_timeout": 0}, "greater than 0"),
    ({"operations": {"dial": "a b"}}, "operations.dial = 'a b' is not a path slug"),
    ({"event_names": {"ringing": " "}}, "event_names.ringing is empty"),
    ({"ddr_field": "1DDR"}, "not a JSON field name"),
    ({"channel_path": ""}, "must not be empty"),
    ({"bogus": 1}, "Extra inputs are not permitted"),
])
def test_bad_settings_are_refused_with_the_reason(table: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PbxOptions.model_validate({"digitro": table})


async def test_a_site_whose_names_differ_works_once_configured() -> None:
    fake = await FakeDigitro(base_path="/api-pabx", **SITE).start()
    try:
        plain = make_driver(fake)
        with pytest.raises(PbxError, match="HTTP 404"):  # the channel is not where the defaults say
            await plain.connect()
        await plain.close()
        drv = make_driver(fake, base_path="/api-pabx", **SITE)
        await drv.connect()
        events = Events(drv)
        await fake.sim.ring("1001", CUSTOMER, ddr=DDR)
        assert (await events.next(CallRinging, "1001")).ddr == DDR
        await drv.dial("1002", CUSTOMER)
        assert fake.operations("dial")[-1][p.DESTINATION] == CUSTOMER
        await events.close()
        await drv.close()
    finally:
        await fake.stop()


async def test_an_operation_path_the_pbx_does_not_know_names_the_setting() -> None:
    fake = await FakeDigitro(**SITE).start()
    try:
        drv = make_driver(fake)  # dial under its default path, which this PBX does not have
        await drv.connect()
        with pytest.raises(PbxError, match=r"HTTP 404.*check \[pbx.digitro\] base_path and operations"):
            await drv.dial("1001", CUSTOMER)
        events = Events(drv)
        await fake.sim.ring("1001", CUSTOMER, ddr=DDR)  # its ringing event has a name the driver does not map
        await fake.sim.ring("1002", CUSTOMER, ddr=DDR)
        state = await events.next(ExtensionStateChanged, "1002")  # … while the other events still arrive
        assert state.state is ExtensionState.RINGING
        assert drv.unknown_events == 2 and not [e for e in events.all if isinstance(e, CallRinging)]
        await events.close()
        await drv.close()
    finally:
        await fake.stop()
