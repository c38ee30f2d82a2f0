"""Database rows to domain records (the only place that knows both shapes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from tui_caa.domain import (
    Account,
    Appointment,
    AuditEntry,
    AuthSession,
    CallRecord,
    Contact,
    Customer,
    PbxRegistryEntry,
    Phone,
    PhoneSlot,
    Seller,
    TrafficSource,
    Vehicle,
)

Row = Mapping[str, Any]


def _pick(row: Row, model: type, drop: Iterable[str] = ()) -> dict[str, Any]:
    skip = set(drop)
    return {k: row[k] for k in model.model_fields if k in row and k not in skip}


def phone(row: Row) -> Phone:
    return Phone(slot=row["slot"], raw=row["raw"], e164=row["e164"])


_SLOT_ORDER = {slot: index for index, slot in enumerate(PhoneSlot)}


def customer(row: Row, phones: Iterable[Phone] = ()) -> Customer:
    """Phones come in the order of the customer card: residencial, comercial, celular, recado."""
    ordered = tuple(sorted(phones, key=lambda p: _SLOT_ORDER[p.slot]))
    return Customer.model_validate({**_pick(row, Customer, drop=("phones",)), "phones": ordered})


def vehicle(row: Row) -> Vehicle:
    return Vehicle.model_validate(_pick(row, Vehicle))


def contact(row: Row) -> Contact:
    return Contact.model_validate(_pick(row, Contact))


def appointment(row: Row) -> Appointment:
    return Appointment.model_validate(_pick(row, Appointment))


def call_record(row: Row) -> CallRecord:
    return CallRecord.model_validate(_pick(row, CallRecord))


def seller(row: Row) -> Seller:
    return Seller.model_validate(_pick(row, Seller))


def traffic_source(row: Row) -> TrafficSource:
    return TrafficSource.model_validate(_pick(row, TrafficSource))


def pbx_entry(row: Row) -> PbxRegistryEntry:
    data = _pick(row, PbxRegistryEntry)
    try:
        return PbxRegistryEntry.model_validate(data)
    except ValidationError as exc:  # stored before a rule it breaks: listed and fixable, refused when used
        return PbxRegistryEntry.unusable(data, exc)


def secret_value(secret: Any) -> str | None:
    """The plain text of a SecretStr, only for writing it to the database (where secrets.py
    encrypts it with the site key)."""
    return None if secret is None else secret.get_secret_value()


def account(row: Row) -> Account:
    """Leaves the password hash behind: it never travels further than the store."""
    return Account.model_validate(_pick(row, Account))


def auth_session(row: Row) -> AuthSession:
    return AuthSession.model_validate(_pick(row, AuthSession))


def audit_entry(row: Row) -> AuditEntry:
    return AuditEntry.model_validate(_pick(row, AuditEntry))
