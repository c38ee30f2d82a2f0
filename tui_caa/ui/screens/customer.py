"""The customer card: header, and the tabs "Dados" (edit in place, phones that dial), "Veículos"
(vehicles, "Agendar", "Incluir veículo"), "Ciclo de vida" (calls, contacts, appointments, newest
first) and "Registrar" (a new contact; opened from a call, its traffic source is the DDR's, locked).

Everything reaches the CRM through `app.session`, in workers; a refusal is shown next to the field
it names (or as a notification), and nothing typed is lost."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, Select, Static, TabbedContent, TabPane, TextArea

from tui_caa.domain import (
    Appointment,
    Contact,
    ContactOutcome,
    Customer,
    CustomerSaved,
    DomainError,
    LifecycleEntry,
    LifecycleKind,
    LockedField,
    NotFound,
    PhoneSlot,
    TrafficSource,
    Vehicle,
    format_document,
    format_plate,
    parse_document,
)
from tui_caa.phones import InvalidPhoneNumber, display, display_raw, normalize
from tui_caa.ui import labels
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.screens.customer_form import (
    FormRow,
    build_customer,
    domain_problem,
    format_local,
    notify_warnings,
    parse_local_datetime,
    show_problems,
)
from tui_caa.ui.screens.customer_form import T as FORM

T = Catalog({
    # header and tabs
    "tab_data": ("Dados", "Details"),
    "tab_vehicles": ("Veículos", "Vehicles"),
    "tab_lifecycle": ("Ciclo de vida", "Lifecycle"),
    "tab_register": ("Registrar", "Register"),
    "loading": ("Carregando cliente nº {id}…", "Loading customer #{id}…"),
    "customer_no": ("cliente nº {id}", "customer #{id}"),
    "no_document": ("sem CPF/CNPJ", "no CPF/CNPJ"),
    "no_city": ("cidade não informada", "city not given"),
    "no_phones": ("nenhum telefone cadastrado", "no phone on file"),
    "phones_hint": ("Telefones: clique no tipo, Enter no número ou ctrl+1…4 para ligar",
                    "Phones: click the kind, Enter on the number or ctrl+1…4 to call"),
    "gone": ("Cliente nº {id} não encontrado", "Customer #{id} not found"),
    "unreadable": ("Não foi possível abrir o cliente nº {id}: {problem}", "Could not open customer #{id}: {problem}"),
    "locked": ("A origem de tráfego vem do DDR da ligação e não pode ser escolhida à mão.",
               "The traffic source comes from the call's DDR and cannot be chosen by hand."),
    # bindings
    "close": ("Fechar", "Close"),
    "save": ("Salvar", "Save"),
    "register": ("Registrar contato", "Register contact"),
    "schedule": ("Agendar", "Schedule"),
    "add_vehicle": ("Incluir veículo", "Add vehicle"),
    "reload": ("Recarregar", "Reload"),
    "call": ("☎ {slot}", "☎ {slot}"),
    # data
    "saved": ("Dados de {name} salvos", "{name}'s details saved"),
    "no_phone": ("O campo {slot} está vazio: não há o que discar", "The {slot} field is empty: nothing to dial"),
    "birth_placeholder": ("dd/mm/aaaa", "dd/mm/yyyy"),
    # vehicles
    "model": ("Modelo", "Model"),
    "plate": ("Placa", "Plate"),
    "year": ("Ano", "Year"),
    "vin": ("Chassi", "VIN"),
    "no_vehicles": ("Nenhum veículo cadastrado: ctrl+n inclui um.", "No vehicle on file: ctrl+n adds one."),
    "vehicle_added": ("Veículo {model} incluído", "Vehicle {model} added"),
    "vehicle_title": ("Incluir veículo de {name}", "Add a vehicle of {name}"),
    "m_plate": ("Placa '{value}' inválida: use ABC-1234 ou Mercosul ABC1D23.",
                "Plate '{value}' is invalid: use ABC-1234 or Mercosul ABC1D23."),
    "m_model": ("Informe o modelo do veículo.", "Type the vehicle's model."),
    "m_year": ("Ano inválido: 4 dígitos, entre 1950 e 2100.", "Invalid year: 4 digits, between 1950 and 2100."),
    "m_vin": ("Chassi '{value}' inválido: 17 letras e dígitos, sem I, O ou Q.",
              "VIN '{value}' is invalid: 17 letters and digits, without I, O or Q."),
    # appointment
    "appointment_title": ("Agendar serviço para {name}", "Schedule a service for {name}"),
    "vehicle": ("Veículo", "Vehicle"),
    "no_vehicle": ("Sem veículo", "No vehicle"),
    "when": ("Data e hora", "Date and time"),
    "when_placeholder": ("dd/mm/aaaa hh:mm", "dd/mm/yyyy hh:mm"),
    "service": ("Serviço", "Service"),
    "service_placeholder": ("ex.: revisão dos 10.000 km", "e.g. 10,000 km service"),
    "notes": ("Observações", "Notes"),
    "m_when": ("Data e hora inválidas: use dd/mm/aaaa hh:mm, ex.: 05/11/2026 14:30.",
               "Invalid date and time: use dd/mm/yyyy hh:mm, e.g. 05/11/2026 14:30."),
    "m_service": ("Informe o serviço (até 120 letras).", "Type the service (up to 120 characters)."),
    "m_notes": ("Texto longo demais (até 4000 letras).", "Text too long (up to 4000 characters)."),
    "appointment_saved": ("Agendamento nº {id} para {when}", "Appointment #{id} on {when}"),
    # lifecycle
    "date": ("Data", "Date"),
    "kind": ("Tipo", "Kind"),
    "summary": ("Resumo", "Summary"),
    "k_call": ("☎ Ligação", "☎ Call"),
    "k_contact": ("✎ Contato", "✎ Contact"),
    "k_appointment": ("◷ Agendamento", "◷ Appointment"),
    "missed": ("não atendida", "missed"),
    "contact_no": ("Contato nº {id}", "Contact #{id}"),
    "with_contact": ("contato nº {id}", "contact #{id}"),
    "next_contact": ("retornar em {when}", "call back on {when}"),
    "appointment_no": ("Agendamento nº {id}", "Appointment #{id}"),
    "source_locked_short": ("origem {name} (DDR)", "source {name} (DDR)"),
    "source_short": ("origem {name}", "source {name}"),
    "no_history": ("Nada no ciclo de vida ainda.", "Nothing in the lifecycle yet."),
    "withheld": ("número não identificado", "withheld number"),
    # register
    "outcome": ("Resultado", "Outcome"),
    "outcome_prompt": ("Escolha o resultado", "Pick the outcome"),
    "next": ("Próximo contato", "Next contact"),
    "next_placeholder": ("dd/mm/aaaa hh:mm (opcional)", "dd/mm/yyyy hh:mm (optional)"),
    "source": ("Origem de tráfego", "Traffic source"),
    "source_prompt": ("Sem origem", "No source"),
    "source_locked": ("Origem definida pelo DDR {ddr} — não pode ser alterada",
                      "Source set by the DDR {ddr} — cannot be changed"),
    "from_call": ("Contato da ligação {number}", "Contact of the call {number}"),
    "m_outcome": ("Escolha o resultado do contato.", "Pick the outcome of the contact."),
    "m_next": ("Data inválida: use dd/mm/aaaa hh:mm (a hora é opcional).",
               "Invalid date: use dd/mm/yyyy hh:mm (the time is optional)."),
    "contact_saved": ("Contato nº {id} registrado", "Contact #{id} registered"),
    "error_title": ("Não foi possível", "Could not do it"),
    "fix_fields": ("Corrija os campos marcados; nada do que foi digitado se perdeu.",
                   "Fix the marked fields; nothing you typed was lost."),
    "cancel": ("Cancelar", "Cancel"),
})

TABS = ("data", "vehicles", "lifecycle", "register")
SLOT_KEYS = {PhoneSlot.RESIDENTIAL: "ctrl+1", PhoneSlot.BUSINESS: "ctrl+2", PhoneSlot.MOBILE: "ctrl+3",
             PhoneSlot.MESSAGE: "ctrl+4"}
DATA_FIELDS = ("name", "document", "email", "birth_date", "city", "state", "notes",
               *(f"phone-{slot.value}" for slot in PhoneSlot), "phones")
REGISTER_FIELDS = ("outcome", "contact-notes", "next-contact", "traffic-source")
NEXT_CONTACT_DEFAULT_TIME = "09:00"


def _session(widget: Any) -> Any:
    return widget.app.session


def phone_text(e164: str | None, raw: str) -> str:
    return display(e164) if e164 else raw


def vehicle_text(vehicle: Vehicle) -> str:
    plate = format_plate(vehicle.plate) if vehicle.plate else ""
    return " ".join(part for part in (vehicle.model, plate, str(vehicle.year or "")) if part)


def _problems_of(exc: ValidationError, fields: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """pydantic's errors of a record → {widget id: sentence}; `fields` maps record field → widget id
    and the catalog key is `m_<record field>`."""
    problems: dict[str, str] = {}
    for item in exc.errors():
        loc = item.get("loc", ())
        name = str(loc[0]) if loc else ""
        widget = fields.get(name)
        if widget is None:
            problems.setdefault("", str(item.get("msg", "")).removeprefix("Value error, "))
            continue
        try:
            text = T(f"m_{name}", value=values.get(widget, ""))
        except KeyError:
            text = str(item.get("msg", "")).removeprefix("Value error, ")
        problems.setdefault(widget, text)
    return problems


class DialLink(Button):
    """The phone kind ("Celular"), blue and underlined: pressing it calls the number beside it."""


class CustomerScreen(Screen[None]):
    """A customer's card. `tab` opens that tab first; `call_id` links a new contact to that call."""

    CSS_PATH = "customer.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", T("close"), id="customer.close"),
        Binding("ctrl+s", "save", T("save"), id="customer.save"),
        Binding("ctrl+s", "register", T("register"), id="customer.register"),
        Binding("ctrl+b", "schedule", T("schedule"), id="customer.schedule"),
        Binding("ctrl+n", "add_vehicle", T("add_vehicle"), id="customer.add_vehicle"),
        Binding("ctrl+1", "dial('residencial')", T("call", slot=labels.slot(PhoneSlot.RESIDENTIAL)),
                id="customer.dial_residential"),
        Binding("ctrl+2", "dial('comercial')", T("call", slot=labels.slot(PhoneSlot.BUSINESS)),
                id="customer.dial_business"),
        Binding("ctrl+3", "dial('celular')", T("call", slot=labels.slot(PhoneSlot.MOBILE)),
                id="customer.dial_mobile"),
        Binding("ctrl+4", "dial('recado')", T("call", slot=labels.slot(PhoneSlot.MESSAGE)),
                id="customer.dial_message"),
        Binding("alt+1", "show_tab('data')", T("tab_data"), id="customer.tab_data"),
        Binding("alt+2", "show_tab('vehicles')", T("tab_vehicles"), id="customer.tab_vehicles"),
        Binding("alt+3", "show_tab('lifecycle')", T("tab_lifecycle"), id="customer.tab_lifecycle"),
        Binding("alt+4", "show_tab('register')", T("tab_register"), id="customer.tab_register"),
        Binding("ctrl+r", "reload", T("reload"), id="customer.reload", show=False),
    ]

    def __init__(self, customer_id: int, *, call_id: str | None = None, tab: str | None = None) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.call_id = call_id
        self.initial_tab = tab if tab in TABS else "data"
        self.customer: Customer | None = None
        self.vehicles: list[Vehicle] = []
        self.sources: list[TrafficSource] = []
        self.locked_source: TrafficSource | None = None
        self.lifecycle: list[LifecycleEntry] = []
        self._busy: set[str] = set()

    # ---- layout ----
    def compose(self) -> ComposeResult:
        from tui_caa.ui.widgets.status_banner import StatusBanner

        yield StatusBanner(id="customer-banner")
        yield Static(T("loading", id=self.customer_id), id="customer-header")
        with TabbedContent(initial=self.initial_tab, id="customer-tabs"):
            with TabPane(T("tab_data"), id="data"):
                yield from self._compose_data()
            with TabPane(T("tab_vehicles"), id="vehicles"):
                yield DataTable(cursor_type="row", zebra_stripes=True, id="vehicle-table")
                yield Label(T("no_vehicles"), id="vehicles-empty", classes="muted")
                with Horizontal(classes="buttons"):
                    yield Button(f"{T('schedule')} (ctrl+b)", variant="primary", id="schedule")
                    yield Button(f"{T('add_vehicle')} (ctrl+n)", id="add-vehicle")
            with TabPane(T("tab_lifecycle"), id="lifecycle"):
                yield DataTable(cursor_type="row", zebra_stripes=True, id="lifecycle-table")
                yield Label(T("no_history"), id="lifecycle-empty", classes="muted")
            with TabPane(T("tab_register"), id="register"):
                yield from self._compose_register()
        yield Footer(compact=True)

    def _compose_data(self) -> ComposeResult:
        with Horizontal(id="data-columns"):
            with VerticalScroll(id="data-fields"):
                yield FormRow(FORM("name"), "name", Input(id="name"), required=True)
                yield FormRow(FORM("document"), "document", Input(id="document", placeholder=FORM("document_placeholder")))
                yield FormRow(FORM("email"), "email", Input(id="email", placeholder="nome@dominio.com.br"))
                yield FormRow(FORM("birth_date"), "birth_date",
                              Input(id="birth_date", placeholder=T("birth_placeholder")))
                yield FormRow(FORM("city"), "city", Input(id="city"))
                yield FormRow(FORM("state"), "state", Input(id="state", max_length=2, placeholder="RS"))
                yield FormRow(FORM("notes"), "notes", TextArea(id="notes", soft_wrap=True))
            with Vertical(id="data-phones"):
                yield Label(T("phones_hint"), classes="muted")
                for slot in PhoneSlot:
                    with Horizontal(classes="phone-row"):
                        yield DialLink(labels.slot(slot), id=f"dial-{slot.value}", classes="-empty",
                                       compact=True, tooltip=SLOT_KEYS[slot])
                        with Vertical(classes="field-body"):
                            yield Input(id=f"phone-{slot.value}", classes="phone-input")
                            yield Label("", id=f"phone-{slot.value}-problem", classes="field-problem")
                yield Label("", id="phones-problem", classes="field-problem")
        yield Label("", id="data-problem", classes="form-problem")
        with Horizontal(classes="buttons"):
            yield Button(f"{T('save')} (ctrl+s)", variant="primary", id="save")

    def _compose_register(self) -> ComposeResult:
        outcomes = [(labels.outcome(value), value) for value in ContactOutcome]
        with VerticalScroll(id="register-fields"):
            yield Label("", id="register-call", classes="muted")
            yield FormRow(T("outcome"), "outcome", Select(outcomes, prompt=T("outcome_prompt"), id="outcome"),
                          required=True)
            yield FormRow(T("notes"), "contact-notes", TextArea(id="contact-notes", soft_wrap=True))
            yield FormRow(T("next"), "next-contact", Input(id="next-contact", placeholder=T("next_placeholder")))
            yield FormRow(T("source"), "traffic-source",
                          Select([], prompt=T("source_prompt"), id="traffic-source"))
            yield Label("", id="source-note", classes="muted")
        yield Label("", id="register-problem", classes="form-problem")
        with Horizontal(classes="buttons"):
            yield Button(f"{T('register')} (ctrl+s)", variant="primary", id="register-contact")

    def on_mount(self) -> None:
        vehicles = self.query_one("#vehicle-table", DataTable)
        for key, label in (("model", T("model")), ("plate", T("plate")), ("year", T("year")), ("vin", T("vin"))):
            vehicles.add_column(label, key=key)
        lifecycle = self.query_one("#lifecycle-table", DataTable)
        for key, label in (("date", T("date")), ("kind", T("kind")), ("summary", T("summary"))):
            lifecycle.add_column(label, key=key)
        self.query_one("#vehicles-empty").display = False
        self.query_one("#lifecycle-empty").display = False
        self.query_one("#source-note").display = False
        if self.call_id:
            self.query_one("#register-call", Label).update(T("from_call", number=self._call_number()))
        else:
            self.query_one("#register-call").display = False
        self.action_reload()

    # ---- loading ----
    def action_reload(self) -> None:
        self.run_worker(self._load(), group="customer-load", exclusive=True, exit_on_error=False,
                        description="customer card")

    async def _load(self) -> None:
        session = _session(self)
        try:
            customer = await session.get_customer(self.customer_id)
        except (DomainError, TimeoutError, OSError) as exc:
            text = (T("gone", id=self.customer_id) if isinstance(exc, NotFound)
                    else T("unreadable", id=self.customer_id, problem=str(exc) or type(exc).__name__))
            self.notify(text, title=T("error_title"), severity="error", timeout=8)
            self.dismiss()
            return
        self._fill_customer(customer)
        first = self.customer is None
        self.customer = customer
        if first:
            self._focus_tab(self.initial_tab)
        try:
            self.sources = list(await session.traffic_sources())
            self.locked_source = await self._call_source()
            self._fill_sources()
            self.vehicles = list(await session.vehicles_of(self.customer_id))
            self._fill_vehicles()
            await self._load_lifecycle()
        except (DomainError, TimeoutError, OSError) as exc:
            self.notify(str(exc) or type(exc).__name__, title=T("error_title"), severity="error", timeout=8)

    async def _load_lifecycle(self) -> None:
        self.lifecycle = list(await _session(self).lifecycle(self.customer_id))
        self._fill_lifecycle()

    def _reload_lifecycle(self) -> None:
        async def reload() -> None:
            try:
                await self._load_lifecycle()
            except (DomainError, TimeoutError, OSError) as exc:
                self.notify(str(exc) or type(exc).__name__, title=T("error_title"), severity="error")

        self.run_worker(reload(), group="customer-lifecycle", exclusive=True, exit_on_error=False)

    def _call_number(self) -> str:
        for call in self.app.model.calls.values():  # type: ignore[attr-defined]
            if call.call_id == self.call_id:
                return display_raw(call.number) if call.number else T("withheld")
        return self.call_id or ""

    async def _call_source(self) -> TrafficSource | None:
        """The traffic source of the DDR of the call the card was opened from (None: free choice)."""
        if not self.call_id:
            return None
        model = self.app.model  # type: ignore[attr-defined]
        ddr: str | None = None
        for call in model.calls.values():
            if call.call_id == self.call_id:
                if call.traffic_source is not None:
                    return call.traffic_source
                ddr = ddr or call.ddr
        pop = model.pops.get(self.call_id)
        if pop is not None and pop.traffic_source is not None:
            return pop.traffic_source
        ddr_e164: str | None = None
        if ddr:
            try:
                ddr_e164 = normalize(ddr).e164
            except InvalidPhoneNumber:
                ddr_e164 = None
        else:
            try:
                ddr_e164 = (await _session(self).get_call(self.call_id)).ddr_e164
            except DomainError:
                return None  # not recorded yet, or not this extension's call
        if not ddr_e164:
            return None
        return next((s for s in self.sources if s.ddr_e164 == ddr_e164), None)

    # ---- filling ----
    def _fill_customer(self, customer: Customer) -> None:
        self._fill_header(customer)
        values = {
            "name": customer.name,
            "document": format_document(customer.document) if customer.document else "",
            "email": customer.email or "",
            "birth_date": customer.birth_date.strftime("%d/%m/%Y") if customer.birth_date else "",
            "city": customer.city or "",
            "state": customer.state or "",
        }
        for field, value in values.items():
            self.query_one(f"#{field}", Input).value = value
        self.query_one("#notes", TextArea).text = customer.notes or ""
        for slot in PhoneSlot:
            phone = customer.phone(slot)
            self.query_one(f"#phone-{slot.value}", Input).value = phone_text(phone.e164, phone.raw) if phone else ""
        show_problems(self, {}, DATA_FIELDS)
        self.query_one("#data-problem", Label).update("")

    def _fill_header(self, customer: Customer) -> None:
        document = customer.document
        if document:
            try:
                kind = parse_document(document)[0].value.upper()
            except ValueError:
                kind = "CPF/CNPJ"
            doc_text = f"{kind} {format_document(document)}"
        else:
            doc_text = T("no_document")
        place = "/".join(p for p in (customer.city, customer.state) if p) or T("no_city")
        lines = [
            f"[b]{escape(customer.name)}[/b]  ·  {escape(doc_text)}  ·  {escape(place)}  ·  "
            f"[dim]{T('customer_no', id=customer.id)}[/dim]",
        ]
        links = []
        for slot in PhoneSlot:
            phone = customer.phone(slot)
            if phone is None:
                continue
            links.append(f"[@click=screen.dial('{slot.value}')][$phone-link underline]"
                         f"☎ {labels.slot(slot)} {escape(phone_text(phone.e164, phone.raw))}[/][/]")
        lines.append("   ".join(links) if links else f"[dim]{T('no_phones')}[/dim]")
        self.query_one("#customer-header", Static).update("\n".join(lines))

    def _fill_vehicles(self, select: int | None = None) -> None:
        table = self.query_one("#vehicle-table", DataTable)
        table.clear()
        for vehicle in self.vehicles:
            table.add_row(vehicle.model, format_plate(vehicle.plate) if vehicle.plate else "",
                          str(vehicle.year or ""), vehicle.vin or "", key=str(vehicle.id))
        if select is not None:
            try:
                table.move_cursor(row=table.get_row_index(str(select)))
            except Exception:  # noqa: BLE001 - a missing row only means no cursor move
                pass
        self.query_one("#vehicles-empty").display = not self.vehicles

    def _fill_lifecycle(self) -> None:
        table = self.query_one("#lifecycle-table", DataTable)
        table.clear()
        for index, entry in enumerate(self.lifecycle):
            table.add_row(format_local(entry.at), T(f"k_{entry.kind.value}"), self._summary(entry),
                          key=f"{entry.kind.value}-{index}")
        self.query_one("#lifecycle-empty").display = not self.lifecycle

    def _summary(self, entry: LifecycleEntry) -> str:
        parts: list[str] = []
        if entry.kind is LifecycleKind.CALL and entry.call is not None:
            call = entry.call
            number = phone_text(call.remote_e164, call.remote_raw) or T("withheld")
            parts += [labels.direction(call.direction), number]
            if call.missed:
                parts.append(T("missed"))
            else:
                parts.append(labels.duration(call.talk_seconds))
            if call.contact_id:
                parts.append(T("with_contact", id=call.contact_id))
        elif entry.kind is LifecycleKind.CONTACT and entry.contact is not None:
            contact = entry.contact
            parts += [T("contact_no", id=contact.id), labels.outcome(contact.outcome)]
            source = next((s for s in self.sources if s.id == contact.traffic_source_id), None)
            if source is not None:
                parts.append(T("source_locked_short" if contact.traffic_source_locked else "source_short",
                               name=source.name))
            if contact.next_contact_at:
                parts.append(T("next_contact", when=format_local(contact.next_contact_at)))
            if contact.notes:
                parts.append(contact.notes.splitlines()[0][:80])
        elif entry.kind is LifecycleKind.APPOINTMENT and entry.appointment is not None:
            appointment = entry.appointment
            parts += [T("appointment_no", id=appointment.id), appointment.service]
            vehicle = next((v for v in self.vehicles if v.id == appointment.vehicle_id), None)
            if vehicle is not None:
                parts.append(vehicle_text(vehicle))
            if appointment.notes:
                parts.append(appointment.notes.splitlines()[0][:80])
        return " · ".join(parts)

    def _fill_sources(self) -> None:
        select = self.query_one("#traffic-source", Select)
        locked = self.locked_source
        options = [(s.name, s.id) for s in self.sources if s.active or (locked and s.id == locked.id)]
        if locked is not None and all(value != locked.id for _, value in options):
            options.append((locked.name, locked.id))
        current = select.value
        select.set_options(options)
        note = self.query_one("#source-note", Label)
        if locked is not None:
            select.value = locked.id
            select.disabled = True
            ddr = display(locked.ddr_e164) if locked.ddr_e164 else (locked.ddr_raw or "")
            note.update(T("source_locked", ddr=ddr))
            note.display = True
        else:
            if current is not Select.NULL and any(value == current for _, value in options):
                select.value = current
            select.disabled = False
            note.display = False

    # ---- tabs and keys ----
    @property
    def active_tab(self) -> str:
        return self.query_one("#customer-tabs", TabbedContent).active

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tab_of = {"save": "data", "register": "register", "add_vehicle": "vehicles", "schedule": "vehicles"}
        if action in tab_of:
            try:
                return self.active_tab == tab_of[action]
            except Exception:  # noqa: BLE001 - not composed yet
                return False
        return True

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()

    def action_show_tab(self, tab: str) -> None:
        if tab in TABS:
            self.query_one("#customer-tabs", TabbedContent).active = tab
            self._focus_tab(tab)

    def _focus_tab(self, tab: str) -> None:
        target = {"data": "#name", "vehicles": "#vehicle-table", "lifecycle": "#lifecycle-table",
                  "register": "#outcome"}[tab]
        self.query_one(target).focus()

    def action_close(self) -> None:
        self.dismiss()

    # ---- phones ----
    def number_on(self, slot: PhoneSlot) -> str:
        """What to dial for a slot: the stored number when the field still shows it, else what is typed."""
        typed = self.query_one(f"#phone-{slot.value}", Input).value.strip()
        stored = self.customer.phone(slot) if self.customer else None
        if stored is not None and stored.e164 and typed == display(stored.e164):
            return stored.e164
        return typed

    def action_dial(self, slot: str) -> None:
        which = PhoneSlot(slot)
        number = self.number_on(which)
        if not number:
            self.notify(T("no_phone", slot=labels.slot(which)), severity="warning")
            return
        self.app.dial(number)  # type: ignore[attr-defined]

    @on(Button.Pressed, "DialLink")
    def _dial_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id:
            self.action_dial(event.button.id.removeprefix("dial-"))

    @on(Input.Submitted, ".phone-input")
    def _dial_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id:
            self.action_dial(event.input.id.removeprefix("phone-"))

    @on(Input.Changed, ".phone-input")
    def _phone_typed(self, event: Input.Changed) -> None:
        filled = bool(event.value.strip())
        event.input.set_class(filled, "phone-link")
        if event.input.id:
            self.query_one(f"#dial-{event.input.id.removeprefix('phone-')}", DialLink).set_class(not filled, "-empty")

    # ---- "Dados": save ----
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self.customer is None or "save" in self._busy:
            return
        values = {name: self.query_one(f"#{name}", Input).value
                  for name in ("name", "document", "email", "birth_date", "city", "state")}
        values["notes"] = self.query_one("#notes", TextArea).text
        phones = {slot: self.query_one(f"#phone-{slot.value}", Input).value for slot in PhoneSlot}
        customer, problems = build_customer(values, phones, base=self.customer)
        show_problems(self, problems, DATA_FIELDS)
        self.query_one("#data-problem", Label).update(T("fix_fields") if problems else "")
        if customer is None:
            return
        self._busy.add("save")
        self.run_worker(self._save(customer), group="customer-save", exit_on_error=False)

    async def _save(self, customer: Customer) -> None:
        try:
            saved: CustomerSaved = await _session(self).update_customer(customer)
        except DomainError as exc:
            field, text = domain_problem(exc)
            if field in DATA_FIELDS:
                show_problems(self, {field: text}, DATA_FIELDS)
                self.query_one("#data-problem", Label).update(T("fix_fields"))
            else:
                self.query_one("#data-problem", Label).update(text)
                self.notify(text, title=T("error_title"), severity="error", timeout=8)
            return
        except (TimeoutError, OSError) as exc:
            self.notify(str(exc) or type(exc).__name__, title=T("error_title"), severity="error", timeout=8)
            return
        finally:
            self._busy.discard("save")
        self.customer = saved.customer
        self._fill_customer(saved.customer)
        self.notify(T("saved", name=saved.customer.name))
        notify_warnings(self, saved)

    # ---- "Veículos" ----
    def selected_vehicle(self) -> Vehicle | None:
        table = self.query_one("#vehicle-table", DataTable)
        if not self.vehicles or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return next((v for v in self.vehicles if str(v.id) == key), None)

    @on(Button.Pressed, "#add-vehicle")
    def action_add_vehicle(self) -> None:
        if self.customer is None:
            return

        def added(vehicle: Vehicle | None) -> None:
            if vehicle is None:
                return
            self.vehicles.append(vehicle)
            self._fill_vehicles(select=vehicle.id)
            self.query_one("#vehicle-table").focus()
            self.notify(T("vehicle_added", model=vehicle_text(vehicle)))

        self.app.push_screen(VehicleScreen(self.customer), added)

    @on(Button.Pressed, "#schedule")
    def action_schedule(self) -> None:
        if self.customer is None:
            return
        chosen = self.selected_vehicle()

        def scheduled(appointment: Appointment | None) -> None:
            if appointment is None:
                return
            self.notify(T("appointment_saved", id=appointment.id, when=format_local(appointment.scheduled_at)))
            self._reload_lifecycle()

        self.app.push_screen(
            AppointmentScreen(self.customer, self.vehicles, chosen.id if chosen else None), scheduled)

    # ---- "Registrar" ----
    @on(Button.Pressed, "#register-contact")
    def action_register(self) -> None:
        if self.customer is None or "register" in self._busy:
            return
        problems: dict[str, str] = {}
        outcome = self.query_one("#outcome", Select).value
        if outcome is Select.NULL:
            problems["outcome"] = T("m_outcome")
        notes = self.query_one("#contact-notes", TextArea).text
        next_text = self.query_one("#next-contact", Input).value
        try:
            next_at = parse_local_datetime(next_text, default_time=NEXT_CONTACT_DEFAULT_TIME)
        except ValueError:
            problems["next-contact"] = T("m_next")
            next_at = None
        source = self.query_one("#traffic-source", Select).value
        source_id = None if (self.locked_source is not None or source is Select.NULL) else source
        contact: Contact | None = None
        if not problems:
            try:
                contact = Contact(customer_id=self.customer_id, call_id=self.call_id, outcome=outcome,
                                  notes=notes.strip(), next_contact_at=next_at, traffic_source_id=source_id)
            except ValidationError as exc:
                fields = {"outcome": "outcome", "notes": "contact-notes", "next_contact_at": "next-contact",
                          "traffic_source_id": "traffic-source"}
                problems = _problems_of(exc, fields, {})
        general = problems.pop("", "")
        show_problems(self, problems, REGISTER_FIELDS)
        self.query_one("#register-problem", Label).update(general or (T("fix_fields") if problems else ""))
        if contact is None:
            return
        self._busy.add("register")
        self.run_worker(self._register(contact), group="customer-register", exit_on_error=False)

    async def _register(self, contact: Contact) -> None:
        try:
            saved: Contact = await _session(self).create_contact(contact)
        except DomainError as exc:
            fields = {"traffic_source_id": "traffic-source", "outcome": "outcome", "notes": "contact-notes",
                      "next_contact_at": "next-contact"}
            field = fields.get(exc.field or "")
            text = T("locked") if isinstance(exc, LockedField) else str(exc)
            if field:
                show_problems(self, {field: text}, REGISTER_FIELDS)
            self.query_one("#register-problem", Label).update(text)
            self.notify(text, title=T("error_title"), severity="error", timeout=8)
            return
        except (TimeoutError, OSError) as exc:
            self.notify(str(exc) or type(exc).__name__, title=T("error_title"), severity="error", timeout=8)
            return
        finally:
            self._busy.discard("register")
        self.notify(T("contact_saved", id=saved.id))
        self.query_one("#outcome", Select).clear()
        self.query_one("#contact-notes", TextArea).text = ""
        self.query_one("#next-contact", Input).value = ""
        self.query_one("#register-problem", Label).update("")
        await self._load_lifecycle_quietly()

    async def _load_lifecycle_quietly(self) -> None:
        try:
            await self._load_lifecycle()
        except (DomainError, TimeoutError, OSError) as exc:
            self.notify(str(exc) or type(exc).__name__, title=T("error_title"), severity="error")


# ---- dialogs of the "Veículos" tab ----------------------------------------------------------

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > #dialog {{
    width: 84; max-width: 95%; height: auto; max-height: 95%;
    border: thick $primary; background: $surface; padding: 1 2;
}}
{name} .title {{ text-style: bold; margin-bottom: 1; }}
{name} #form-problem {{ color: $error; height: auto; }}
{name} .buttons {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} .buttons Button {{ margin-left: 1; }}
"""


class FormDialog(ModalScreen[Any]):
    """What the card's dialogs share: save once at a time, the store's refusal shown under its
    field (store field -> form field in `STORE_FIELDS`), cancel with escape or the button."""

    FIELDS: ClassVar[tuple[str, ...]] = ()
    STORE_FIELDS: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        super().__init__()
        self._saving = False

    def start_saving(self, save: Callable[[], Awaitable[Any]], group: str) -> None:
        self._saving = True
        self.run_worker(self._save(save), group=group, exit_on_error=False)

    async def _save(self, save: Callable[[], Awaitable[Any]]) -> None:
        try:
            saved = await save()
        except DomainError as exc:
            field = self.STORE_FIELDS.get(exc.field or "")
            if field:
                show_problems(self, {field: str(exc)}, self.FIELDS)
            self.query_one("#form-problem", Label).update(str(exc))
            return
        except (TimeoutError, OSError) as exc:
            self.query_one("#form-problem", Label).update(str(exc) or type(exc).__name__)
            return
        finally:
            self._saving = False
        self.dismiss(saved)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class VehicleScreen(FormDialog):
    """"Incluir veículo": plate, model, year, VIN; saves and dismisses with the saved vehicle."""

    DEFAULT_CSS = DIALOG_CSS.format(name="VehicleScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", T("save"), id="vehicle.save"),
        Binding("escape", "cancel", T("cancel"), id="vehicle.cancel"),
    ]
    FIELDS = ("plate", "model", "year", "vin")
    STORE_FIELDS: ClassVar[dict[str, str]] = {field: field for field in FIELDS}

    def __init__(self, customer: Customer) -> None:
        super().__init__()
        self.customer = customer

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(T("vehicle_title", name=self.customer.name), classes="title")
            yield FormRow(T("plate"), "plate", Input(id="plate", placeholder="ABC1D23"))
            yield FormRow(T("model"), "model", Input(id="model"), required=True)
            yield FormRow(T("year"), "year", Input(id="year", max_length=4, placeholder="2024"))
            yield FormRow(T("vin"), "vin", Input(id="vin", max_length=17))
            yield Label("", id="form-problem")
            with Horizontal(classes="buttons"):
                yield Button(T("cancel"), id="cancel")
                yield Button(f"{T('save')} (ctrl+s)", variant="primary", id="save")

    def on_mount(self) -> None:
        self.query_one("#plate", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self._saving:
            return
        values = {name: self.query_one(f"#{name}", Input).value.strip() for name in self.FIELDS}
        problems: dict[str, str] = {}
        year: int | None = None
        if values["year"]:
            try:
                year = int(values["year"])
            except ValueError:
                problems["year"] = T("m_year")
        vehicle: Vehicle | None = None
        try:
            vehicle = Vehicle(customer_id=self.customer.id, plate=values["plate"] or None, model=values["model"],
                              year=year, vin=values["vin"] or None)
        except ValidationError as exc:
            for field, text in _problems_of(exc, {f: f for f in self.FIELDS}, values).items():
                problems.setdefault(field, text)
        general = problems.pop("", "")
        show_problems(self, problems, self.FIELDS)
        self.query_one("#form-problem", Label).update(general or (T("fix_fields") if problems else ""))
        if problems or general or vehicle is None:
            return
        self.start_saving(lambda: _session(self).add_vehicle(vehicle), "vehicle-save")


class AppointmentScreen(FormDialog):
    """"Agendar": vehicle, date and time (local), service, notes; saves and dismisses with it."""

    DEFAULT_CSS = DIALOG_CSS.format(name="AppointmentScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", T("save"), id="appointment.save"),
        Binding("escape", "cancel", T("cancel"), id="appointment.cancel"),
    ]
    FIELDS = ("appointment-vehicle", "when", "service", "appointment-notes")
    STORE_FIELDS: ClassVar[dict[str, str]] = {"vehicle_id": "appointment-vehicle", "service": "service",
                                              "scheduled_at": "when"}

    def __init__(self, customer: Customer, vehicles: list[Vehicle], vehicle_id: int | None = None) -> None:
        super().__init__()
        self.customer = customer
        self.vehicles = vehicles
        self.vehicle_id = vehicle_id

    def compose(self) -> ComposeResult:
        options = [(vehicle_text(v), v.id) for v in self.vehicles]
        with Vertical(id="dialog"):
            yield Label(T("appointment_title", name=self.customer.name), classes="title")
            yield FormRow(T("vehicle"), "appointment-vehicle",
                          Select(options, prompt=T("no_vehicle"), id="appointment-vehicle",
                                 value=self.vehicle_id if self.vehicle_id is not None else Select.NULL))
            yield FormRow(T("when"), "when", Input(id="when", placeholder=T("when_placeholder")), required=True)
            yield FormRow(T("service"), "service", Input(id="service", placeholder=T("service_placeholder")),
                          required=True)
            yield FormRow(T("notes"), "appointment-notes", Input(id="appointment-notes"))
            yield Label("", id="form-problem")
            with Horizontal(classes="buttons"):
                yield Button(T("cancel"), id="cancel")
                yield Button(f"{T('schedule')} (ctrl+s)", variant="primary", id="save")

    def on_mount(self) -> None:
        self.query_one("#when", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self._saving:
            return
        problems: dict[str, str] = {}
        when_text = self.query_one("#when", Input).value
        try:
            when = parse_local_datetime(when_text)
        except ValueError:
            when = None
        if when is None:
            problems["when"] = T("m_when")
        vehicle = self.query_one("#appointment-vehicle", Select).value
        service = self.query_one("#service", Input).value.strip()
        notes = self.query_one("#appointment-notes", Input).value.strip()
        appointment: Appointment | None = None
        try:
            appointment = Appointment(customer_id=self.customer.id, scheduled_at=when, service=service, notes=notes,
                                      vehicle_id=None if vehicle is Select.NULL else vehicle)
        except ValidationError as exc:
            fields = {"service": "service", "notes": "appointment-notes", "vehicle_id": "appointment-vehicle"}
            for field, text in _problems_of(exc, fields, {}).items():
                if field:  # scheduled_at is already named above
                    problems.setdefault(field, text)
        show_problems(self, problems, self.FIELDS)
        self.query_one("#form-problem", Label).update(T("fix_fields") if problems else "")
        if problems or appointment is None:
            return
        self.start_saving(lambda: _session(self).create_appointment(appointment), "appointment-save")
