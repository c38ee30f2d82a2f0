"""Pilot tests of the customer card, the new-customer and associate-phone forms and the search,
on the real app over the gateway rig (scripted simulator + SQLite CRM)."""

from __future__ import annotations

from datetime import datetime

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label, OptionList, Select, Static, TabbedContent, TextArea

from tests.gateway_fixtures import Rig
from tests.ui.conftest import settle
from tui_caa.domain import Customer, Direction, DomainError, Phone, PhoneChange, PhoneSlot, Vehicle
from tui_caa.domain.documents import cpf_with_check_digits
from tui_caa.domain.lookup import LifecycleKind
from tui_caa.ui.app import CaaApp
from tui_caa.ui.screens import search as search_module
from tui_caa.ui.screens.customer import AppointmentScreen, CustomerScreen, VehicleScreen
from tui_caa.ui.screens.customer_form import AssociatePhoneScreen, NewCustomerScreen
from tui_caa.ui.screens.prompts import ConfirmScreen
from tui_caa.ui.screens.search import CustomerSearch, SearchScreen

VALID_CPF = cpf_with_check_digits("529982247")  # 529.982.247-25


# ---- helpers -----------------------------------------------------------------------------------

async def ana_id(rig: Rig) -> int:
    found = await rig.store.search_customers("Ana Souza")
    assert found and found[0].id is not None
    return found[0].id


async def open_card(app: CaaApp, pilot: Pilot, rig: Rig, customer_id: int, **options: object) -> CustomerScreen:
    app.open_customer(customer_id, **options)  # type: ignore[arg-type]
    await settle(rig, pilot)
    assert isinstance(app.screen, CustomerScreen)
    return app.screen


async def type_into(pilot: Pilot, widget: Input, text: str) -> None:
    """Focus the field, clear it and paste the text (as fast as typing it, key by key, is slow)."""
    widget.focus()
    widget.value = ""
    widget.insert_text_at_cursor(text)
    await pilot.pause()


async def pick(pilot: Pilot, select: Select, label: str) -> None:
    """Choose an option of a Select with the keyboard: open it, go down until the option, Enter."""
    select.focus()
    await pilot.press("enter")  # opens the list, on the current option
    await pilot.pause()
    for _ in range(len(select._options)):  # noqa: SLF001
        await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
        if _label_of(select) == label:
            return
        await pilot.press("enter")  # open again and go one further
        for _ in range(_index_of(select)):
            await pilot.press("down")
    raise AssertionError(f"option {label!r} not found")


def _index_of(select: Select) -> int:
    return next(i for i, (_, value) in enumerate(select._options) if value == select.value)  # noqa: SLF001


def _label_of(select: Select) -> str:
    """What the closed Select shows."""
    for text, value in select._options:  # noqa: SLF001
        if value == select.value and value is not Select.NULL:
            return str(text)
    return ""


def text_of(widget: Label | Static) -> str:
    return str(widget.render())


def notifications(app: CaaApp) -> list[str]:
    return [n.message for n in app._notifications]  # noqa: SLF001


def problem(screen: object, field: str) -> str:
    label = screen.query_one(f"#{field}-problem", Label)  # type: ignore[attr-defined]
    return text_of(label) if label.has_class("-shown") else ""


def cells(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(row)] for row in range(table.row_count)]


async def wait_until(pilot: Pilot, condition: object, tries: int = 100) -> None:
    """Polls a condition while the app runs (the search debounce uses a real timer)."""
    for _ in range(tries):
        if condition():  # type: ignore[operator]
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never became true")


# ---- the card ----------------------------------------------------------------------------------

async def test_card_shows_the_customer_with_actionable_phones(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        screen = await open_card(app, pilot, rig, await ana_id(rig))
        header = text_of(screen.query_one("#customer-header", Static))
        assert "Ana Souza" in header
        assert "☎ Celular (51) 98765-4321" in header
        tabs = screen.query_one(TabbedContent)
        assert [pane.id for pane in tabs.query("TabPane")] == ["data", "vehicles", "lifecycle", "register"]
        assert tabs.active == "data"
        assert screen.query_one("#name", Input).value == "Ana Souza"
        mobile = screen.query_one("#phone-celular", Input)
        assert mobile.value == "(51) 98765-4321"
        assert mobile.has_class("phone-link")
        assert not screen.query_one("#dial-celular").has_class("-empty")
        assert screen.query_one("#dial-residencial").has_class("-empty")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CustomerScreen)


async def test_edit_and_save_in_place(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    customer_id = await ana_id(rig)
    async with console() as (app, pilot):
        screen = await open_card(app, pilot, rig, customer_id)
        await type_into(pilot, screen.query_one("#document", Input), "529.982.247-25")
        await type_into(pilot, screen.query_one("#email", Input), "Ana@Example.com")
        await type_into(pilot, screen.query_one("#birth_date", Input), "25/12/1980")
        await type_into(pilot, screen.query_one("#city", Input), "Porto Alegre")
        await type_into(pilot, screen.query_one("#state", Input), "rs")
        await type_into(pilot, screen.query_one("#phone-comercial", Input), "(51) 3333-4444")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        stored = await rig.store.get_customer(customer_id)
        assert stored.document == VALID_CPF
        assert stored.email == "ana@example.com"
        assert stored.city == "Porto Alegre" and stored.state == "RS"
        assert stored.birth_date is not None and stored.birth_date.isoformat() == "1980-12-25"
        assert stored.phone(PhoneSlot.BUSINESS).e164 == "+555133334444"  # type: ignore[union-attr]
        assert stored.phone(PhoneSlot.MOBILE).e164 == "+5551987654321"  # type: ignore[union-attr]
        header = text_of(screen.query_one("#customer-header", Static))
        assert "CPF 529.982.247-25" in header and "Porto Alegre/RS" in header
        assert "☎ Comercial (51) 3333-4444" in header
        assert screen.query_one("#document", Input).value == "529.982.247-25"
        assert "Dados de Ana Souza salvos" in notifications(app)
        # re-saving what is shown changes no phone: no audit rows for a mere re-display
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert await rig.store.phone_changes(customer_id) == []


async def test_bad_fields_are_named_and_nothing_typed_is_lost(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    customer_id = await ana_id(rig)
    async with console() as (app, pilot):
        screen = await open_card(app, pilot, rig, customer_id)
        await type_into(pilot, screen.query_one("#document", Input), "529.982.247-26")
        await type_into(pilot, screen.query_one("#email", Input), "ana.example.com")
        await type_into(pilot, screen.query_one("#city", Input), "Canoas")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert "dígitos verificadores errados" in problem(screen, "document")
        assert "'ana.example.com' não é um e-mail" in problem(screen, "email")
        assert screen.query_one("#document", Input).value == "529.982.247-26"
        assert screen.query_one("#email", Input).value == "ana.example.com"
        assert screen.query_one("#city", Input).value == "Canoas"
        assert screen.query_one("#document", Input).has_class("-invalid")
        assert (await rig.store.get_customer(customer_id)).city is None  # nothing saved

        # the CPF and e-mail fixed, a phone the CRM refuses: named under that phone
        await type_into(pilot, screen.query_one("#document", Input), VALID_CPF)
        await type_into(pilot, screen.query_one("#email", Input), "ana@example.com")
        await type_into(pilot, screen.query_one("#phone-recado", Input), "(51) 1234")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert problem(screen, "document") == "" and problem(screen, "email") == ""
        assert "'(51) 1234' não é um telefone válido" in problem(screen, "phone-recado")
        assert screen.query_one("#phone-recado", Input).value == "(51) 1234"
        assert screen.query_one("#city", Input).value == "Canoas"
        assert (await rig.store.get_customer(customer_id)).city is None

        # fixed: saved, problems gone
        await type_into(pilot, screen.query_one("#phone-recado", Input), "(51) 99999-1111")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert problem(screen, "phone-recado") == ""
        stored = await rig.store.get_customer(customer_id)
        assert stored.city == "Canoas"
        assert stored.phone(PhoneSlot.MESSAGE).e164 == "+5551999991111"  # type: ignore[union-attr]


async def test_blank_name_is_refused_next_to_the_field(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        screen = await open_card(app, pilot, rig, await ana_id(rig))
        screen.query_one("#name", Input).value = ""
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert "Informe o nome" in problem(screen, "name")
        assert app.focused is screen.query_one("#name", Input)


async def test_click_to_call_a_customer_phone(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        await open_card(app, pilot, rig, await ana_id(rig))
        await pilot.click("#dial-celular")
        await settle(rig, pilot)
        calls = rig.gateway.state.calls_of("1001")
        assert len(calls) == 1
        assert calls[0].direction is Direction.OUTBOUND
        assert (calls[0].number or "").endswith("987654321")
        assert any("(51) 98765-4321" in m or "+5551987654321" in m for m in notifications(app))


async def test_dial_keys_and_enter_on_a_phone(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        screen = await open_card(app, pilot, rig, await ana_id(rig))
        await pilot.press("ctrl+1")  # residencial is empty: said, nothing dialled
        await settle(rig, pilot)
        assert "O campo Residencial está vazio: não há o que discar" in notifications(app)
        assert rig.gateway.state.calls_of("1001") == []
        screen.query_one("#phone-celular", Input).focus()
        await pilot.press("enter")
        await settle(rig, pilot)
        assert len(rig.gateway.state.calls_of("1001")) == 1


async def test_dial_key_from_another_tab(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        await open_card(app, pilot, rig, await ana_id(rig), tab="lifecycle")
        await pilot.press("ctrl+3")
        await settle(rig, pilot)
        assert len(rig.gateway.state.calls_of("1001")) == 1


# ---- vehicles, appointments, lifecycle ---------------------------------------------------------

async def test_add_vehicle_schedule_and_lifecycle(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    customer_id = await ana_id(rig)
    async with console() as (app, pilot):
        screen = await open_card(app, pilot, rig, customer_id, tab="vehicles")
        assert text_of(screen.query_one("#vehicles-empty", Label)).startswith("Nenhum veículo")
        await pilot.press("ctrl+n")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, VehicleScreen)
        await type_into(pilot, dialog.query_one("#plate", Input), "abc1d2")
        await type_into(pilot, dialog.query_one("#model", Input), "Onix LT")
        await type_into(pilot, dialog.query_one("#year", Input), "2022")
        await type_into(pilot, dialog.query_one("#vin", Input), "9BGKS48U0KG123456")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert app.screen is dialog
        assert "Placa 'abc1d2' inválida" in problem(dialog, "plate")
        assert dialog.query_one("#model", Input).value == "Onix LT"
        await type_into(pilot, dialog.query_one("#plate", Input), "abc1d23")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert app.screen is screen
        table = screen.query_one("#vehicle-table", DataTable)
        assert cells(table) == [["Onix LT", "ABC1D23", "2022", "9BGKS48U0KG123456"]]
        stored = await rig.store.vehicles_of(customer_id)
        assert [(v.plate, v.model, v.year) for v in stored] == [("ABC1D23", "Onix LT", 2022)]

        # an old-format plate is shown with its dash
        await rig.store.add_vehicle(Vehicle(customer_id=customer_id, plate="IJK-4321", model="Gol"))
        await pilot.press("ctrl+r")
        await settle(rig, pilot)
        assert ["Gol", "IJK-4321", "", ""] in cells(table)
        table.move_cursor(row=0)  # the Onix

        await pilot.press("ctrl+b")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, AppointmentScreen)
        assert dialog.query_one("#appointment-vehicle", Select).value == stored[0].id
        await type_into(pilot, dialog.query_one("#when", Input), "31/11/2026 14:30")
        await type_into(pilot, dialog.query_one("#service", Input), "Revisão 10.000 km")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert "use dd/mm/aaaa hh:mm" in problem(dialog, "when")
        assert dialog.query_one("#service", Input).value == "Revisão 10.000 km"
        await type_into(pilot, dialog.query_one("#when", Input), "05/11/2026 14:30")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert app.screen is screen
        entries = await rig.store.lifecycle(customer_id)
        appointment = next(e.appointment for e in entries if e.kind is LifecycleKind.APPOINTMENT)
        assert appointment is not None
        assert appointment.vehicle_id == stored[0].id
        assert appointment.scheduled_at == datetime(2026, 11, 5, 14, 30).astimezone()
        assert any(m.startswith(f"Agendamento nº {appointment.id} para 05/11/2026 14:30") for m in notifications(app))

        await pilot.press("alt+3")
        await settle(rig, pilot)
        assert screen.query_one(TabbedContent).active == "lifecycle"
        rows = cells(screen.query_one("#lifecycle-table", DataTable))
        assert rows[0][0] == "05/11/2026 14:30"
        assert "Agendamento" in rows[0][1]
        assert "Revisão 10.000 km" in rows[0][2] and "Onix LT ABC1D23" in rows[0][2]


async def test_lifecycle_lists_calls_contacts_and_appointments_newest_first(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    customer_id = await ana_id(rig)
    async with console() as (app, pilot):
        call_id = await rig.ring("1001", "051987654321", ddr="5121010001")
        await rig.sessions["1001"].answer(call_id)
        await rig.settle(65)
        await rig.sim.remote_hangup(call_id)
        await rig.recorded()
        await settle(rig, pilot)
        from tui_caa.domain import Appointment, Contact, ContactOutcome

        await rig.store.create_contact(Contact(customer_id=customer_id, outcome=ContactOutcome.CALL_BACK,
                                               notes="Ligar de novo\nsegunda linha"))
        await rig.store.create_appointment(Appointment(customer_id=customer_id, service="Alinhamento",
                                                       scheduled_at=datetime(2030, 1, 2, 9, 0).astimezone()))
        screen = await open_card(app, pilot, rig, customer_id, tab="lifecycle")
        rows = cells(screen.query_one("#lifecycle-table", DataTable))
        kinds = [row[1] for row in rows]
        assert "Agendamento" in kinds[0]
        assert any("Contato" in k for k in kinds)
        contact_row = next(row for row in rows if "Contato" in row[1])
        assert "Retornar" in contact_row[2] and "Ligar de novo" in contact_row[2]
        assert "segunda linha" not in contact_row[2]
        call_rows = [row for row in rows if "Ligação" in row[1]]
        assert call_rows and "(51) 98765-4321" in call_rows[0][2]


# ---- "Registrar" -------------------------------------------------------------------------------

async def test_register_contact_from_a_ringing_ddr_call(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    customer_id = await ana_id(rig)
    jornal = next(s for s in await rig.store.traffic_sources() if s.name == "Jornal")
    async with console() as (app, pilot):
        call_id = await rig.ring("1001", "051987654321", ddr="5121010001")
        await settle(rig, pilot)
        screen = await open_card(app, pilot, rig, customer_id, call_id=call_id, tab="register")
        assert screen.query_one(TabbedContent).active == "register"
        source = screen.query_one("#traffic-source", Select)
        assert source.value == jornal.id
        assert source.disabled
        note = text_of(screen.query_one("#source-note", Label))
        assert note == "Origem definida pelo DDR (51) 2101-0001 — não pode ser alterada"
        assert "(51) 98765-4321" in text_of(screen.query_one("#register-call", Label))

        await pilot.press("ctrl+s")  # no outcome yet
        await settle(rig, pilot)
        assert "Escolha o resultado" in problem(screen, "outcome")

        await pick(pilot, screen.query_one("#outcome", Select), "Interessado")
        screen.query_one("#contact-notes", TextArea).focus()
        await pilot.press(*"Quer test drive")
        await type_into(pilot, screen.query_one("#next-contact", Input), "10/11/2026")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        contact_id = max(e.contact.id for e in await rig.store.lifecycle(customer_id)
                         if e.contact is not None and e.contact.id is not None)
        stored = await rig.store.get_contact(contact_id)
        assert stored.traffic_source_id == jornal.id and stored.traffic_source_locked
        assert stored.call_id == call_id
        assert stored.outcome.value == "interested" and stored.notes == "Quer test drive"
        assert stored.next_contact_at == datetime(2026, 11, 10, 9, 0).astimezone()
        assert f"Contato nº {contact_id} registrado" in notifications(app)
        # the form is ready for the next one; the lifecycle has it
        assert screen.query_one("#outcome", Select).value is Select.NULL
        assert screen.query_one("#contact-notes", TextArea).text == ""
        rows = cells(screen.query_one("#lifecycle-table", DataTable))
        assert any(f"Contato nº {contact_id}" in row[2] and "Jornal (DDR)" in row[2] for row in rows)


async def test_register_contact_without_a_call_lets_the_agent_pick_the_source(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    customer_id = await ana_id(rig)
    jornal = next(s for s in await rig.store.traffic_sources() if s.name == "Jornal")
    async with console() as (app, pilot):
        screen = await open_card(app, pilot, rig, customer_id, tab="register")
        source = screen.query_one("#traffic-source", Select)
        assert not source.disabled
        assert not screen.query_one("#source-note", Label).display
        await pick(pilot, screen.query_one("#outcome", Select), "Interessado")
        await pick(pilot, source, "Jornal")
        await type_into(pilot, screen.query_one("#next-contact", Input), "amanhã")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert "Data inválida" in problem(screen, "next-contact")
        assert screen.query_one("#next-contact", Input).value == "amanhã"
        screen.query_one("#next-contact", Input).value = ""
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        contacts = [e.contact for e in await rig.store.lifecycle(customer_id) if e.contact is not None]
        assert len(contacts) == 1
        assert contacts[0].traffic_source_id == jornal.id and not contacts[0].traffic_source_locked


async def test_contact_opened_from_history_shows_the_locked_source(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    """A call that already ended: the DDR comes from the recorded call."""
    customer_id = await ana_id(rig)
    async with console() as (app, pilot):
        call_id = await rig.ring("1001", "051987654321", ddr="5121010001")
        await rig.sim.remote_hangup(call_id)
        await rig.recorded()
        await settle(rig, pilot)
        assert not any(c.call_id == call_id for c in app.model.calls.values())
        screen = await open_card(app, pilot, rig, customer_id, call_id=call_id, tab="register")
        assert screen.query_one("#traffic-source", Select).disabled
        assert "(51) 2101-0001" in text_of(screen.query_one("#source-note", Label))


# ---- "Incluir novo cliente" --------------------------------------------------------------------

async def test_new_customer_from_a_mobile_number(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    results: list[Customer | None] = []
    async with console() as (app, pilot):
        app.push_screen(NewCustomerScreen("051987650000", call_id="x"), results.append)
        await settle(rig, pilot)
        dialog = app.screen
        assert isinstance(dialog, NewCustomerScreen)
        assert dialog.query_one("#phone-slot", Select).value == PhoneSlot.MOBILE
        assert dialog.query_one("#phone", Input).value == "(51) 98765-0000"
        assert app.focused is dialog.query_one("#name", Input)

        await pilot.press("ctrl+s")  # no name
        await settle(rig, pilot)
        assert "Informe o nome" in problem(dialog, "name")
        await type_into(pilot, dialog.query_one("#name", Input), "Carlos Pereira")
        await type_into(pilot, dialog.query_one("#email", Input), "carlos@")
        await type_into(pilot, dialog.query_one("#document", Input), "123")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert "não é um e-mail" in problem(dialog, "email")
        assert "'123' tem 3 dígitos" in problem(dialog, "document")
        assert problem(dialog, "name") == ""
        assert dialog.query_one("#name", Input).value == "Carlos Pereira"
        await type_into(pilot, dialog.query_one("#email", Input), "carlos@example.com")
        await type_into(pilot, dialog.query_one("#document", Input), VALID_CPF)
        await type_into(pilot, dialog.query_one("#city", Input), "Canoas")
        await type_into(pilot, dialog.query_one("#state", Input), "RS")
        # the agent moves the number to "Recado"
        await pick(pilot, dialog.query_one("#phone-slot", Select), "Recado")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert len(results) == 1 and results[0] is not None
        saved = await rig.store.get_customer(results[0].id)  # type: ignore[arg-type]
        assert saved.name == "Carlos Pereira" and saved.document == VALID_CPF and saved.city == "Canoas"
        assert saved.phone(PhoneSlot.MESSAGE).e164 == "+5551987650000"  # type: ignore[union-attr]
        assert saved.phone(PhoneSlot.MOBILE) is None
        assert any("Carlos Pereira incluído" in m for m in notifications(app))


async def test_new_customer_from_a_fixed_line_and_duplicate_warning(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    results: list[Customer | None] = []
    async with console() as (app, pilot):
        app.push_screen(NewCustomerScreen("05133334444"), results.append)
        await settle(rig, pilot)
        assert app.screen.query_one("#phone-slot", Select).value == PhoneSlot.RESIDENTIAL
        app.pop_screen()
        await pilot.pause()
        # Ana's number: saved, with a warning naming her
        app.push_screen(NewCustomerScreen("051987654321"), results.append)
        await settle(rig, pilot)
        dialog = app.screen
        await type_into(pilot, dialog.query_one("#name", Input), "Pedro Souza")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert results and results[-1] is not None and results[-1].name == "Pedro Souza"
        assert any("Ana Souza" in m and "também tem o telefone (51) 98765-4321" in m for m in notifications(app))


async def test_new_customer_phone_refused_by_the_crm_is_named(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    results: list[Customer | None] = []
    async with console() as (app, pilot):
        app.push_screen(NewCustomerScreen("1234"), results.append)
        await settle(rig, pilot)
        dialog = app.screen
        await type_into(pilot, dialog.query_one("#name", Input), "Maria")
        await pilot.press("ctrl+s")
        await settle(rig, pilot)
        assert app.screen is dialog and not results
        assert "'1234' não é um telefone válido" in problem(dialog, "phone")
        assert dialog.query_one("#name", Input).value == "Maria"
        await pilot.press("escape")
        await pilot.pause()
        assert results == [None]


# ---- "Associar a cliente existente" -----------------------------------------------------------

async def test_associate_phone_overwrites_the_chosen_slot_after_confirming(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    bruno = (await rig.store.create_customer(Customer(
        name="Bruno Lima", phones=(Phone(slot=PhoneSlot.MOBILE, raw="(51) 99999-1111"),
                                   Phone(slot=PhoneSlot.RESIDENTIAL, raw="(51) 3222-1111"))))).customer
    results: list[PhoneChange | None] = []
    async with console() as (app, pilot):
        app.push_screen(AssociatePhoneScreen("051987654321"), results.append)
        await settle(rig, pilot)
        dialog = app.screen
        assert isinstance(dialog, AssociatePhoneScreen)
        assert not dialog.query_one("#slots", OptionList).display
        await pilot.press(*"bruno")
        await pilot.press("enter")
        await settle(rig, pilot)
        table = dialog.query_one("#search-results", DataTable)
        assert cells(table)[0][0] == "Bruno Lima"
        await pilot.press("enter")  # picks Bruno
        await settle(rig, pilot)
        slots = dialog.query_one("#slots", OptionList)
        assert slots.display
        shown = [str(slots.get_option_at_index(i).prompt) for i in range(slots.option_count)]
        assert shown == ["Residencial: (51) 3222-1111", "Comercial: (vazio)", "Celular: (51) 99999-1111",
                         "Recado: (vazio)"]
        await pilot.press("down", "down", "enter")  # Celular
        await settle(rig, pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        message = " ".join(text_of(label) for label in confirm.query(Label))
        assert "O Celular (51) 99999-1111 será substituído por (51) 98765-4321" in message
        await pilot.press("enter")  # "Confirmar" has the focus
        await settle(rig, pilot)
        assert len(results) == 1 and isinstance(results[0], PhoneChange)
        assert results[0].old_e164 == "+5551999991111" and results[0].new_e164 == "+5551987654321"
        stored = await rig.store.get_customer(bruno.id)  # type: ignore[arg-type]
        assert stored.phone(PhoneSlot.MOBILE).e164 == "+5551987654321"  # type: ignore[union-attr]
        assert stored.phone(PhoneSlot.RESIDENTIAL).e164 == "+555132221111"  # type: ignore[union-attr]
        changes = await rig.store.phone_changes(bruno.id)  # type: ignore[arg-type]
        assert [(c.slot, c.old_e164, c.new_e164) for c in changes] == [
            (PhoneSlot.MOBILE, "+5551999991111", "+5551987654321")]


async def test_associate_phone_to_an_empty_slot_and_going_back(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    customer_id = await ana_id(rig)
    results: list[PhoneChange | None] = []
    async with console() as (app, pilot):
        app.push_screen(AssociatePhoneScreen("05133334444"), results.append)
        await settle(rig, pilot)
        dialog = app.screen
        await pilot.press(*"souza", "enter")
        await settle(rig, pilot)
        await pilot.press("enter")
        await settle(rig, pilot)
        await pilot.click("#back")
        await pilot.pause()
        assert not dialog.query_one("#slots", OptionList).display
        assert app.focused is dialog.query_one("#search-query", Input)
        await pilot.press("enter")  # same query: straight to the list
        await pilot.press("enter")
        await settle(rig, pilot)
        await pilot.press("down", "enter")  # Comercial, empty
        await settle(rig, pilot)
        message = " ".join(text_of(label) for label in app.screen.query(Label))
        assert "O número (51) 3333-4444 será gravado no Comercial de Ana Souza" in message
        await pilot.press("enter")
        await settle(rig, pilot)
        assert results and results[0] is not None and results[0].old_raw is None
        stored = await rig.store.get_customer(customer_id)
        assert stored.phone(PhoneSlot.BUSINESS).e164 == "+555133334444"  # type: ignore[union-attr]
        assert await rig.store.phone_changes(customer_id) == []  # nothing was overwritten


# ---- "Buscar cliente" --------------------------------------------------------------------------

async def test_search_by_name_cpf_plate_and_phone(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    joao = (await rig.store.create_customer(Customer(name="João da Conceição", document=VALID_CPF, city="Canoas",
                                                     state="RS"))).customer
    await rig.store.add_vehicle(Vehicle(customer_id=joao.id, plate="ABC1D23", model="Onix"))
    async with console() as (app, pilot):
        app.action_find_customer()
        await settle(rig, pilot)
        dialog = app.screen
        assert isinstance(dialog, SearchScreen)
        table = dialog.query_one("#search-results", DataTable)
        query = dialog.query_one("#search-query", Input)

        async def search(text: str) -> list[list[str]]:
            await type_into(pilot, query, text)
            await pilot.press("enter")
            await settle(rig, pilot)
            return cells(table)

        assert [row[0] for row in await search("joao conceicao")] == []  # words must start the name
        assert [row[0] for row in await search("conceição")] == ["João da Conceição"]
        rows = await search("529.982.247-25")
        assert rows == [["João da Conceição", "529.982.247-25", "", "Canoas/RS"]]
        assert [row[0] for row in await search("abc-1d23")] == ["João da Conceição"]
        rows = await search("(51) 98765-4321")
        assert rows == [["Ana Souza", "", "Cel (51) 98765-4321", ""]]
        assert app.focused is table
        problem_label = dialog.query_one("#search-problem", Label)
        assert not problem_label.display

        await search("(51) 1234-567")
        assert problem_label.display
        assert "'(51) 1234-567' parece um telefone, mas não é válido" in text_of(problem_label)
        assert cells(table) == []

        await search("souza")
        await pilot.press("enter")  # Enter on the list picks: the card opens
        await settle(rig, pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert app.screen.customer is not None and app.screen.customer.name == "Ana Souza"


async def test_search_runs_as_you_type(rig: Rig, console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search_module, "DEBOUNCE_SECONDS", 0.05)
    picked: list[Customer | None] = []
    async with console() as (app, pilot):
        app.push_screen(SearchScreen("ana"), picked.append)
        await settle(rig, pilot)
        dialog = app.screen
        table = dialog.query_one("#search-results", DataTable)
        assert [row[0] for row in cells(table)] == ["Ana Souza"]  # the initial query ran at once
        query = dialog.query_one("#search-query", Input)
        await type_into(pilot, query, "zzz")
        await wait_until(pilot, lambda: "Nenhum cliente encontrado para 'zzz'" in text_of(
            dialog.query_one("#search-status", Label)))
        assert cells(table) == []
        await pilot.press("backspace", "backspace", "backspace", *"sou")
        await wait_until(pilot, lambda: table.row_count == 1)
        await pilot.press("down", "enter")  # ↓ goes to the list, Enter picks
        await settle(rig, pilot)
        assert picked and picked[0] is not None and picked[0].name == "Ana Souza"


async def test_search_escape_cancels(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    picked: list[Customer | None] = []
    async with console() as (app, pilot):
        app.push_screen(SearchScreen(), picked.append)
        await settle(rig, pilot)
        assert isinstance(app.screen.query_one(CustomerSearch), CustomerSearch)
        await pilot.press("escape")
        await pilot.pause()
        assert picked == [None]


async def test_english_labels(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    from tui_caa.ui import i18n

    i18n.set_language("en")
    try:
        async with console() as (app, pilot):
            screen = await open_card(app, pilot, rig, await ana_id(rig))
            labels = [str(tab.label) for tab in screen.query("Tab")]
            assert labels[:4] == ["Details", "Vehicles", "Lifecycle", "Register"]
            assert "☎ Mobile (51) 98765-4321" in text_of(screen.query_one("#customer-header", Static))
    finally:
        i18n.set_language("pt_BR")


async def test_unknown_customer_is_a_readable_notification(rig: Rig, console) -> None:  # type: ignore[no-untyped-def]
    async with console() as (app, pilot):
        app.open_customer(999)
        await settle(rig, pilot)
        assert not isinstance(app.screen, CustomerScreen)
        assert any("Cliente nº 999 não encontrado" in m for m in notifications(app))


def test_domain_error_field_is_known() -> None:
    """The forms rely on the store naming phone fields "phone '<slot>'"."""
    error = DomainError("x", field="phone 'celular'")
    from tui_caa.ui.screens.customer_form import domain_problem

    assert domain_problem(error)[0] == "phone-celular"
