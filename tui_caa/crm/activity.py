"""Contacts and appointments, and a customer's lifecycle (calls, contacts, appointments)."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tui_caa.crm import rows
from tui_caa.crm.base import StoreBase
from tui_caa.crm.schema import appointments, call_records, contacts, customers, traffic_sources, vehicles
from tui_caa.domain import (
    Appointment,
    Contact,
    InvalidInput,
    LifecycleEntry,
    LifecycleKind,
    LockedField,
    NotFound,
)


class ActivityOps(StoreBase):
    async def create_contact(self, contact: Contact, *, ddr: str | None = None) -> Contact:
        """Registers a contact. When it comes from a call whose DDR belongs to a traffic source,
        that source is taken from the DDR and locked: nobody can choose another one, now or later.

        `ddr` is the number the customer dialed, passed while the call is still going on; once
        the call is recorded, the DDR is found through `contact.call_id`."""
        async with self._write() as conn:
            await self._require(conn, customers, contact.customer_id, "customer_id")
            source_id = await self._source_of_call(conn, contact.call_id, ddr)
            if source_id is not None:
                if contact.traffic_source_id not in (None, source_id):
                    raise LockedField(
                        "the traffic source comes from the number the customer dialed (DDR) "
                        "and cannot be chosen by hand",
                        field="traffic_source_id",
                    )
                contact = contact.model_copy(update={"traffic_source_id": source_id, "traffic_source_locked": True})
            elif contact.traffic_source_locked:
                raise InvalidInput("only a traffic source taken from a DDR is locked", field="traffic_source_locked")
            elif contact.traffic_source_id is not None:
                await self._require(conn, traffic_sources, contact.traffic_source_id, "traffic_source_id")
            contact = contact.model_copy(update={"created_at": contact.created_at or self.clock()})
            result = await conn.execute(insert(contacts).values(**contact.model_dump(exclude={"id"})))
            contact_id = result.inserted_primary_key[0]
            if contact.call_id:
                # the call may already be recorded (contact opened from history): link it now
                await conn.execute(
                    update(call_records)
                    .where(call_records.c.pbx_call_id == contact.call_id, call_records.c.contact_id.is_(None))
                    .values(contact_id=contact_id, customer_id=contact.customer_id)
                )
        return contact.model_copy(update={"id": contact_id})

    async def update_contact(self, contact: Contact) -> Contact:
        """Changes outcome, notes or next date; a locked traffic source stays as it is."""
        if contact.id is None:
            raise InvalidInput("update_contact needs the contact's id", field="id")
        async with self._write() as conn:
            row = (await conn.execute(select(contacts).where(contacts.c.id == contact.id))).mappings().first()
            if row is None:
                raise NotFound(f"contact {contact.id} does not exist", field="id")
            old = rows.contact(row)
            if old.traffic_source_locked and (
                contact.traffic_source_id != old.traffic_source_id or not contact.traffic_source_locked
            ):
                raise LockedField(
                    "this contact's traffic source came from the DDR of its call and cannot change",
                    field="traffic_source_id",
                )
            if contact.traffic_source_locked and not old.traffic_source_locked:
                raise InvalidInput("only a traffic source taken from a DDR is locked", field="traffic_source_locked")
            if contact.customer_id != old.customer_id or contact.call_id != old.call_id:
                raise InvalidInput("a contact cannot move to another customer or call", field="customer_id")
            await conn.execute(update(contacts).where(contacts.c.id == contact.id).values(
                traffic_source_id=contact.traffic_source_id, outcome=contact.outcome,
                notes=contact.notes, next_contact_at=contact.next_contact_at, seller_id=contact.seller_id,
            ))
        return contact.model_copy(update={"created_at": old.created_at})

    async def get_contact(self, contact_id: int) -> Contact:
        async with self._read() as conn:
            row = (await conn.execute(select(contacts).where(contacts.c.id == contact_id))).mappings().first()
        if row is None:
            raise NotFound(f"contact {contact_id} does not exist", field="contact_id")
        return rows.contact(row)

    async def _source_of_call(self, conn: AsyncConnection, call_id: str | None, ddr: str | None) -> int | None:
        ddr_e164 = None
        if ddr:
            ddr_e164 = self._phone(ddr, "ddr").e164
        elif call_id:
            ddr_e164 = (await conn.execute(
                select(call_records.c.ddr_e164).where(call_records.c.pbx_call_id == call_id).limit(1)
            )).scalar()
        if not ddr_e164:
            return None
        return (await conn.execute(
            select(traffic_sources.c.id).where(traffic_sources.c.ddr_e164 == ddr_e164)
        )).scalar()

    async def create_appointment(self, appointment: Appointment) -> Appointment:
        async with self._write() as conn:
            await self._require(conn, customers, appointment.customer_id, "customer_id")
            if appointment.vehicle_id is not None:
                owner = (await conn.execute(
                    select(vehicles.c.customer_id).where(vehicles.c.id == appointment.vehicle_id)
                )).scalar()
                if owner != appointment.customer_id:
                    raise InvalidInput(
                        f"vehicle {appointment.vehicle_id} does not belong to customer {appointment.customer_id}",
                        field="vehicle_id",
                    )
            appointment = appointment.model_copy(update={"created_at": appointment.created_at or self.clock()})
            result = await conn.execute(insert(appointments).values(**appointment.model_dump(exclude={"id"})))
        return appointment.model_copy(update={"id": result.inserted_primary_key[0]})

    async def lifecycle(self, customer_id: int, *, limit: int = 100) -> list[LifecycleEntry]:
        """Calls, contacts and appointments of a customer, newest first."""
        async with self._read() as conn:
            await self._require(conn, customers, customer_id, "customer_id")
            entries = [
                LifecycleEntry(at=c.started_at, kind=LifecycleKind.CALL, call=c)
                for c in map(rows.call_record, (await conn.execute(
                    select(call_records).where(call_records.c.customer_id == customer_id)
                    .order_by(call_records.c.started_at.desc()).limit(limit)
                )).mappings())
            ]
            entries += [
                LifecycleEntry(at=c.created_at, kind=LifecycleKind.CONTACT, contact=c)
                for c in map(rows.contact, (await conn.execute(
                    select(contacts).where(contacts.c.customer_id == customer_id)
                    .order_by(contacts.c.created_at.desc()).limit(limit)
                )).mappings())
            ]
            entries += [
                LifecycleEntry(at=a.scheduled_at, kind=LifecycleKind.APPOINTMENT, appointment=a)
                for a in map(rows.appointment, (await conn.execute(
                    select(appointments).where(appointments.c.customer_id == customer_id)
                    .order_by(appointments.c.scheduled_at.desc()).limit(limit)
                )).mappings())
            ]
        entries.sort(key=lambda e: e.at, reverse=True)
        return entries[:limit]
