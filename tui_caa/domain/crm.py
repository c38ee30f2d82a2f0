"""CRM records: sellers, customers and their phones, vehicles, traffic sources, contacts, appointments."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from tui_caa.domain.documents import parse_document
from tui_caa.domain.text import control_characters
from tui_caa.domain.vehicles import normalize_plate, normalize_vin

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_UFS = frozenset(
    "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split()
)

Name = Annotated[str, Field(min_length=1, max_length=120)]


# What people type and the CRM stores and prints back: no control characters (an ESC in a seller's
# name drove the terminal of whoever ran `seller list`), and no more than its column holds (a
# 100,000-character password once went to a 128-character column). By class name because
# PbxRegistryEntry lives in domain/pbx.py; records read from a PBX (CallRecord…) are not checked:
# a caller ID with a stray byte must still be recorded.
_TEXT_CHECKED = frozenset({"Seller", "Customer", "Phone", "Vehicle", "TrafficSource", "Contact", "Appointment",
                           "PbxRegistryEntry"})
TEXT_WIDTH = 255  # the widest String column; fields with a narrower one are below
COLUMN_WIDTHS = {
    "account": 64, "route": 64, "ecr_user": 128, "mysql_user": 128, "mysql_database": 128,
    "extension_password": 128, "call_id": 128, "ddr_raw": 40, "ddr_e164": 20, "e164": 20, "notes": 4000,
}
_MULTILINE = {"notes": "\t\r\n"}  # the control characters a multi-line field may hold


class Record(BaseModel):
    """Immutable, validated, serialisable: what every layer passes around (never ORM rows)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    # fields whose class refuses control characters itself, with a message of its own
    own_line_checks: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _plain_bounded_text(cls, value: Any, info: ValidationInfo) -> Any:
        if cls.__name__ not in _TEXT_CHECKED or not isinstance(value, str | SecretStr):
            return value
        name = info.field_name or ""
        field = cls.model_fields.get(name)
        own = [m.max_length for m in (field.metadata if field else ()) if getattr(m, "max_length", None)]
        width = own[0] if own else COLUMN_WIDTHS.get(name, TEXT_WIDTH)
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if len(text.strip()) > width:  # the secret's own text is never part of the message
            raise ValueError(f"at most {width} characters (got {len(text)})")
        if isinstance(value, str) and name not in cls.own_line_checks:
            found = control_characters(text, _MULTILINE.get(name, ""))
            if found:
                raise ValueError(f"contains control characters ({', '.join(found[:3])}); remove them")
        return value


class Seller(Record):
    id: int | None = None
    name: Name
    extension: Annotated[str, Field(pattern=r"^[0-9]{2,8}$")] | None = None
    extension_password: SecretStr | None = None
    active: bool = True


class PhoneSlot(StrEnum):
    """The four phone fields of a customer card, as the dealership CRM has them."""

    RESIDENTIAL = "residencial"
    BUSINESS = "comercial"
    MOBILE = "celular"
    MESSAGE = "recado"


class Phone(Record):
    slot: PhoneSlot
    raw: Annotated[str, Field(min_length=1, max_length=40)]
    e164: str | None = None  # filled by the store when it normalises `raw`


class Customer(Record):
    id: int | None = None
    name: Name
    document: str | None = None  # CPF or CNPJ, digits only once validated
    email: str | None = None
    birth_date: date | None = None
    city: Annotated[str, Field(max_length=80)] | None = None
    state: str | None = None  # UF, e.g. "RS"
    notes: Annotated[str, Field(max_length=4000)] | None = None
    phones: tuple[Phone, ...] = ()
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None

    @field_validator("document", "email", "city", "state", "notes", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("document")
    @classmethod
    def _valid_document(cls, value: str | None) -> str | None:
        return None if value is None else parse_document(value)[1]

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"'{value}' is not an e-mail address (name@domain.com)")
        return value.lower() if value else value

    @field_validator("state")
    @classmethod
    def _valid_state(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in _UFS:
            raise ValueError(f"'{value}' is not a Brazilian state (UF), e.g. SP, RS")
        return value.upper() if value else value

    @field_validator("phones")
    @classmethod
    def _one_phone_per_slot(cls, phones: tuple[Phone, ...]) -> tuple[Phone, ...]:
        slots = [p.slot for p in phones]
        for slot in set(slots):
            if slots.count(slot) > 1:
                raise ValueError(f"two phones on slot '{slot}'; each slot holds one number")
        return phones

    def phone(self, slot: PhoneSlot) -> Phone | None:
        return next((p for p in self.phones if p.slot == slot), None)


class DuplicateWarning(Record):
    """Another customer already has this phone or document (shown, never blocking)."""

    field: str  # "document" or a phone slot
    value: str
    customer_id: int
    customer_name: str


class CustomerSaved(Record):
    customer: Customer
    warnings: tuple[DuplicateWarning, ...] = ()


class Vehicle(Record):
    id: int | None = None
    customer_id: int | None = None
    plate: str | None = None
    model: Annotated[str, Field(min_length=1, max_length=80)]
    year: Annotated[int, Field(ge=1950, le=2100)] | None = None
    vin: str | None = None

    @field_validator("plate")
    @classmethod
    def _valid_plate(cls, value: str | None) -> str | None:
        return None if not value else normalize_plate(value)

    @field_validator("vin")
    @classmethod
    def _valid_vin(cls, value: str | None) -> str | None:
        return None if not value else normalize_vin(value)


class TrafficSource(Record):
    """Where a lead came from (newspaper ad, social media…); the DDR is the number it advertised."""

    id: int | None = None
    name: Name
    ddr_raw: str | None = None
    ddr_e164: str | None = None
    active: bool = True


class ContactOutcome(StrEnum):
    INTERESTED = "interested"
    APPOINTMENT_SET = "appointment_set"
    CALL_BACK = "call_back"
    SALE = "sale"
    INFORMATION = "information"
    NOT_INTERESTED = "not_interested"
    WRONG_NUMBER = "wrong_number"


class Contact(Record):
    """One interaction with a customer, often opened during a call."""

    id: int | None = None
    customer_id: int
    seller_id: int | None = None
    traffic_source_id: int | None = None
    traffic_source_locked: bool = False  # True when the source came from the call's DDR
    call_id: str | None = None  # the PBX's call id of the call it was opened from
    outcome: ContactOutcome
    notes: Annotated[str, Field(max_length=4000)] = ""
    next_contact_at: AwareDatetime | None = None
    created_at: AwareDatetime | None = None


class Appointment(Record):
    id: int | None = None
    customer_id: int
    vehicle_id: int | None = None
    seller_id: int | None = None
    scheduled_at: AwareDatetime
    service: Annotated[str, Field(min_length=1, max_length=120)]
    notes: Annotated[str, Field(max_length=4000)] = ""
    created_at: AwareDatetime | None = None


class PhoneChange(Record):
    """Audit row kept when a number on a slot is overwritten by an association."""

    customer_id: int
    slot: PhoneSlot
    old_raw: str | None
    old_e164: str | None
    new_raw: str
    new_e164: str | None
    changed_at: datetime
    seller_id: int | None = None
