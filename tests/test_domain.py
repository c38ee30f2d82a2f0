from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tui_caa.domain import (
    CallRecord,
    Customer,
    PbxKind,
    PbxRegistryEntry,
    Phone,
    Seller,
    Vehicle,
    format_document,
    format_plate,
    parse_document,
)
from tui_caa.domain.documents import cpf_with_check_digits
from tui_caa.domain.text import fold

T = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, digits", [
    ("529.982.247-25", "52998224725"),
    ("52998224725", "52998224725"),
    ("11.222.333/0001-81", "11222333000181"),
])
def test_valid_documents(text: str, digits: str) -> None:
    assert parse_document(text)[1] == digits


@pytest.mark.parametrize("text, reason", [
    ("529.982.247-24", "check digits"),
    ("111.111.111-11", "check digits"),
    ("1234", "4 digits"),
    ("11.222.333/0001-82", "check digits"),
    ("abc.982.247-25", "letters"),
])
def test_invalid_documents_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_document(text)


def test_cpf_check_digits_and_format() -> None:
    assert cpf_with_check_digits("529982247") == "52998224725"
    assert format_document("52998224725") == "529.982.247-25"
    assert format_document("11222333000181") == "11.222.333/0001-81"


@pytest.mark.parametrize("plate, stored, shown", [
    ("abc-1234", "ABC1234", "ABC-1234"),
    ("BRA2E19", "BRA2E19", "BRA2E19"),
    ("bra 2e19", "BRA2E19", "BRA2E19"),
])
def test_plates(plate: str, stored: str, shown: str) -> None:
    vehicle = Vehicle(model="Onix", plate=plate)
    assert vehicle.plate == stored
    assert format_plate(stored) == shown


@pytest.mark.parametrize("plate", ["AB-1234", "ABCD123", "1BC1234", "ABC12E4"])
def test_bad_plate_names_both_formats(plate: str) -> None:
    with pytest.raises(ValidationError, match="ABC-1234 nor Mercosul ABC1D23"):
        Vehicle(model="Gol", plate=plate)


def test_vin_rules() -> None:
    assert Vehicle(model="Gol", vin="9bwzzz377vt004251").vin == "9BWZZZ377VT004251"
    with pytest.raises(ValidationError, match="without I, O or Q"):
        Vehicle(model="Gol", vin="9BWZZZ377VT00425O")


def test_customer_validation_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        Customer(name="Ana", email="ana.at.example.com", state="XX")
    fields = {e["loc"][0] for e in info.value.errors()}
    assert fields == {"email", "state"}


def test_customer_blank_optional_fields_are_none_and_one_phone_per_slot() -> None:
    customer = Customer(name=" Ana ", document=" ", email="", state="rs")
    assert (customer.name, customer.document, customer.email, customer.state) == ("Ana", None, None, "RS")
    with pytest.raises(ValidationError, match="two phones on slot 'celular'"):
        Customer(name="Ana", phones=[Phone(slot="celular", raw="1"), Phone(slot="celular", raw="2")])
    with pytest.raises(ValidationError):
        Phone(slot="fax", raw="51 3333-4444")


def test_seller_password_is_secret() -> None:
    seller = Seller(name="Carla", extension="1001", extension_password="1234")
    assert "1234" not in repr(seller) and "1234" not in seller.model_dump_json()


@pytest.mark.parametrize("fields, message", [
    ({"kind": "digitro", "address": "10.0.0.5", "port": 8080}, "needs account, route"),
    ({"kind": "planetfone", "address": "pf.central.com.br"}, "needs port"),
    ({"kind": "planetfone", "address": "ftp://x", "port": 3080}, "not an IP address or host name"),
    ({"kind": "asterisk", "address": "http://pbx", "port": 5038}, "not an IP address or host name"),
    ({"kind": "digitro", "address": "10.0.0.5", "port": 8080, "account": "1", "route": "2",
      "ecr_address": "10.0.0.6"}, "EasyCall Record settings are incomplete"),
    ({"kind": "forip", "address": "10.0.0.5", "port": 80, "ecr_address": "10.0.0.6", "ecr_port": 1,
      "ecr_user": "u"}, "only apply to a Dígitro"),
    ({"kind": "planetfone", "address": "10.0.0.5", "port": 3080, "mysql_host": "10.0.0.5"},
     "MySQL settings are incomplete"),
    ({"kind": "asterisk", "address": "10.0.0.5", "port": 70000}, "less than or equal to 65535"),
])
def test_pbx_registry_validation_per_kind(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PbxRegistryEntry(**fields)


def test_pbx_registry_accepts_what_the_seed_describes() -> None:
    assert PbxRegistryEntry(kind="digitro", address="10.0.0.5", port=8080, account="100", route="7").kind is PbxKind.DIGITRO
    assert PbxRegistryEntry(kind="planetfone", address="192.168.111.222", port=3080).port == 3080
    assert PbxRegistryEntry(kind="forip", address="http://pf.central.com.br/api", port=80).address.startswith("http")
    entry = PbxRegistryEntry(kind="simulator", secret="hunter2", mysql_host="db", mysql_user="u",
                             mysql_database="cdr", mysql_password="pw")
    assert "hunter2" not in repr(entry) and "pw'" not in repr(entry)


def test_call_record_consistency() -> None:
    base = dict(pbx_call_id="1", extension="1001", direction="in", started_at=T, disposition="answered")
    assert CallRecord(**base, answered_at=T, ended_at=T + timedelta(seconds=5), talk_seconds=5).talk_seconds == 5
    with pytest.raises(ValidationError, match="ended_at is before started_at"):
        CallRecord(**base, ended_at=T - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="answered cannot be missed"):
        CallRecord(**base, answered_at=T, missed=True)
    with pytest.raises(ValidationError, match="timezone"):
        CallRecord(**{**base, "started_at": T.replace(tzinfo=None)})


def test_fold() -> None:
    assert fold("  João   da CONCEIÇÃO ") == "joao da conceicao"
