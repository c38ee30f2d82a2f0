"""Customers, their phones and vehicles: the screen-pop lookup, search, create, correct, associate."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tui_caa.crm import rows
from tui_caa.crm.base import StoreBase
from tui_caa.crm.schema import (
    customer_phones,
    customers,
    phone_changes,
    vehicles,
)
from tui_caa.domain import (
    Customer,
    InvalidInput,
    NotFound,
    Phone,
    PhoneChange,
    PhoneSlot,
    Vehicle,
    normalize_plate,
    parse_document,
)
from tui_caa.domain.crm import CustomerSaved, DuplicateWarning
from tui_caa.domain.text import fold
from tui_caa.phones import near_key


class CustomerOps(StoreBase):
    # ---- reading ----
    async def _customers_by_id(self, conn: AsyncConnection, ids: Sequence[int]) -> dict[int, Customer]:
        phones: dict[int, list[Phone]] = defaultdict(list)
        for row in (await conn.execute(
            select(customer_phones).where(customer_phones.c.customer_id.in_(ids))
        )).mappings():
            phones[row["customer_id"]].append(rows.phone(row))
        result = await conn.execute(select(customers).where(customers.c.id.in_(ids)))
        by_id = {row["id"]: rows.customer(row, phones[row["id"]]) for row in result.mappings()}
        return {cid: by_id[cid] for cid in ids if cid in by_id}

    async def get_customer(self, customer_id: int) -> Customer:
        async with self._read() as conn:
            found = await self._customers_by_id(conn, [customer_id])
        if customer_id not in found:
            raise NotFound(f"customer {customer_id} does not exist", field="customer_id")
        return found[customer_id]

    async def vehicles_of(self, customer_id: int) -> list[Vehicle]:
        async with self._read() as conn:
            result = await conn.execute(
                select(vehicles).where(vehicles.c.customer_id == customer_id).order_by(vehicles.c.id)
            )
            return [rows.vehicle(row) for row in result.mappings()]

    async def search_customers(self, query: str, *, limit: int = 50) -> list[Customer]:
        """By CPF/CNPJ, plate, phone or name (accents and case ignored), whichever the text looks like."""
        text = query.strip()
        if not text:
            return []
        condition = self._search_condition(text)
        async with self._read() as conn:
            ids = [row[0] for row in await conn.execute(
                select(customers.c.id).where(condition).order_by(customers.c.name_folded, customers.c.id).limit(limit)
            )]
            return list((await self._customers_by_id(conn, ids)).values())

    def _search_condition(self, text: str) -> Any:
        digits = re.sub(r"\D", "", text)
        if re.fullmatch(r"[\d.\-/ ]+", text) and len(digits) in (11, 14):
            try:
                return customers.c.document == parse_document(text)[1]
            except ValueError:
                pass  # 11 digits may also be a phone: fall through
        try:
            plate = normalize_plate(text)
            return customers.c.id.in_(select(vehicles.c.customer_id).where(vehicles.c.plate == plate))
        except ValueError:
            pass
        if re.fullmatch(r"[\d()+\-. ]+", text) and len(digits) >= 8:
            phone = self._phone(text, "search")
            return customers.c.id.in_(
                select(customer_phones.c.customer_id).where(customer_phones.c.e164 == phone.e164)
            )
        folded = fold(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return or_(
            customers.c.name_folded.like(f"{folded}%", escape="\\"),
            customers.c.name_folded.like(f"% {folded}%", escape="\\"),
        )

    async def duplicates_of(self, customer: Customer) -> list[DuplicateWarning]:
        """Other customers that already have one of this customer's phones or its document."""
        phones = [self._phone(p.raw, f"phone '{p.slot}'") for p in customer.phones]
        async with self._read() as conn:
            return await self._duplicates(conn, customer, [p.e164 for p in phones if p.e164])

    async def _duplicates(self, conn: AsyncConnection, customer: Customer, e164s: list[str]) -> list[DuplicateWarning]:
        warnings: list[DuplicateWarning] = []
        other = customers.c.id != (customer.id or -1)
        if customer.document:
            for cid, name in await conn.execute(
                select(customers.c.id, customers.c.name).where(customers.c.document == customer.document, other).limit(5)
            ):
                warnings.append(DuplicateWarning(field="document", value=customer.document, customer_id=cid, customer_name=name))
        if e164s:
            for cid, name, e164 in await conn.execute(
                select(customers.c.id, customers.c.name, customer_phones.c.e164)
                .join(customer_phones, customer_phones.c.customer_id == customers.c.id)
                .where(customer_phones.c.e164.in_(e164s), other).limit(10)
            ):
                warnings.append(DuplicateWarning(field="phone", value=e164, customer_id=cid, customer_name=name))
        return warnings

    async def sample_phone_numbers(self, limit: int = 200) -> list[str]:
        """E.164 numbers of customers, spread over the whole table (the PBX simulator calls from them)."""
        async with self._read() as conn:
            top = (await conn.execute(select(func.max(customer_phones.c.id)))).scalar() or 0
            step = max(top // max(limit, 1), 1)
            result = await conn.execute(
                select(customer_phones.c.e164).where(customer_phones.c.id % step == 0)
                .order_by(customer_phones.c.id).limit(limit)
            )
            return list(result.scalars())

    async def shared_phone_numbers(self, limit: int = 50) -> list[str]:
        """Numbers that more than one customer has (families, a company's switchboard)."""
        async with self._read() as conn:
            result = await conn.execute(
                select(customer_phones.c.e164).group_by(customer_phones.c.e164)
                .having(func.count(func.distinct(customer_phones.c.customer_id)) > 1)
                .order_by(customer_phones.c.e164).limit(limit)
            )
            return list(result.scalars())

    # ---- writing ----
    async def create_customer(self, customer: Customer) -> CustomerSaved:
        """Creates the customer; another customer with the same phone or document is only a warning
        (families share phones), returned so the agent can decide."""
        phones = self._normalized_phones(customer.phones)
        created = customer.created_at or self.clock()  # given when importing from another system
        async with self._write() as conn:
            warnings = await self._duplicates(conn, customer, [p.e164 for p in phones if p.e164])
            result = await conn.execute(insert(customers).values(
                **_customer_columns(customer), created_at=created, updated_at=customer.updated_at or created,
            ))
            customer_id = result.inserted_primary_key[0]
            await _insert_phones(conn, customer_id, phones)
            saved = (await self._customers_by_id(conn, [customer_id]))[customer_id]
        return CustomerSaved(customer=saved, warnings=tuple(warnings))

    async def update_customer(self, customer: Customer, *, seller_id: int | None = None) -> CustomerSaved:
        """Corrects a customer in place; a phone overwritten on a slot is kept in the audit trail."""
        if customer.id is None:
            raise InvalidInput("update_customer needs the customer's id", field="id")
        phones = {p.slot: p for p in self._normalized_phones(customer.phones)}
        now = self.clock()
        async with self._write() as conn:
            old = (await self._customers_by_id(conn, [customer.id])).get(customer.id)
            if old is None:
                raise NotFound(f"customer {customer.id} does not exist", field="id")
            warnings = await self._duplicates(conn, customer, [p.e164 for p in phones.values() if p.e164])
            await conn.execute(update(customers).where(customers.c.id == customer.id).values(
                **_customer_columns(customer), updated_at=now,
            ))
            for slot in PhoneSlot:
                before, after = old.phone(slot), phones.get(slot)
                if before == after:
                    continue
                if after is None:
                    await conn.execute(delete(customer_phones).where(
                        customer_phones.c.customer_id == customer.id, customer_phones.c.slot == slot.value))
                else:
                    await self._replace_phone(conn, customer.id, after, before, seller_id, now)
            saved = (await self._customers_by_id(conn, [customer.id]))[customer.id]
        return CustomerSaved(customer=saved, warnings=tuple(warnings))

    async def associate_phone(
        self, customer_id: int, slot: PhoneSlot | str, number: str, *, seller_id: int | None = None
    ) -> PhoneChange:
        """Puts the number (usually the caller's) on a slot of an existing customer. What was on
        that slot before is kept in the audit trail, so nothing is lost by a wrong pick."""
        try:
            slot = PhoneSlot(slot)
        except ValueError:
            slots = ", ".join(s.value for s in PhoneSlot)
            raise InvalidInput(f"unknown phone slot '{slot}'; use one of {slots}", field="slot") from None
        normalized = self._phone(number, f"phone '{slot}'")
        phone = Phone(slot=slot, raw=number.strip(), e164=normalized.e164)
        now = self.clock()
        async with self._write() as conn:
            old = (await self._customers_by_id(conn, [customer_id])).get(customer_id)
            if old is None:
                raise NotFound(f"customer {customer_id} does not exist", field="customer_id")
            before = old.phone(slot)
            change = await self._replace_phone(conn, customer_id, phone, before, seller_id, now)
            await conn.execute(update(customers).where(customers.c.id == customer_id).values(updated_at=now))
        return change

    async def _replace_phone(
        self, conn: AsyncConnection, customer_id: int, phone: Phone, before: Phone | None,
        seller_id: int | None, now: Any,
    ) -> PhoneChange:
        change = PhoneChange(
            customer_id=customer_id, slot=phone.slot, old_raw=before.raw if before else None,
            old_e164=before.e164 if before else None, new_raw=phone.raw, new_e164=phone.e164,
            changed_at=now, seller_id=seller_id,
        )
        if before is not None:
            await conn.execute(insert(phone_changes).values(**change.model_dump()))
            await conn.execute(delete(customer_phones).where(
                customer_phones.c.customer_id == customer_id, customer_phones.c.slot == phone.slot.value))
        await _insert_phones(conn, customer_id, [phone])
        return change

    async def phone_changes(self, customer_id: int) -> list[PhoneChange]:
        async with self._read() as conn:
            result = await conn.execute(
                select(phone_changes).where(phone_changes.c.customer_id == customer_id)
                .order_by(phone_changes.c.changed_at.desc(), phone_changes.c.id.desc())
            )
            return [PhoneChange.model_validate({k: row[k] for k in PhoneChange.model_fields}) for row in result.mappings()]

    async def add_vehicle(self, vehicle: Vehicle) -> Vehicle:
        if vehicle.customer_id is None:
            raise InvalidInput("a vehicle needs the customer it belongs to", field="customer_id")
        async with self._write() as conn:
            await self._require(conn, customers, vehicle.customer_id, "customer_id")
            result = await conn.execute(insert(vehicles).values(**vehicle.model_dump(exclude={"id"})))
        return vehicle.model_copy(update={"id": result.inserted_primary_key[0]})

    async def update_vehicle(self, vehicle: Vehicle) -> Vehicle:
        if vehicle.id is None:
            raise InvalidInput("update_vehicle needs the vehicle's id", field="id")
        async with self._write() as conn:
            result = await conn.execute(
                update(vehicles).where(vehicles.c.id == vehicle.id)
                .values(**vehicle.model_dump(exclude={"id", "customer_id"}))
            )
            if result.rowcount == 0:
                raise NotFound(f"vehicle {vehicle.id} does not exist", field="id")
        return vehicle

    def _normalized_phones(self, phones: Iterable[Phone]) -> list[Phone]:
        return [
            p.model_copy(update={"e164": self._phone(p.raw, f"phone '{p.slot}'").e164})
            for p in phones
        ]


def _customer_columns(customer: Customer) -> dict[str, Any]:
    columns = customer.model_dump(exclude={"id", "phones", "created_at", "updated_at"})
    columns["name_folded"] = fold(customer.name)
    return columns


async def _insert_phones(conn: AsyncConnection, customer_id: int, phones: Iterable[Phone]) -> None:
    values = [
        {"customer_id": customer_id, "slot": p.slot.value, "raw": p.raw, "e164": p.e164,
         "near_key": near_key(p.e164) if p.e164 else None}
        for p in phones
    ]
    if values:
        await conn.execute(insert(customer_phones), values)
