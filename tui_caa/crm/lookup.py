"""The screen-pop lookup: every customer that has a number, with vehicles and latest activity.

It runs on every ring, so its statements are built once (bound parameters only) and it makes
four round trips to the database whatever the number of matches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tui_caa.crm import rows
from tui_caa.crm.base import StoreBase
from tui_caa.crm.schema import appointments, contacts, customer_phones, customers, vehicles
from tui_caa.domain import Appointment, Contact, Customer, CustomerMatch, Phone, PhoneLookup, PhoneSlot, Vehicle
from tui_caa.phones import InvalidPhoneNumber, NumberKind, near_key, normalize

MAX_MATCHES = 50  # a number on more customers than this is a switchboard, not a person
LATEST_PER_CUSTOMER = 3
_OWNERS_CAP = 2 * MAX_MATCHES + 1


def _customers_with_phones(column: ColumnElement[Any]) -> Select[Any]:
    """Customers that have `:value` in `column`, each row one of their phones (all of them)."""
    owners = (
        select(customer_phones.c.customer_id).where(column == bindparam("value"))
        .distinct().order_by(customer_phones.c.customer_id).limit(_OWNERS_CAP).subquery()
    )
    phone = customer_phones.alias("phone")
    return (
        select(customers, phone.c.slot.label("phone_slot"), phone.c.raw.label("phone_raw"),
               phone.c.e164.label("phone_e164"))
        .join(owners, owners.c.customer_id == customers.c.id)
        .join(phone, phone.c.customer_id == customers.c.id)
        .order_by(customers.c.id, phone.c.id)
    )


def _latest(table: Table, newest_first: ColumnElement[Any]) -> Select[Any]:
    rank = func.row_number().over(partition_by=table.c.customer_id, order_by=(newest_first.desc(), table.c.id.desc()))
    ranked = select(table, rank.label("rank")).where(table.c.customer_id.in_(bindparam("ids", expanding=True))).subquery()
    return select(ranked).where(ranked.c.rank <= LATEST_PER_CUSTOMER).order_by(ranked.c.customer_id, ranked.c.rank)


_BY_NEAR_KEY = _customers_with_phones(customer_phones.c.near_key)
_BY_E164 = _customers_with_phones(customer_phones.c.e164)
_VEHICLES = select(vehicles).where(vehicles.c.customer_id.in_(bindparam("ids", expanding=True))).order_by(vehicles.c.id)
_LATEST_CONTACTS = _latest(contacts, contacts.c.created_at)
_LATEST_APPOINTMENTS = _latest(appointments, appointments.c.scheduled_at)


class LookupOps(StoreBase):
    async def lookup_by_phone(self, number: str) -> PhoneLookup:
        """Every customer with this number on any slot; near matches (same DDD and last 8 digits,
        e.g. with or without the ninth digit) apart, as suggestions, never mixed with the exact ones.
        Anonymous callers, extensions and garbage find nobody, without an error."""
        try:
            normalized = normalize(number, self.rules)
        except InvalidPhoneNumber:
            return PhoneLookup(number=number, e164=None)
        if normalized.kind is not NumberKind.PHONE or normalized.e164 is None:
            return PhoneLookup(number=number, e164=None)
        e164 = normalized.e164
        key = near_key(e164)
        async with self._read() as conn:
            found = (await conn.execute(_BY_NEAR_KEY if key else _BY_E164, {"value": key or e164})).mappings().all()
            owners = _group_phones(found, e164)
            exact = [cid for cid, (_, slots) in owners.items() if slots]
            near = [cid for cid, (_, slots) in owners.items() if not slots]
            ids = exact[:MAX_MATCHES] + near[:MAX_MATCHES]
            activity = await _activity(conn, ids) if ids else {}
        return PhoneLookup(
            number=number,
            e164=e164,
            exact=tuple(_match(owners[cid][0], owners[cid][1], activity) for cid in exact[:MAX_MATCHES]),
            near=tuple(_match(owners[cid][0], _near_slots(owners[cid][0], key), activity) for cid in near[:MAX_MATCHES]),
            truncated=len(exact) > MAX_MATCHES or len(owners) == _OWNERS_CAP,
        )


def _group_phones(found: Sequence[Any], e164: str) -> dict[int, tuple[Customer, list[PhoneSlot]]]:
    """Rows of (customer, one phone) to customers, each with the slots that hold exactly `e164`."""
    phones: dict[int, list[Phone]] = defaultdict(list)
    first_row: dict[int, Any] = {}
    for row in found:
        first_row.setdefault(row["id"], row)
        phones[row["id"]].append(Phone(slot=row["phone_slot"], raw=row["phone_raw"], e164=row["phone_e164"]))
    return {
        cid: (rows.customer(row, phones[cid]),
              [p.slot for p in phones[cid] if p.e164 == e164])
        for cid, row in first_row.items()
    }


def _near_slots(customer: Customer, key: str | None) -> list[PhoneSlot]:
    return [p.slot for p in customer.phones if p.e164 and near_key(p.e164) == key]


async def _activity(conn: AsyncConnection, ids: list[int]) -> dict[str, dict[int, list[Any]]]:
    activity: dict[str, dict[int, list[Any]]] = {kind: defaultdict(list) for kind in ("vehicles", "contacts", "appointments")}
    for kind, statement, convert in (
        ("vehicles", _VEHICLES, rows.vehicle),
        ("contacts", _LATEST_CONTACTS, rows.contact),
        ("appointments", _LATEST_APPOINTMENTS, rows.appointment),
    ):
        for row in (await conn.execute(statement, {"ids": ids})).mappings():
            activity[kind][row["customer_id"]].append(convert(row))
    return activity


def _match(customer: Customer, slots: list[PhoneSlot], activity: dict[str, dict[int, list[Any]]]) -> CustomerMatch:
    cid = customer.id
    vehicles_: list[Vehicle] = activity["vehicles"].get(cid, [])
    contacts_: list[Contact] = activity["contacts"].get(cid, [])
    appointments_: list[Appointment] = activity["appointments"].get(cid, [])
    return CustomerMatch(
        customer=customer, matched_slots=tuple(slots), vehicles=tuple(vehicles_),
        latest_contacts=tuple(contacts_), latest_appointments=tuple(appointments_),
    )

