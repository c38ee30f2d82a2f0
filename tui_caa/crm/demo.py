"""Demo data: a believable Porto Alegre car dealership in an empty CRM store.

The embedded default (no configuration) shows the console working at once; this fills its
SQLite store with sellers on extensions 1001-1010, the seed's traffic sources and DDRs, the
simulated PBX, and customers typed the way people really type them (phones in every format,
families sharing a home number, old and Mercosul plates), with contacts, appointments and calls.

Everything comes from `random.Random(seed)` and from `now`, so a seed and a `now` always give
the same database. Only the store's public methods write, so the demo also exercises them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone

from pydantic import BaseModel, ConfigDict, SecretStr

from tui_caa.crm import demo_names as names
from tui_caa.crm.store import CrmStore
from tui_caa.domain import (
    MISSED_DISPOSITIONS,
    Appointment,
    CallRecord,
    Conflict,
    Contact,
    ContactOutcome,
    Customer,
    Direction,
    Disposition,
    InvalidInput,
    PbxKind,
    PbxRegistryEntry,
    Phone,
    PhoneSlot,
    Seller,
    TrafficSource,
    Vehicle,
)
from tui_caa.domain.documents import cnpj_with_check_digits, cpf_with_check_digits
from tui_caa.domain.text import fold
from tui_caa.phones import CallerIdRules, InvalidPhoneNumber, normalize

DEMO_DDD = "51"  # Porto Alegre, as the seed's DDR examples
DEMO_SEED = 2026

FIRST_EXTENSION = 1001
SELLER_COUNT = 10
MAIN_NUMBER = "(51) 2101-0000"  # the dealership's switchboard: a DDR with no traffic source

# (name, DDR, active): the seed's two examples first.
TRAFFIC_SOURCES = (
    ("Jornal", "(51) 2101-0001", True),
    ("Redes sociais", "(51) 2101-0002", True),
    ("Google Ads", "(51) 2101-0003", True),
    ("OLX/Webmotors", "(51) 2101-0004", True),
    ("Rádio", "(51) 2101-0005", True),
    ("Site", None, True),  # leads from the web form: no phone number to dial
    ("Indicação", None, True),
    ("Porta/Showroom", None, True),
    ("Feirão de seminovos 2025", None, False),
)

LOCAL_TZ = timezone(timedelta(hours=-3), "BRT")  # Brasília time, no daylight saving since 2019

_MOBILE_STYLES = {  # how people type a mobile, with how often
    "masked": 40, "digits": 12, "trunk": 8, "e164": 8, "local": 8, "legacy": 9, "legacy_local": 5,
}  # fmt: skip
_FIXED_STYLES = {"masked": 50, "digits": 12, "trunk": 8, "e164": 5, "local": 15}
_OUTCOMES = {
    ContactOutcome.INTERESTED: 22, ContactOutcome.APPOINTMENT_SET: 22, ContactOutcome.CALL_BACK: 16,
    ContactOutcome.INFORMATION: 18, ContactOutcome.SALE: 8, ContactOutcome.NOT_INTERESTED: 10,
    ContactOutcome.WRONG_NUMBER: 4,
}  # fmt: skip
_VIN_YEAR_CODES = "89ABCDEFGHJKLMNPRSTVWXY123456789"  # model years 2008, 2009, 2010 ... (ISO 3779)
_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_VALUES = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", "12345678123457923456789", strict=True))
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class DemoSummary(BaseModel):
    """What `load_demo` wrote."""

    model_config = ConfigDict(frozen=True)

    sellers: int
    traffic_sources: int
    customers: int
    phones: int
    shared_phone_numbers: int  # numbers that two or more customers have (families)
    vehicles: int
    contacts: int
    appointments: int
    calls: int


async def load_demo(
    store: CrmStore, *, seed: int = DEMO_SEED, customers: int = 500, now: datetime | None = None
) -> DemoSummary:
    """Fills an empty store with a demo dealership; refuses (Conflict) a store that has data."""
    if customers < 0:
        raise InvalidInput("the number of demo customers cannot be negative", field="customers")
    now = _start_time(now)
    await _refuse_if_not_empty(store)
    return await _DemoLoader(store, random.Random(seed), now).load(customers)


def _start_time(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC).replace(second=0, microsecond=0)
    if now.tzinfo is None:
        raise InvalidInput("load_demo needs an aware datetime for `now` (e.g. datetime.now(UTC))", field="now")
    return now.astimezone(UTC)


async def _refuse_if_not_empty(store: CrmStore) -> None:
    """Demo customers mixed into a real CRM could be called by mistake: only an empty store."""
    counts = await store.record_counts()
    found = [f"{n} {what.replace('_', ' ')}" for what, n in counts.items() if n]
    if found:
        raise Conflict(
            f"the CRM database already has data ({', '.join(found)}); demo data is only loaded into "
            "an empty database, so that a real one is never polluted. To try the demo, give "
            "tui-caa a new database file (another database URL); this one is left as it is.",
            field="database",
        )


# ---- the plan of one customer, before the store gives it an id ----


@dataclass
class _Planned:
    customer: Customer
    created_at: datetime
    vehicles: list[Vehicle] = field(default_factory=list)
    id: int = 0
    vehicle_ids: list[int] = field(default_factory=list)


@dataclass
class _Family:
    surname: str
    city: tuple[str, str, str]
    home: str  # national number (DDD + subscriber) of the shared residential phone
    message: str | None  # a relative's mobile some of them leave as "recado"


class _DemoLoader:
    def __init__(self, store: CrmStore, rng: random.Random, now: datetime) -> None:
        self.store = store
        self.rng = rng
        self.now = now
        self.rules: CallerIdRules = store.rules  # the store's rules decide which typed forms it reads
        self.used_numbers: set[str] = {_nsn(ddr) for _, ddr, _ in TRAFFIC_SOURCES if ddr} | {_nsn(MAIN_NUMBER)}
        self.used_documents: set[str] = set()
        self.used_plates: set[str] = set()
        self.owners: dict[str, set[int]] = {}  # e164 -> indexes of the customers that have it
        self.counts = {"contacts": 0, "appointments": 0}

    async def load(self, count: int) -> DemoSummary:
        sellers = await self._save_sellers()
        sources = await self._save_setup()
        planned = self._plan_customers(count)
        await self._save_customers(planned)
        await self._save_activity(planned, sellers, sources)
        calls = await self._save_calls(planned, sellers, sources)
        return DemoSummary(
            sellers=len(sellers),
            traffic_sources=len(sources),
            customers=len(planned),
            phones=sum(len(p.customer.phones) for p in planned),
            shared_phone_numbers=sum(1 for owners in self.owners.values() if len(owners) > 1),
            vehicles=sum(len(p.vehicle_ids) for p in planned),
            contacts=self.counts["contacts"],
            appointments=self.counts["appointments"],
            calls=calls,
        )

    # ---- setup: sellers, traffic sources, PBX ----

    async def _save_sellers(self) -> list[Seller]:
        saved = []
        for offset, name in enumerate(names.SELLER_NAMES[:SELLER_COUNT]):
            password = "".join(self.rng.choice("0123456789") for _ in range(self.rng.randint(4, 6)))
            seller = Seller(name=name, extension=str(FIRST_EXTENSION + offset), extension_password=SecretStr(password))
            saved.append(await self.store.save_seller(seller))
        return saved

    async def _save_setup(self) -> list[TrafficSource]:
        sources = [
            await self.store.save_traffic_source(TrafficSource(name=name, ddr_raw=ddr, active=active))
            for name, ddr, active in TRAFFIC_SOURCES
        ]
        simulator = PbxRegistryEntry(name="Simulador (demonstração)", kind=PbxKind.SIMULATOR, active=True)
        await self.store.save_pbx(simulator)
        await self.store.set_telephony_enabled(True)
        return sources

    # ---- customers ----

    def _plan_customers(self, count: int) -> list[_Planned]:
        """Families first, so that there surely are some (about one customer in ten shares a
        phone), then everyone else; ids follow the registration dates, which mix them up."""
        planned: list[_Planned] = []
        for _ in range(count // 20 if count >= 20 else min(1, count // 2)):
            size = self.rng.choice((2, 2, 2, 3))
            if len(planned) + size > count:
                break
            family = self._new_family()
            planned += [self._plan_person(family) for _ in range(size)]
        while len(planned) < count:
            planned.append(self._plan_company() if self.rng.random() < 0.08 else self._plan_person(None))
        planned.sort(key=lambda p: p.created_at)
        for index, plan in enumerate(planned):
            for phone in plan.customer.phones:
                self.owners.setdefault(phone.e164 or "", set()).add(index)
        return planned

    def _new_family(self) -> _Family:
        city = self._city()
        message = self._new_number(city[2], mobile=True) if self.rng.random() < 0.3 else None
        return _Family(self.rng.choice(names.SURNAMES), city, self._new_number(city[2], mobile=False), message)

    def _city(self) -> tuple[str, str, str]:
        city, uf, ddd, _ = self.rng.choices(names.CITIES, weights=[c[3] for c in names.CITIES])[0]
        return city, uf, ddd

    def _plan_person(self, family: _Family | None) -> _Planned:
        rng = self.rng
        first = rng.choice(names.FEMALE_FIRST_NAMES if rng.random() < 0.5 else names.MALE_FIRST_NAMES)
        last = family.surname if family else rng.choice(names.SURNAMES)
        surnames = [rng.choice(names.SURNAMES)] if rng.random() < 0.6 else []
        name = " ".join([first, *(_with_particle(rng, s) for s in [*surnames, last])])
        city, uf, ddd = family.city if family else self._city()
        phones = self._person_phones(ddd, family)
        age_days = rng.randint(18 * 365, 82 * 365)
        customer = Customer(
            name=name,
            document=self._cpf(),
            email=self._email(first, last) if rng.random() < 0.55 else None,
            birth_date=self.now.date() - timedelta(days=age_days),
            city=city if rng.random() < 0.95 else None,  # a few cards were never completed
            state=uf,
            notes=rng.choice(names.CUSTOMER_NOTES) if rng.random() < 0.06 else None,
            phones=tuple(phones),
        )
        return self._with_vehicles(customer, fleet=False)

    def _plan_company(self) -> _Planned:
        rng = self.rng
        trade_name = f"{rng.choice(names.COMPANY_KINDS)} {rng.choice(names.SURNAMES)}"
        name = f"{trade_name} {rng.choice(names.COMPANY_SUFFIXES)}"
        city, uf, ddd = self._city()
        phones = [self._phone(PhoneSlot.BUSINESS, self._new_number(ddd, mobile=False), ddd)]
        if rng.random() < 0.6:
            phones.append(self._phone(PhoneSlot.MOBILE, self._new_number(ddd, mobile=True), ddd))
        slug = re.sub(r"[^a-z0-9]", "", fold(trade_name))[:30]
        customer = Customer(
            name=name,
            document=self._cnpj(),
            email=f"{rng.choice(('contato', 'financeiro', 'compras'))}@{slug}.com.br" if rng.random() < 0.7 else None,
            city=city,
            state=uf,
            notes="Frotista: falar com o setor de compras." if rng.random() < 0.3 else None,
            phones=tuple(phones),
        )
        return self._with_vehicles(customer, fleet=True)

    def _with_vehicles(self, customer: Customer, *, fleet: bool) -> _Planned:
        created_at = self._business_time(self.now - timedelta(days=self.rng.randint(3, 1500)))
        counts = (1, 2, 3) if fleet else (0, 1, 2, 3)
        weights = (40, 35, 25) if fleet else (24, 56, 17, 3)
        how_many = self.rng.choices(counts, weights=weights)[0]
        return _Planned(customer, created_at, [self._vehicle(fleet, customer.state) for _ in range(how_many)])

    def _person_phones(self, ddd: str, family: _Family | None) -> list[Phone]:
        rng = self.rng
        numbers: dict[PhoneSlot, tuple[str, str]] = {}  # slot -> (national number, DDD it was typed for)
        if rng.random() < 0.92:
            numbers[PhoneSlot.MOBILE] = (self._new_number(ddd, mobile=True), ddd)
        if family or rng.random() < 0.35:
            numbers[PhoneSlot.RESIDENTIAL] = (family.home if family else self._new_number(ddd, mobile=False), ddd)
        if rng.random() < 0.22:
            # some work in another city: a business line with another DDD, e.g. (11) 3456-7890
            work_ddd = rng.choice(("11", "21", "41", "48")) if rng.random() < 0.2 else ddd
            numbers[PhoneSlot.BUSINESS] = (self._new_number(work_ddd, mobile=False), work_ddd)
        if family and family.message and rng.random() < 0.7:
            numbers[PhoneSlot.MESSAGE] = (family.message, ddd)
        elif rng.random() < 0.08:
            numbers[PhoneSlot.MESSAGE] = (self._new_number(ddd, mobile=True), ddd)
        if not numbers:
            numbers[PhoneSlot.MOBILE] = (self._new_number(ddd, mobile=True), ddd)
        for slot in (PhoneSlot.MESSAGE, PhoneSlot.BUSINESS):  # at most three phones on a card
            if len(numbers) > 3:
                numbers.pop(slot, None)
        return [self._phone(slot, nsn, typed_ddd) for slot, (nsn, typed_ddd) in numbers.items()]

    def _new_number(self, ddd: str, *, mobile: bool) -> str:
        """A national number (DDD + subscriber) nobody has yet, so that only families share."""
        while True:
            if mobile:  # 9 + 6/8/9: never 7, whose 8-digit legacy form is still a valid number
                subscriber = "9" + self.rng.choice("68999") + _digits(self.rng, 7)
            else:
                subscriber = self.rng.choice("333334") + _digits(self.rng, 7)
            nsn = ddd + subscriber
            if nsn not in self.used_numbers and _valid(nsn):
                self.used_numbers.add(nsn)
                return nsn

    def _phone(self, slot: PhoneSlot, nsn: str, ddd: str) -> Phone:
        """The number typed in one of the ways people type it; a form the normaliser would read
        as another number is never used (the demo must only hold what the store accepts)."""
        styles = _MOBILE_STYLES if len(nsn) == 11 else _FIXED_STYLES
        style = self.rng.choices(list(styles), weights=list(styles.values()))[0]
        raw = _typed(nsn, style)
        try:
            e164 = normalize(raw, self.rules).e164
        except InvalidPhoneNumber:
            e164 = None
        if e164 != "+55" + nsn or (style.endswith("local") and ddd != self.rules.default_ddd):
            raw = _typed(nsn, "masked")
            e164 = "+55" + nsn
        return Phone(slot=slot, raw=raw, e164=e164)

    def _cpf(self) -> str:
        while True:
            cpf = cpf_with_check_digits(_digits(self.rng, 9))
            if len(set(cpf)) > 1 and cpf not in self.used_documents:
                self.used_documents.add(cpf)
                return cpf

    def _cnpj(self) -> str:
        while True:
            cnpj = cnpj_with_check_digits(_digits(self.rng, 8) + "0001")  # 0001: the head office
            if cnpj not in self.used_documents:
                self.used_documents.add(cnpj)
                return cnpj

    def _email(self, first: str, last: str) -> str:
        user = ".".join(re.sub(r"[^a-z0-9]", "", fold(part)) for part in (first.split()[0], last))
        if self.rng.random() < 0.4:
            user += str(self.rng.randint(1, 99))
        return f"{user}@{self.rng.choice(names.EMAIL_DOMAINS)}"

    # ---- vehicles ----

    def _vehicle(self, fleet: bool, state: str | None) -> Vehicle:
        rng = self.rng
        models = [
            m for m in names.CAR_MODELS
            if m[1] <= self.now.year and (not fleet or m[0] in names.FLEET_MODELS or rng.random() < 0.2)
        ]
        model, first_year, last_year, wmi = rng.choice(models)
        year = rng.randint(max(2008, first_year), min(last_year, self.now.year))
        # new cars get Mercosul plates (since 2018-2020); older ones keep the old plate unless sold on
        mercosul = rng.random() < (0.95 if year >= 2020 else 0.35)
        return Vehicle(
            model=model,
            year=year,
            plate=self._plate(mercosul, rs=state == "RS"),
            vin=self._vin(wmi, year) if rng.random() < 0.55 else None,
        )

    def _plate(self, mercosul: bool, *, rs: bool) -> str:
        while True:
            # old RS plates were in the I.. series (IAA-0001 to JDO-9999)
            first = "I" if rs and self.rng.random() < 0.8 else self.rng.choice(_LETTERS)
            letters = first + self.rng.choice(_LETTERS) + self.rng.choice(_LETTERS)
            if mercosul:
                plate = f"{letters}{self.rng.randint(0, 9)}{self.rng.choice(_LETTERS)}{_digits(self.rng, 2)}"
            else:
                plate = f"{letters}-{_digits(self.rng, 4)}"
            if plate not in self.used_plates:
                self.used_plates.add(plate)
                return plate

    def _vin(self, wmi: str, year: int) -> str:
        descriptor = "".join(self.rng.choice(_VIN_CHARS) for _ in range(5))
        plant = self.rng.choice(_VIN_CHARS)
        vin = f"{wmi}{descriptor}0{_VIN_YEAR_CODES[year - 2008]}{plant}{_digits(self.rng, 6)}"
        return vin[:8] + vin_check_digit(vin) + vin[9:]

    # ---- writing customers and their vehicles ----

    async def _save_customers(self, planned: list[_Planned]) -> None:
        for plan in planned:
            registered = plan.customer.model_copy(update={"created_at": plan.created_at})
            plan.id = (await self.store.create_customer(registered)).customer.id or 0
            for vehicle in plan.vehicles:
                saved = await self.store.add_vehicle(vehicle.model_copy(update={"customer_id": plan.id}))
                plan.vehicle_ids.append(saved.id or 0)

    # ---- contacts and appointments ----

    async def _save_activity(
        self, planned: list[_Planned], sellers: list[Seller], sources: list[TrafficSource]
    ) -> None:
        active_sources = [s for s in sources if s.active]
        for plan in planned:
            for _ in range(self.rng.choices((0, 1, 2, 3), weights=(52, 33, 12, 3))[0]):
                await self._save_contact(plan, self.rng.choice(sellers), active_sources)
            if plan.vehicle_ids:
                for _ in range(self.rng.choices((0, 1, 2), weights=(55, 36, 9))[0]):
                    await self._save_appointment(plan, self.rng.choice(sellers))

    async def _save_contact(
        self, plan: _Planned, seller: Seller, sources: Sequence[TrafficSource], *,
        at: datetime | None = None, call_id: str | None = None, ddr: str | None = None,
    ) -> None:
        rng = self.rng
        if at is None:
            since = max(plan.created_at, self.now - timedelta(days=240))
            at = self._business_time(since + (self.now - since) * rng.random())
        outcome = rng.choices(list(_OUTCOMES), weights=list(_OUTCOMES.values()))[0]
        follow_up = None
        if outcome in (ContactOutcome.CALL_BACK, ContactOutcome.INTERESTED):
            later = at + timedelta(days=rng.randint(1, 10))
            follow_up = self._business_time(later, latest=later + timedelta(days=1))  # may be overdue
        source = rng.choice(sources) if call_id is None and rng.random() < 0.35 else None
        await self.store.create_contact(
            Contact(
                customer_id=plan.id,
                seller_id=seller.id,
                traffic_source_id=source.id if source else None,
                call_id=call_id,
                outcome=outcome,
                notes=self._note(rng.choice(names.CONTACT_NOTES[outcome.value]), plan),
                next_contact_at=follow_up,
                created_at=at,
            ),
            ddr=ddr,  # a DDR of a traffic source locks the contact's source, as in the seed
        )
        self.counts["contacts"] += 1

    async def _save_appointment(self, plan: _Planned, seller: Seller) -> None:
        rng = self.rng
        service = rng.choice(names.SERVICES)
        if rng.random() < 0.65:  # most are history; the rest fill the coming weeks
            scheduled = self._slot(self.now.date() - timedelta(days=rng.randint(1, 150)))
            created = scheduled - timedelta(days=rng.randint(1, 15), minutes=rng.randint(0, 600))
        else:
            scheduled = self._slot(self.now.date() + timedelta(days=rng.randint(1, 30)))
            created = self.now - timedelta(days=rng.randint(0, 10), minutes=rng.randint(0, 600))
        # a test drive or a delivery is of the dealership's car, not of one the customer owns
        own_car = not service.startswith(("Test drive", "Entrega"))
        index = rng.randrange(len(plan.vehicle_ids))
        model = plan.vehicles[index].model if own_car else rng.choice(names.CAR_MODELS)[0]
        notes = rng.choice(names.APPOINTMENT_NOTES) if own_car else f"{service} do {model}."
        await self.store.create_appointment(Appointment(
            customer_id=plan.id,
            vehicle_id=plan.vehicle_ids[index] if own_car else None,
            seller_id=seller.id,
            scheduled_at=scheduled,
            service=service,
            notes=notes,
            created_at=min(created, self.now),
        ))
        self.counts["appointments"] += 1

    def _note(self, template: str, plan: _Planned) -> str:
        owned = plan.vehicles and self.rng.random() < 0.6  # otherwise a car they asked about
        model = plan.vehicles[0].model if owned else self.rng.choice(names.CAR_MODELS)[0]
        service = self.rng.choice(names.SERVICES[:12]).lower()
        return template.format(model=model, service=service)

    # ---- calls ----

    async def _save_calls(self, planned: list[_Planned], sellers: list[Seller], sources: list[TrafficSource]) -> int:
        """Calls of the last three weeks, written in the order they happened; in some answered
        ones the agent opened a contact, which the store links to the call by its id."""
        ddrs = [s.ddr_raw for s in sources if s.ddr_raw]
        reachable = [p for p in planned if p.customer.phones]
        per_extension = max(4, len(planned) // 30)  # each call costs two store round trips: a screenful
        latest = self.now - timedelta(hours=1)  # every call of the demo has ended
        schedule = sorted(
            ((self._business_time(self.now - timedelta(days=self.rng.randint(0, 20)), latest), seller)
             for seller in sellers for _ in range(per_extension)),
            key=lambda item: (item[0], item[1].extension or ""),
        )
        for number, (started, seller) in enumerate(schedule, start=1):
            # a customer's number, or a new lead's that is not in the CRM yet
            plan = self.rng.choice(reachable) if reachable and self.rng.random() < 0.8 else None
            if plan is not None:
                nsn = _nsn_of(self.rng.choice(plan.customer.phones).e164 or "")
            else:
                nsn = self._new_number(DEMO_DDD, mobile=True)
            record = self._call(f"sim-{number:06d}", seller, started, nsn, ddrs)
            if plan is not None and record.answered_at and self.rng.random() < 0.5:
                await self._save_contact(
                    plan, seller, (), at=record.ended_at, call_id=record.pbx_call_id, ddr=record.ddr_raw
                )
            await self.store.record_call(record)
        return len(schedule)

    def _call(self, call_id: str, seller: Seller, started: datetime, nsn: str, ddrs: list[str]) -> CallRecord:
        rng = self.rng
        inbound = rng.random() < 0.6
        answered = rng.random() < (0.72 if inbound else 0.6)
        ring = timedelta(seconds=rng.randint(4, 25))
        talk = rng.randint(20, 900) if answered else 0
        if inbound:
            # as the PBX presents it, with the trunk 0 or not, and the DDR the customer dialled
            remote = rng.choice(("0", "", "+55")) + nsn
            ddr: str | None = rng.choice(ddrs) if ddrs and rng.random() < 0.65 else MAIN_NUMBER
            unanswered = (Disposition.NO_ANSWER, Disposition.ABANDONED, Disposition.BUSY)
        else:
            remote = nsn[2:] if nsn.startswith(DEMO_DDD) else "0" + nsn  # as the PBX dials it
            ddr = None
            unanswered = (Disposition.NO_ANSWER, Disposition.BUSY)
        disposition = Disposition.ANSWERED if answered else rng.choice(unanswered)
        return CallRecord(
            pbx_call_id=call_id,
            extension=seller.extension or "",
            direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
            remote_raw=remote,
            remote_e164="+55" + nsn,
            ddr_raw=ddr,
            ddr_e164=normalize(ddr, self.rules).e164 if ddr else None,
            started_at=started,
            answered_at=started + ring if answered else None,
            ended_at=started + ring + timedelta(seconds=talk),
            talk_seconds=talk,
            # "missed" is a call the agent has to return: an inbound one nobody answered
            missed=inbound and disposition in MISSED_DISPOSITIONS,
            disposition=disposition,
            recording_ref=f"recordings/{started:%Y/%m/%d}/{call_id}.wav" if answered else None,
        )

    # ---- time ----

    def _business_time(self, around: datetime, latest: datetime | None = None) -> datetime:
        """A moment between 8:00 and 18:59 on the local day of `around`, or of the day before
        when that would be later than `latest` (default `now`)."""
        latest = latest or self.now
        local_day = around.astimezone(LOCAL_TZ).date()
        while True:
            clock = time(self.rng.randint(8, 18), self.rng.randint(0, 59))
            moment = datetime.combine(local_day, clock, LOCAL_TZ).astimezone(UTC)
            if moment <= latest:
                return moment
            local_day -= timedelta(days=1)

    def _slot(self, day: date) -> datetime:
        """A workshop slot: Monday to Saturday, on the half hour from 7:30 to 16:30."""
        if day.weekday() == 6:
            day += timedelta(days=1)
        minutes = 7 * 60 + 30 + 30 * self.rng.randint(0, 18)
        return datetime.combine(day, time(minutes // 60, minutes % 60), LOCAL_TZ).astimezone(UTC)


# ---- pure helpers ----


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 / North American check digit (9th character) of a 17-character VIN."""
    total = sum(int(_VIN_VALUES.get(ch, ch)) * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def _typed(nsn: str, style: str) -> str:
    """A national number written as people type it, e.g. "(51) 98765-4321" or "051 98765 4321"."""
    ddd, subscriber = nsn[:2], nsn[2:]
    head, tail = subscriber[:-4], subscriber[-4:]
    match style:
        case "digits":
            return nsn
        case "trunk":
            return f"0{ddd} {head} {tail}"
        case "e164":
            return f"+55 {ddd} {head}-{tail}"
        case "local":
            return f"{head}-{tail}"
        case "legacy":  # a mobile written before the ninth digit (2012-2016), never updated
            return f"({ddd}) {head[1:]}-{tail}"
        case "legacy_local":
            return f"{head[1:]}-{tail}"
        case _:
            return f"({ddd}) {head}-{tail}"


def _with_particle(rng: random.Random, surname: str) -> str:
    particle = names.NAME_PARTICLES.get(surname)
    return f"{particle} {surname}" if particle and rng.random() < 0.5 else surname


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _valid(nsn: str) -> bool:
    try:
        return normalize("+55" + nsn).e164 == "+55" + nsn
    except InvalidPhoneNumber:
        return False


def _nsn(typed: str) -> str:
    return re.sub(r"\D", "", typed)


def _nsn_of(e164: str) -> str:
    return e164.removeprefix("+55")
