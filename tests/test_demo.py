"""The demo dealership (tui_caa.crm.demo): deterministic, realistic, accepted by the store, and
never loaded over real data."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import distinct, func, select

from tui_caa.crm import CrmStore, open_store
from tui_caa.crm import schema as t
from tui_caa.crm.demo import (
    DEMO_DDD,
    DEMO_SEED,
    DemoSummary,
    cnpj_with_check_digits,
    load_demo,
    vin_check_digit,
)
from tui_caa.domain import (
    Conflict,
    Customer,
    DocumentKind,
    InvalidInput,
    PbxKind,
    Phone,
    PhoneSlot,
    parse_document,
)
from tui_caa.phones import CallerIdRules, display

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
SMALL = 120  # customers in most tests: enough for every kind of record, quick to load


async def _open(directory: Path, name: str = "demo") -> CrmStore:
    return await open_store(f"sqlite+aiosqlite:///{directory}/{name}.sqlite3", CallerIdRules(default_ddd=DEMO_DDD))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[CrmStore, DemoSummary]]:
    """One demo store shared by the read-only tests of this module."""
    store = await _open(tmp_path_factory.mktemp("demo"))
    summary = await load_demo(store, customers=SMALL, now=NOW)
    yield store, summary
    await store.close()


async def _scalar(store: CrmStore, query: Any) -> Any:
    async with store.engine.connect() as conn:
        return (await conn.execute(query)).scalar_one()


async def _count(store: CrmStore, table: Any) -> int:
    return int(await _scalar(store, select(func.count()).select_from(table)))


async def _customers(store: CrmStore) -> list[Customer]:
    async with store.engine.connect() as conn:
        ids = (await conn.execute(select(t.customers.c.id).order_by(t.customers.c.id))).scalars().all()
    return [await store.get_customer(cid) for cid in ids]


async def _all_phones(store: CrmStore) -> list[Phone]:
    return [phone for customer in await _customers(store) for phone in customer.phones]


async def _history(store: CrmStore, extension: str) -> list[dict[str, Any]]:
    return [row.model_dump(mode="json") for row in (await store.call_history(extension, limit=1000)).rows]


async def _dump(store: CrmStore) -> dict[str, Any]:
    """Everything the console can show, through the store's own queries."""
    customers = []
    for customer in await _customers(store):
        assert customer.id is not None
        customers.append({
            "customer": customer.model_dump(mode="json"),
            "vehicles": [v.model_dump(mode="json") for v in await store.vehicles_of(customer.id)],
            "lifecycle": [e.model_dump(mode="json") for e in await store.lifecycle(customer.id, limit=1000)],
        })
    sellers = await store.sellers()
    return {
        "sellers": [s.model_dump(mode="json") for s in sellers],
        "passwords": [s.extension_password.get_secret_value() if s.extension_password else None for s in sellers],
        "traffic_sources": [s.model_dump(mode="json") for s in await store.traffic_sources()],
        "pbx": [p.model_dump(mode="json") for p in await store.pbx_entries()],
        "customers": customers,
        "history": {s.extension: await _history(store, s.extension or "") for s in sellers},
    }


# ---- determinism ----


async def test_same_seed_and_now_give_the_same_database(tmp_path: Path) -> None:
    first, second = await _open(tmp_path, "a"), await _open(tmp_path, "b")
    try:
        summary_a = await load_demo(first, seed=7, customers=60, now=NOW)
        summary_b = await load_demo(second, seed=7, customers=60, now=NOW)
        assert summary_a == summary_b
        dump_a, dump_b = await _dump(first), await _dump(second)
        assert dump_a == dump_b
        assert len(dump_a["customers"]) == 60
    finally:
        await first.close()
        await second.close()


async def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    first, second = await _open(tmp_path, "a"), await _open(tmp_path, "b")
    try:
        await load_demo(first, seed=1, customers=40, now=NOW)
        await load_demo(second, seed=2, customers=40, now=NOW)
        dump_a, dump_b = await _dump(first), await _dump(second)
        names_a = [c["customer"]["name"] for c in dump_a["customers"]]
        names_b = [c["customer"]["name"] for c in dump_b["customers"]]
        assert names_a != names_b
        assert dump_a["customers"] != dump_b["customers"]
    finally:
        await first.close()
        await second.close()


async def test_every_time_comes_from_now(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    for customer in await _customers(store):
        assert customer.created_at is not None and customer.created_at <= NOW
        assert customer.id is not None
        for entry in await store.lifecycle(customer.id, limit=1000):
            if entry.contact:
                assert entry.contact.created_at is not None and entry.contact.created_at <= NOW
            if entry.call:
                assert entry.call.ended_at is not None and entry.call.ended_at <= NOW
    # the appointment book has history and a future: the coming weeks are not empty
    async with store.engine.connect() as conn:
        scheduled = (await conn.execute(select(t.appointments.c.scheduled_at))).scalars().all()
    assert any(at.replace(tzinfo=UTC) < NOW for at in scheduled)
    assert any(at.replace(tzinfo=UTC) > NOW for at in scheduled)


async def test_default_now_is_the_current_minute(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    try:
        before = datetime.now(UTC)
        await load_demo(store, customers=30)
        latest = await _scalar(store, select(func.max(t.customers.c.created_at)))
        assert latest.replace(tzinfo=UTC) <= before
        # appointments booked "today" are stamped from `now` itself: it is a whole minute
        async with store.engine.connect() as conn:
            booked = (await conn.execute(select(t.appointments.c.created_at))).scalars().all()
        assert booked and all(at.second == 0 and at.microsecond == 0 for at in booked)
    finally:
        await store.close()


async def test_a_naive_now_is_refused(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    try:
        with pytest.raises(InvalidInput, match="aware"):
            await load_demo(store, customers=3, now=datetime(2026, 3, 10, 14, 0))
        assert await _count(store, t.sellers) == 0
    finally:
        await store.close()


# ---- the summary tells the truth ----


async def test_summary_counts_what_the_store_holds(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, summary = demo
    assert summary.customers == SMALL == await _count(store, t.customers)
    assert summary.sellers == len(await store.sellers()) == 10
    assert summary.traffic_sources == len(await store.traffic_sources()) >= 6
    assert summary.phones == await _count(store, t.customer_phones) == len(await _all_phones(store))
    assert summary.vehicles == await _count(store, t.vehicles) > 0
    assert summary.contacts == await _count(store, t.contacts) > 0
    assert summary.appointments == await _count(store, t.appointments) > 0
    history = [
        row for s in await store.sellers()
        for row in (await store.call_history(s.extension or "", limit=1000)).rows
    ]
    assert summary.calls == len(history) == await _count(store, t.call_records) > 0
    shared = select(t.customer_phones.c.e164).group_by(t.customer_phones.c.e164).having(
        func.count(distinct(t.customer_phones.c.customer_id)) > 1
    )
    assert summary.shared_phone_numbers == await _scalar(store, select(func.count()).select_from(shared.subquery()))


# ---- setup: sellers, traffic sources, PBX ----


async def test_sellers_on_extensions_1001_to_1010_with_passwords(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    sellers = await store.sellers()
    assert [s.extension for s in sellers] == [str(n) for n in range(1001, 1011)]
    for seller in sellers:
        assert seller.active and len(seller.name.split()) >= 2
        assert seller.extension_password is not None
        assert re.fullmatch(r"[0-9]{4,6}", seller.extension_password.get_secret_value())
    assert (await store.seller_by_extension("1007")).name == sellers[6].name


async def test_the_seeds_ddrs_select_jornal_and_redes_sociais(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    for typed in ("(51) 2101-0001", "5121010001", "+55 51 2101-0001"):
        found = await store.traffic_source_for_ddr(typed)
        assert found is not None and found.name == "Jornal"
    found = await store.traffic_source_for_ddr("(51) 2101-0002")
    assert found is not None and found.name == "Redes sociais"
    found = await store.traffic_source_for_ddr("(51) 2101-0003")
    assert found is not None and found.name == "Google Ads"
    assert await store.traffic_source_for_ddr("(51) 2101-0000") is None  # the switchboard: no campaign
    names = {s.name: s for s in await store.traffic_sources()}
    for without_ddr in ("Site", "Indicação", "Porta/Showroom"):
        assert names[without_ddr].ddr_e164 is None


async def test_simulated_pbx_active_and_telephony_on(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    active = await store.active_pbx()
    assert active is not None and active.kind is PbxKind.SIMULATOR
    assert await store.telephony_enabled()


# ---- customers and their phones ----


async def test_customers_have_valid_documents_and_brazilian_names(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    customers = await _customers(store)
    kinds = Counter(parse_document(c.document)[0] for c in customers if c.document)
    assert kinds[DocumentKind.CPF] > SMALL * 0.7 and kinds[DocumentKind.CNPJ] >= 1
    assert len({c.document for c in customers}) == len(customers)  # no accidental duplicates
    companies = [c for c in customers if c.document and len(c.document) == 14]
    assert all(c.birth_date is None for c in companies)
    assert any(re.search(r" (Ltda|ME|EPP|S/A|EIRELI)$", c.name) for c in companies)
    people = [c for c in customers if c.document and len(c.document) == 11]
    assert all(c.birth_date is not None and c.birth_date < date(2008, 3, 10) for c in people)
    assert any(re.search(r"[ãáâçéêíóôõú]", c.name) for c in people)  # accents, as in João, Conceição
    states = Counter(c.state for c in customers)
    assert states["RS"] > SMALL * 0.8
    assert sum(1 for c in customers if c.email) > SMALL * 0.3


async def test_phones_come_in_the_formats_people_type(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    raws = [p.raw for p in await _all_phones(store)]
    patterns = {
        "masked": r"\(\d\d\) 9?\d{4}-\d{4}",
        "digits": r"\d{10,11}",
        "trunk 0": r"0\d\d \d{4,5} \d{4}",
        "e164": r"\+55 \d\d \d{4,5}-\d{4}",
        "local": r"\d{4,5}-\d{4}",
        "other DDD": r"\((1\d|2\d|4\d)\) .*",
    }
    for style, pattern in patterns.items():
        assert any(re.fullmatch(pattern, raw) for raw in raws), f"no phone typed as {style}"
    slots = Counter(p.slot for p in await _all_phones(store))
    assert set(slots) == set(PhoneSlot)
    assert all(1 <= len(c.phones) <= 3 for c in await _customers(store))


async def test_a_legacy_8_digit_mobile_is_stored_with_its_ninth_digit(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    legacy = [
        p for p in await _all_phones(store)
        if re.fullmatch(r"(\(\d\d\) )?[6-9]\d{3}-\d{4}", p.raw) and p.slot in (PhoneSlot.MOBILE, PhoneSlot.MESSAGE)
    ]
    assert legacy, "no mobile typed without its ninth digit"
    for phone in legacy:
        digits = re.sub(r"\D", "", phone.raw)
        ddd = digits[:2] if len(digits) == 10 else DEMO_DDD
        assert phone.e164 == f"+55{ddd}9{digits[-8:]}", phone
    # the number as the customer typed it finds them at once (an exact match, not a suggestion)
    found = await store.lookup_by_phone(legacy[0].raw)
    assert found.exact and not found.near


async def test_families_share_a_phone(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, summary = demo
    assert summary.shared_phone_numbers >= SMALL // 20
    async with store.engine.connect() as conn:
        shared = (await conn.execute(
            select(t.customer_phones.c.e164).group_by(t.customer_phones.c.e164)
            .having(func.count(distinct(t.customer_phones.c.customer_id)) > 1)
        )).scalars().all()
    assert len(shared) == summary.shared_phone_numbers
    for e164 in shared:
        lookup = await store.lookup_by_phone(display(e164))
        assert len(lookup.exact) >= 2
        surnames = {m.customer.name.split()[-1] for m in lookup.exact}
        assert len(surnames) == 1, f"{e164} is shared by strangers: {[m.customer.name for m in lookup.exact]}"


async def test_other_numbers_belong_to_one_customer(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, summary = demo
    owners = Counter(p.e164 for p in await _all_phones(store))
    assert sum(1 for n in owners.values() if n > 1) == summary.shared_phone_numbers


# ---- vehicles ----


async def test_vehicles_have_both_plate_formats_and_valid_vins(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    async with store.engine.connect() as conn:
        vehicles = (await conn.execute(select(t.vehicles))).mappings().all()
    plates = [v["plate"] for v in vehicles]
    old = [p for p in plates if re.fullmatch(r"[A-Z]{3}[0-9]{4}", p)]
    mercosul = [p for p in plates if re.fullmatch(r"[A-Z]{3}[0-9][A-Z][0-9]{2}", p)]
    assert old and mercosul and len(old) + len(mercosul) == len(plates)
    assert len(set(plates)) == len(plates)
    vins = [v["vin"] for v in vehicles if v["vin"]]
    assert 0 < len(vins) < len(vehicles)
    for vin in vins:
        assert re.fullmatch(r"[A-HJ-NPR-Z0-9]{17}", vin) and vin[8] == vin_check_digit(vin), vin
    assert all(2008 <= v["year"] <= NOW.year for v in vehicles)
    assert {"Chevrolet Onix", "VW Gol", "Fiat Strada"} & {v["model"] for v in vehicles}
    # an old plate typed with its dash finds the owner
    owners = await store.search_customers(f"{old[0][:3]}-{old[0][3:]}")
    assert len(owners) == 1


async def test_check_digit_helpers_match_known_documents() -> None:
    assert cnpj_with_check_digits("112223330001") == "11222333000181"  # the usual textbook CNPJ
    assert parse_document(cnpj_with_check_digits("472053450001"))[0] is DocumentKind.CNPJ
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"  # the ISO 3779 worked example
    assert vin_check_digit("11111111111111111") == "1"


# ---- contacts, appointments, calls ----


async def test_calls_fill_every_extensions_history(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    seen: Counter[str] = Counter()
    for seller in await store.sellers():
        rows = (await store.call_history(seller.extension or "", limit=1000)).rows
        assert rows, f"extension {seller.extension} has no calls"
        for row in rows:
            call = row.call
            seen[call.direction.value] += 1
            seen["missed"] += call.missed
            assert (call.recording_ref is not None) == (call.answered_at is not None)
            if call.direction.value == "in":
                assert call.ddr_e164 is not None
                seen["campaign"] += (await store.traffic_source_for_ddr(call.ddr_e164)) is not None
            seen["named"] += row.customer_name is not None
            seen["with contact"] += row.contact_id is not None
    assert all(seen[key] > 0 for key in ("in", "out", "missed", "campaign", "named", "with contact")), seen


async def test_contacts_from_ddr_calls_have_the_locked_source(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    async with store.engine.connect() as conn:
        rows = (await conn.execute(
            select(t.contacts, t.call_records.c.ddr_e164)
            .join(t.call_records, t.call_records.c.pbx_call_id == t.contacts.c.call_id)
        )).mappings().all()
    locked = [r for r in rows if r["traffic_source_locked"]]
    assert locked, "no contact was opened during a call to a campaign DDR"
    for row in locked:
        source = await store.traffic_source_for_ddr(row["ddr_e164"])
        assert source is not None and source.id == row["traffic_source_id"]
    notes = [r["notes"] for r in rows]
    assert all(notes) and any(re.search(r"[ãçéó]", n) for n in notes)  # Portuguese notes


async def test_appointments_name_workshop_services(demo: tuple[CrmStore, DemoSummary]) -> None:
    store, _ = demo
    async with store.engine.connect() as conn:
        services = (await conn.execute(select(t.appointments.c.service))).scalars().all()
    text = " ".join(services).lower()
    assert "revisão" in text and ("troca de óleo" in text or "alinhamento" in text)


# ---- never over real data ----


async def test_a_store_with_customers_is_refused_untouched(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    try:
        real = Customer(name="Cliente Real", phones=(Phone(slot=PhoneSlot.MOBILE, raw="(51) 99999-1234"),))
        await store.create_customer(real)
        with pytest.raises(Conflict, match=r"already has data \(1 customers\).*empty database.*new database"):
            await load_demo(store, customers=10, now=NOW)
        assert await _count(store, t.customers) == 1
        assert await store.sellers() == [] and await store.traffic_sources() == []
        assert not await store.telephony_enabled()
    finally:
        await store.close()


async def test_loading_twice_is_refused(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    try:
        await load_demo(store, customers=10, now=NOW)
        with pytest.raises(Conflict, match="already has data"):
            await load_demo(store, customers=10, now=NOW)
        assert await _count(store, t.customers) == 10
    finally:
        await store.close()


@pytest.mark.slow
async def test_the_default_demo_has_500_customers_and_families(tmp_path: Path) -> None:
    store = await _open(tmp_path)
    try:
        summary = await load_demo(store, now=NOW)
        assert summary.customers == 500 and DEMO_SEED == 2026
        assert summary.shared_phone_numbers >= 20
    finally:
        await store.close()
