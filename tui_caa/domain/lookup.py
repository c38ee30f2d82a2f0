"""Results of CRM queries: phone lookups (screen pop), call history pages, customer lifecycle."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime

from tui_caa.domain.crm import Appointment, Contact, Customer, PhoneSlot, Record, Vehicle
from tui_caa.domain.telephony import CallRecord, Direction


class CustomerMatch(Record):
    """A customer that has the looked-up number, with what the agent needs to see at once."""

    customer: Customer
    matched_slots: tuple[PhoneSlot, ...]
    vehicles: tuple[Vehicle, ...] = ()
    latest_contacts: tuple[Contact, ...] = ()
    latest_appointments: tuple[Appointment, ...] = ()


class PhoneLookup(Record):
    number: str  # what was looked up, as given
    e164: str | None  # None when the number is anonymous, an extension or not a phone
    exact: tuple[CustomerMatch, ...] = ()
    near: tuple[CustomerMatch, ...] = ()  # same DDD + last 8 digits: suggestions, never certain
    truncated: bool = False  # more customers share this number than were returned


class HistoryFilter(Record):
    missed_only: bool = False
    direction: Direction | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class HistoryCursor(Record):
    """Where the next page starts (keyset paging: stable while new calls keep arriving)."""

    started_at: datetime
    id: int


class HistoryRow(Record):
    call: CallRecord
    customer_name: str | None = None
    contact_id: int | None = None


class HistoryPage(Record):
    rows: tuple[HistoryRow, ...]
    next_cursor: HistoryCursor | None = None


class LifecycleKind(StrEnum):
    CALL = "call"
    CONTACT = "contact"
    APPOINTMENT = "appointment"


class LifecycleEntry(Record):
    at: datetime
    kind: LifecycleKind
    call: CallRecord | None = None
    contact: Contact | None = None
    appointment: Appointment | None = None
