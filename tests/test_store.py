from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import T0, Clock
from tui_caa.crm import CrmStore, DatabaseUnavailable, open_store
from tui_caa.domain import (
    Appointment,
    CallRecord,
    Conflict,
    Contact,
    Customer,
    HistoryFilter,
    InvalidInput,
    LifecycleKind,
    LockedField,
    NotFound,
    PbxRegistryEntry,
    Phone,
    PhoneSlot,
    Seller,
    TrafficSource,
    Vehicle,
)


def person(name: str, **phones: str) -> Customer:
    return Customer(name=name, phones=[Phone(slot=PhoneSlot[slot.upper()], raw=raw) for slot, raw in phones.items()])


def call(call_id: str, extension: str = "1001", *, at=T0, **fields) -> CallRecord:
    defaults = dict(direction="in", remote_raw="51987654321", remote_e164="+5551987654321", disposition="answered")
    return CallRecord(pbx_call_id=call_id, extension=extension, started_at=at, **{**defaults, **fields})


# ---- lookup_by_phone (the screen pop) ----

async def test_lookup_finds_every_customer_with_the_number_on_any_slot(store: CrmStore) -> None:
    joao = (await store.create_customer(person("João Souza", mobile="(51) 98765-4321"))).customer
    maria = (await store.create_customer(person("Maria Souza", residential="3333-4444", message="051 98765 4321"))).customer
    await store.create_customer(person("Outro", mobile="(51) 99999-0000"))
    await store.add_vehicle(Vehicle(customer_id=joao.id, model="Chevrolet Onix", plate="IZA1B23", year=2022))

    found = await store.lookup_by_phone("+55 51 98765-4321")

    assert found.e164 == "+5551987654321"
    assert [(m.customer.name, m.matched_slots) for m in found.exact] == [
        ("João Souza", (PhoneSlot.MOBILE,)), ("Maria Souza", (PhoneSlot.MESSAGE,)),
    ]
    assert [v.plate for v in found.exact[0].vehicles] == ["IZA1B23"]
    assert found.exact[1].customer.id == maria.id and len(found.exact[1].customer.phones) == 2
    assert found.near == () and not found.truncated


@pytest.mark.parametrize("caller_id", ["051987654321", "5551987654321", "98765-4321", "5187654321"])
async def test_lookup_understands_the_shapes_pbxs_send(store: CrmStore, caller_id: str) -> None:
    await store.create_customer(person("João", mobile="(51) 98765-4321"))
    assert [m.customer.name for m in (await store.lookup_by_phone(caller_id)).exact] == ["João"]


async def test_near_matches_are_suggestions_apart_from_exact(store: CrmStore) -> None:
    # a landline and a mobile that share DDD + last 8 digits: maybe the same person, never certain
    await store.create_customer(person("Fixo", residential="(51) 3333-4444"))
    await store.create_customer(person("Celular", mobile="(51) 9 3333-4444"))
    found = await store.lookup_by_phone("5133334444")
    assert [m.customer.name for m in found.exact] == ["Fixo"]
    assert [m.customer.name for m in found.near] == ["Celular"]
    found = await store.lookup_by_phone("51933334444")
    assert [m.customer.name for m in found.exact] == ["Celular"]
    assert [m.customer.name for m in found.near] == ["Fixo"]


@pytest.mark.parametrize("caller_id", ["anonymous", "", "2001", "not a number", "999999999999999999"])
async def test_lookup_of_anonymous_extensions_and_garbage_finds_nobody(store: CrmStore, caller_id: str) -> None:
    await store.create_customer(person("João", mobile="(51) 98765-4321"))
    found = await store.lookup_by_phone(caller_id)
    assert found.e164 is None and found.exact == () and found.near == ()


async def test_lookup_brings_latest_contacts_and_appointments(store: CrmStore, clock: Clock) -> None:
    joao = (await store.create_customer(person("João", mobile="(51) 98765-4321"))).customer
    for day in range(5):
        await store.create_contact(Contact(customer_id=joao.id, outcome="call_back", notes=f"dia {day}",
                                           created_at=T0 + timedelta(days=day)))
        await store.create_appointment(Appointment(customer_id=joao.id, service="Revisão",
                                                   scheduled_at=T0 + timedelta(days=day)))
    match = (await store.lookup_by_phone("51987654321")).exact[0]
    assert [c.notes for c in match.latest_contacts] == ["dia 4", "dia 3", "dia 2"]
    assert [a.scheduled_at for a in match.latest_appointments] == [T0 + timedelta(days=d) for d in (4, 3, 2)]


async def test_lookup_caps_a_switchboard_number(store: CrmStore) -> None:
    for index in range(55):
        await store.create_customer(person(f"Cliente {index:02}", business="(51) 3210-0000"))
    found = await store.lookup_by_phone("5132100000")
    assert len(found.exact) == 50 and found.truncated


# ---- search, create, correct, associate ----

async def test_search_by_name_document_plate_and_phone(store: CrmStore) -> None:
    joao = (await store.create_customer(Customer(
        name="João da Conceição", document="529.982.247-25", phones=[Phone(slot="celular", raw="51 98765-4321")],
    ))).customer
    await store.create_customer(person("Joana Prado"))
    await store.add_vehicle(Vehicle(customer_id=joao.id, model="Gol", plate="ABC-1234"))
    names = lambda found: [c.name for c in found]  # noqa: E731
    assert names(await store.search_customers("joao")) == ["João da Conceição"]
    assert names(await store.search_customers("CONCEI")) == ["João da Conceição"]
    assert names(await store.search_customers("jo")) == ["Joana Prado", "João da Conceição"]
    assert names(await store.search_customers("52998224725")) == ["João da Conceição"]
    assert names(await store.search_customers("abc1234")) == ["João da Conceição"]
    assert names(await store.search_customers("(51) 98765-4321")) == ["João da Conceição"]
    assert names(await store.search_customers("100%")) == []
    with pytest.raises(InvalidInput, match="search"):
        await store.search_customers("(20) 9999-9999")


async def test_create_warns_about_same_phone_or_document_but_creates(store: CrmStore) -> None:
    first = (await store.create_customer(Customer(name="Ana", document="52998224725",
                                                  phones=[Phone(slot="celular", raw="51 98765-4321")]))).customer
    saved = await store.create_customer(Customer(name="Ana Filha", document="529.982.247-25",
                                                 phones=[Phone(slot="recado", raw="(51) 98765-4321")]))
    assert saved.customer.id != first.id
    assert {(w.field, w.customer_id) for w in saved.warnings} == {("document", first.id), ("phone", first.id)}


async def test_invalid_phone_is_refused_naming_the_slot_and_nothing_is_written(store: CrmStore) -> None:
    with pytest.raises(InvalidInput, match="phone 'comercial': '12345678901234567' is not a phone number"):
        await store.create_customer(person("Ana", mobile="51 98765-4321", business="12345678901234567"))
    assert await store.search_customers("ana") == []


async def test_update_in_place_keeps_the_overwritten_number(store: CrmStore, clock: Clock) -> None:
    ana = (await store.create_customer(person("Ana", mobile="51 98765-4321", residential="3333-4444"))).customer
    clock.advance(hours=1)
    fixed = ana.model_copy(update={"name": "Ana Paula", "email": "ana@example.com",
                                   "phones": (Phone(slot="celular", raw="51 99999-1111"),)})
    saved = (await store.update_customer(fixed, seller_id=None)).customer
    assert saved.name == "Ana Paula" and saved.email == "ana@example.com"
    assert [(p.slot, p.e164) for p in saved.phones] == [(PhoneSlot.MOBILE, "+5551999991111")]
    assert saved.updated_at == clock.now and saved.created_at == T0
    changes = await store.phone_changes(ana.id)
    assert [(c.slot, c.old_e164, c.new_e164) for c in changes] == [(PhoneSlot.MOBILE, "+5551987654321", "+5551999991111")]
    assert (await store.lookup_by_phone("51987654321")).exact == ()


async def test_associate_phone_to_a_slot_with_audit(store: CrmStore, clock: Clock) -> None:
    seller = await store.save_seller(Seller(name="Carla", extension="1001"))
    ana = (await store.create_customer(person("Ana", business="(51) 3210-1234"))).customer
    change = await store.associate_phone(ana.id, "comercial", "051 3333-4444", seller_id=seller.id)
    assert (change.old_raw, change.new_e164) == ("(51) 3210-1234", "+555133334444")
    assert [m.customer.name for m in (await store.lookup_by_phone("5133334444")).exact] == ["Ana"]
    assert (await store.phone_changes(ana.id))[0].seller_id == seller.id
    # an empty slot needs no audit row, and the number is simply added
    await store.associate_phone(ana.id, PhoneSlot.MOBILE, "51 98765-4321")
    assert len(await store.phone_changes(ana.id)) == 1
    assert {p.slot for p in (await store.get_customer(ana.id)).phones} == {PhoneSlot.BUSINESS, PhoneSlot.MOBILE}


async def test_associate_refuses_unknown_slot_customer_and_number(store: CrmStore) -> None:
    ana = (await store.create_customer(person("Ana"))).customer
    with pytest.raises(InvalidInput, match="unknown phone slot 'fax'; use one of residencial, comercial, celular, recado"):
        await store.associate_phone(ana.id, "fax", "51 98765-4321")
    with pytest.raises(NotFound, match="customer 999 does not exist"):
        await store.associate_phone(999, "celular", "51 98765-4321")
    with pytest.raises(InvalidInput, match="not a phone number"):
        await store.associate_phone(ana.id, "celular", "anonymous")


# ---- contacts, appointments, lifecycle ----

async def test_contact_from_a_call_takes_and_locks_the_ddr_traffic_source(store: CrmStore) -> None:
    jornal = await store.save_traffic_source(TrafficSource(name="Jornal", ddr_raw="(51) 2101-0001"))
    social = await store.save_traffic_source(TrafficSource(name="Redes sociais", ddr_raw="(51) 2101-0002"))
    ana = (await store.create_customer(person("Ana"))).customer
    contact = await store.create_contact(Contact(customer_id=ana.id, outcome="interested", call_id="c1"), ddr="5121010001")
    assert (contact.traffic_source_id, contact.traffic_source_locked) == (jornal.id, True)

    with pytest.raises(LockedField, match="cannot change"):
        await store.update_contact(contact.model_copy(update={"traffic_source_id": social.id}))
    with pytest.raises(LockedField):
        await store.update_contact(contact.model_copy(update={"traffic_source_locked": False, "traffic_source_id": None}))
    with pytest.raises(LockedField, match="cannot be chosen by hand"):
        await store.create_contact(Contact(customer_id=ana.id, outcome="sale", traffic_source_id=social.id), ddr="5121010001")
    updated = await store.update_contact(contact.model_copy(update={"notes": "ligar amanhã", "outcome": "call_back"}))
    assert (await store.get_contact(contact.id)).notes == "ligar amanhã" == updated.notes
    assert (await store.get_contact(contact.id)).traffic_source_id == jornal.id


async def test_contact_opened_from_history_finds_the_ddr_of_the_recorded_call(store: CrmStore) -> None:
    jornal = await store.save_traffic_source(TrafficSource(name="Jornal", ddr_raw="(51) 2101-0001"))
    ana = (await store.create_customer(person("Ana", mobile="51 98765-4321"))).customer
    await store.record_call(call("c9", ddr_raw="2101-0001", ddr_e164="+555121010001"))
    contact = await store.create_contact(Contact(customer_id=ana.id, outcome="interested", call_id="c9"))
    assert contact.traffic_source_locked and contact.traffic_source_id == jornal.id
    row = (await store.call_history("1001")).rows[0]
    assert (row.contact_id, row.customer_name) == (contact.id, "Ana")


async def test_contact_without_ddr_may_choose_and_change_its_source(store: CrmStore) -> None:
    site = await store.save_traffic_source(TrafficSource(name="Site"))
    porta = await store.save_traffic_source(TrafficSource(name="Porta"))
    ana = (await store.create_customer(person("Ana"))).customer
    contact = await store.create_contact(Contact(customer_id=ana.id, outcome="interested", traffic_source_id=site.id))
    assert not contact.traffic_source_locked
    assert (await store.update_contact(contact.model_copy(update={"traffic_source_id": porta.id}))).traffic_source_id == porta.id
    with pytest.raises(InvalidInput, match="only a traffic source taken from a DDR is locked"):
        await store.create_contact(Contact(customer_id=ana.id, outcome="sale", traffic_source_locked=True))
    with pytest.raises(NotFound, match="traffic source 77 does not exist"):
        await store.create_contact(Contact(customer_id=ana.id, outcome="sale", traffic_source_id=77))


async def test_appointment_vehicle_must_be_the_customers(store: CrmStore) -> None:
    ana = (await store.create_customer(person("Ana"))).customer
    bia = (await store.create_customer(person("Bia"))).customer
    car = await store.add_vehicle(Vehicle(customer_id=bia.id, model="HB20", plate="BRA2E19"))
    with pytest.raises(InvalidInput, match=f"vehicle {car.id} does not belong to customer {ana.id}"):
        await store.create_appointment(Appointment(customer_id=ana.id, vehicle_id=car.id, service="Revisão", scheduled_at=T0))
    saved = await store.create_appointment(Appointment(customer_id=bia.id, vehicle_id=car.id, service="Revisão", scheduled_at=T0))
    assert saved.id is not None and saved.created_at == T0


async def test_lifecycle_is_calls_contacts_and_appointments_newest_first(store: CrmStore, clock: Clock) -> None:
    ana = (await store.create_customer(person("Ana", mobile="51 98765-4321"))).customer
    await store.record_call(call("c1", at=T0 + timedelta(hours=1)))
    await store.create_contact(Contact(customer_id=ana.id, outcome="interested", created_at=T0 + timedelta(hours=2)))
    await store.create_appointment(Appointment(customer_id=ana.id, service="Test drive", scheduled_at=T0 + timedelta(days=3)))
    kinds = [e.kind for e in await store.lifecycle(ana.id)]
    assert kinds == [LifecycleKind.APPOINTMENT, LifecycleKind.CONTACT, LifecycleKind.CALL]
    with pytest.raises(NotFound):
        await store.lifecycle(12345)


# ---- call records and history ----

async def test_record_call_is_idempotent_per_call_and_extension(store: CrmStore) -> None:
    first, created = await store.record_call(call("abc", talk_seconds=30))
    again, created_again = await store.record_call(call("abc", talk_seconds=99))
    assert created and not created_again and again == first and again.talk_seconds == 30
    _, other_extension = await store.record_call(call("abc", extension="1002"))
    assert other_extension
    assert len((await store.call_history("1001")).rows) == 1


async def test_record_call_links_the_only_customer_with_the_number(store: CrmStore) -> None:
    ana = (await store.create_customer(person("Ana", mobile="51 98765-4321"))).customer
    recorded, _ = await store.record_call(call("c1"))
    assert recorded.customer_id == ana.id
    await store.create_customer(person("Bia", message="51 98765-4321"))
    shared, _ = await store.record_call(call("c2"))
    assert shared.customer_id is None  # two customers share the number: the agent decides


async def test_history_is_paged_newest_first_with_filters(store: CrmStore) -> None:
    for minute in range(7):
        missed = minute % 3 == 0
        await store.record_call(call(
            f"c{minute}", at=T0 + timedelta(minutes=minute), missed=missed,
            disposition="no_answer" if missed else "answered",
            direction="out" if minute == 5 else "in",
        ))
    await store.record_call(call("elsewhere", extension="1002"))
    first = await store.call_history("1001", limit=3)
    assert [r.call.pbx_call_id for r in first.rows] == ["c6", "c5", "c4"]
    second = await store.call_history("1001", after=first.next_cursor, limit=3)
    assert [r.call.pbx_call_id for r in second.rows] == ["c3", "c2", "c1"]
    last = await store.call_history("1001", after=second.next_cursor, limit=3)
    assert [r.call.pbx_call_id for r in last.rows] == ["c0"] and last.next_cursor is None

    missed = await store.call_history("1001", HistoryFilter(missed_only=True))
    assert [r.call.pbx_call_id for r in missed.rows] == ["c6", "c3", "c0"]
    outbound = await store.call_history("1001", HistoryFilter(direction="out"))
    assert [r.call.pbx_call_id for r in outbound.rows] == ["c5"]
    window = await store.call_history("1001", HistoryFilter(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4)))
    assert [r.call.pbx_call_id for r in window.rows] == ["c3", "c2"]


# ---- setup: sellers, traffic sources, PBX registry, module switch ----

async def test_ddr_belongs_to_one_traffic_source(store: CrmStore) -> None:
    jornal = await store.save_traffic_source(TrafficSource(name="Jornal", ddr_raw="(51) 2101-0001"))
    assert jornal.ddr_e164 == "+555121010001"
    with pytest.raises(Conflict, match=r"DDR \(51\) 2101-0001 is already the DDR of traffic source 'Jornal'"):
        await store.save_traffic_source(TrafficSource(name="Rádio", ddr_raw="051 2101 0001"))
    renamed = await store.save_traffic_source(jornal.model_copy(update={"name": "Jornal do Comércio"}))
    assert (await store.traffic_source_for_ddr("2101-0001")).name == "Jornal do Comércio" == renamed.name
    assert await store.traffic_source_for_ddr("2101-0009") is None
    with pytest.raises(InvalidInput, match="ddr"):
        await store.save_traffic_source(TrafficSource(name="X", ddr_raw="abc"))


async def test_extension_belongs_to_one_seller_and_password_stays_secret(store: CrmStore) -> None:
    carla = await store.save_seller(Seller(name="Carla", extension="1001", extension_password="4321"))
    with pytest.raises(Conflict, match="extension 1001 already belongs to Carla"):
        await store.save_seller(Seller(name="Davi", extension="1001"))
    found = await store.seller_by_extension("1001")
    assert found.id == carla.id and found.extension_password.get_secret_value() == "4321"
    with pytest.raises(NotFound, match="no seller has extension 1999"):
        await store.seller_by_extension("1999")


async def test_at_most_one_active_pbx(store: CrmStore) -> None:
    old = await store.save_pbx(PbxRegistryEntry(name="Antiga", kind="planetfone", address="10.0.0.2", port=3080, active=True))
    new = await store.save_pbx(PbxRegistryEntry(name="Nova", kind="asterisk", address="10.0.0.3", port=5038,
                                                login="crm", secret="s3cret", active=True))
    assert (await store.active_pbx()).id == new.id
    assert [(e.name, e.active) for e in await store.pbx_entries()] == [("Antiga", False), ("Nova", True)]
    assert (await store.active_pbx()).secret.get_secret_value() == "s3cret"
    assert old.id != new.id


async def test_module_switch(store: CrmStore) -> None:
    assert not await store.telephony_enabled()
    await store.set_telephony_enabled(True)
    assert await store.telephony_enabled()
    await store.set_telephony_enabled(False)
    assert not await store.telephony_enabled()


# ---- the database itself ----

async def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(DatabaseUnavailable, match="is unavailable"):
        await open_store(f"sqlite+aiosqlite:///{blocked}/crm.sqlite3")


async def test_bad_url_names_the_setting() -> None:
    with pytest.raises(DatabaseUnavailable, match="database URL 'nosuch://x' is not usable") as info:
        await open_store("nosuch://x")
    assert info.value.field == "database.url"


async def test_errors_never_show_the_password() -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        await open_store("mysql+aiomysql://crm:s3cret@127.0.0.1:1/crm")
    assert "s3cret" not in str(info.value) and "***" in str(info.value)


async def test_reopening_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    first = await open_store(url)
    await first.create_customer(person("Ana", mobile="51 98765-4321"))
    await first.close()
    again = await open_store(url)
    assert [c.name for c in await again.search_customers("ana")] == ["Ana"]
    await again.close()


async def test_record_call_fills_e164_from_raw_numbers(store: CrmStore) -> None:
    recorded, _ = await store.record_call(call("raw1", remote_e164=None, remote_raw="051987654321", ddr_raw="2101-0001"))
    assert (recorded.remote_e164, recorded.ddr_e164) == ("+5551987654321", "+555121010001")
    hidden, _ = await store.record_call(call("raw2", remote_e164=None, remote_raw="anonymous"))
    assert hidden.remote_e164 is None and hidden.remote_raw == "anonymous"


async def test_created_at_is_kept_when_given_and_counts(store: CrmStore) -> None:
    assert set((await store.record_counts()).values()) == {0}
    imported = (await store.create_customer(Customer(name="Ana", created_at=T0 - timedelta(days=400)))).customer
    assert imported.created_at == T0 - timedelta(days=400) == imported.updated_at
    await store.save_seller(Seller(name="Carla", extension="1001"))
    assert await store.record_counts() == {"customers": 1, "sellers": 1, "traffic_sources": 0, "pbx_registry_entries": 0}


async def test_sample_and_shared_numbers(store: CrmStore) -> None:
    for index in range(10):
        await store.create_customer(person(f"C{index}", mobile=f"51 98765-43{index:02}"))
    await store.create_customer(person("Irmã", message="51 98765-4300"))
    sample = await store.sample_phone_numbers(limit=4)
    assert len(sample) == 4 and all(n.startswith("+55519876543") for n in sample)
    assert await store.shared_phone_numbers() == ["+5551987654300"]


async def test_record_calls_in_one_batch_skips_what_is_there_and_repeats_within(store: CrmStore) -> None:
    await store.record_call(call("a"))
    results = await store.record_calls([call("a"), call("b"), call("b"), call("c", extension="1002")])
    assert [(r.pbx_call_id, r.extension, created) for r, created in results] == [
        ("a", "1001", False), ("b", "1001", True), ("b", "1001", False), ("c", "1002", True)]
    assert len({r.id for r, _ in results}) == 3
