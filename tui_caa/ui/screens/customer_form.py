"""Customer forms: "Incluir novo cliente" (the caller's number already on its slot) and "Associar a
cliente existente" (search, pick the customer, pick the slot, confirm the overwrite).

Also the form helpers every customer form shares: a labelled field row with its problem line,
turning pydantic/domain errors into a sentence next to the field they name (nothing typed is lost),
and the duplicate warnings the CRM returns when a phone or document is already someone else's."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, OptionList, Select
from textual.widgets.option_list import Option

from tui_caa.domain import Customer, CustomerSaved, DomainError, PhoneChange, PhoneSlot, format_document, parse_document
from tui_caa.phones import InvalidPhoneNumber, NumberType, display, normalize
from tui_caa.ui import labels
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.screens.prompts import ConfirmScreen
from tui_caa.ui.screens.search import CustomerSearch, phone_problem

T = Catalog({
    # field labels
    "name": ("Nome", "Name"),
    "document": ("CPF/CNPJ", "CPF/CNPJ"),
    "email": ("E-mail", "E-mail"),
    "birth_date": ("Nascimento", "Birth date"),
    "city": ("Cidade", "City"),
    "state": ("UF", "State (UF)"),
    "notes": ("Observações", "Notes"),
    "phone": ("Telefone", "Phone"),
    "document_placeholder": ("CPF ou CNPJ", "CPF or CNPJ"),
    # field problems
    "m_name": ("Informe o nome do cliente (até 120 letras).", "Type the customer's name (up to 120 characters)."),
    "m_email": ("'{value}' não é um e-mail (nome@dominio.com.br).", "'{value}' is not an e-mail address (name@domain.com)."),
    "m_state": ("'{value}' não é uma UF (ex.: SP, RS).", "'{value}' is not a Brazilian state (UF), e.g. SP, RS."),
    "m_city": ("Cidade longa demais (até 80 letras).", "City too long (up to 80 characters)."),
    "m_notes": ("Texto longo demais (até 4000 letras).", "Text too long (up to 4000 characters)."),
    "m_birth_date": ("Data inválida: use dd/mm/aaaa, ex.: 25/12/1980.", "Invalid date: use dd/mm/yyyy, e.g. 25/12/1980."),
    "m_doc_letters": ("'{value}' tem letras: o CPF tem 11 dígitos e o CNPJ 14.",
                      "'{value}' has letters: a CPF has 11 digits and a CNPJ 14."),
    "m_doc_digits": ("'{value}' tem {n} dígitos: o CPF tem 11 e o CNPJ 14.",
                     "'{value}' has {n} digits: a CPF has 11 and a CNPJ 14."),
    "m_doc_check": ("{kind} '{value}' com dígitos verificadores errados: confira se há erro de digitação.",
                    "{kind} '{value}' has wrong check digits: check for a typo."),
    "m_phone_long": ("Telefone longo demais (até 40 caracteres).", "Phone too long (up to 40 characters)."),
    "m_phones": ("Cada campo de telefone guarda um só número.", "Each phone field holds one number."),
    "m_other": ("{field}: {message}", "{field}: {message}"),
    "fix_fields": ("Corrija os campos marcados; nada do que foi digitado se perdeu.",
                   "Fix the marked fields; nothing you typed was lost."),
    "dup_phone": ("Atenção: {name} (cliente nº {id}) também tem o telefone {value}.",
                  "Note: {name} (customer #{id}) also has the phone {value}."),
    "dup_document": ("Atenção: {name} (cliente nº {id}) também tem o CPF/CNPJ {value}.",
                     "Note: {name} (customer #{id}) also has the CPF/CNPJ {value}."),
    "dup_title": ("Possível cliente duplicado", "Possible duplicate customer"),
    "error_title": ("Não foi possível", "Could not do it"),
    # new customer
    "new_title": ("Incluir novo cliente", "New customer"),
    "new_number": ("Telefone da ligação: {number}", "Caller's number: {number}"),
    "slot_prompt": ("Campo", "Field"),
    "save": ("Salvar", "Save"),
    "cancel": ("Cancelar", "Cancel"),
    "created": ("Cliente {name} incluído (nº {id})", "Customer {name} created (#{id})"),
    "required": ("* obrigatório", "* required"),
    # associate
    "assoc_title": ("Associar a cliente existente", "Associate with an existing customer"),
    "assoc_number": ("Número a associar: {number}. Busque o cliente por nome, CPF/CNPJ, placa ou telefone.",
                     "Number to associate: {number}. Find the customer by name, CPF/CNPJ, plate or phone."),
    "assoc_slots": ("{name}: qual telefone recebe {number}?", "{name}: which phone gets {number}?"),
    "assoc_slot": ("{slot}: {number}", "{slot}: {number}"),
    "empty_slot": ("(vazio)", "(empty)"),
    "assoc_confirm_title": ("Associar telefone a {name}", "Associate the phone with {name}"),
    "assoc_replace": ("O {slot} {old} será substituído por {new}. O número antigo fica guardado no histórico de "
                      "alterações.",
                      "The {slot} {old} will be replaced by {new}. The old number is kept in the change history."),
    "assoc_fill": ("O número {new} será gravado no {slot} de {name}.",
                   "The number {new} will be stored as {slot} of {name}."),
    "assoc_same": ("O {slot} de {name} já é {new}.", "{name}'s {slot} already is {new}."),
    "assoc_done": ("{new} associado ao {slot} de {name}", "{new} associated with {name}'s {slot}"),
    "back": ("Voltar à busca", "Back to the search"),
})

# ---- form helpers ----------------------------------------------------------------------------

DATE_FORMAT = "%d/%m/%Y"
DATETIME_FORMAT = "%d/%m/%Y %H:%M"


class FormRow(Horizontal):
    """A label, the input (or inputs) and, under it, the problem the field has (hidden when fine).

    The problem line has the id `<field>-problem`; the input keeps its own id (usually `<field>`)."""

    DEFAULT_CSS = """
    FormRow { height: auto; }
    FormRow > .field-label { width: 14; padding: 1 1 0 0; }
    FormRow > .field-body { height: auto; width: 1fr; }
    FormRow .field-problem { color: $error; height: auto; display: none; padding: 0 1; }
    FormRow .field-problem.-shown { display: block; }
    FormRow .field-inputs { height: auto; }
    """

    def __init__(self, label: str, field: str, *widgets: Widget, required: bool = False) -> None:
        super().__init__(classes="form-row")
        self._label = f"{label} *" if required else label
        self._field = field
        self._widgets = widgets

    def compose(self) -> ComposeResult:
        yield Label(self._label, classes="field-label")
        with Vertical(classes="field-body"):
            if len(self._widgets) == 1:
                yield self._widgets[0]
            else:
                with Horizontal(classes="field-inputs"):
                    yield from self._widgets
            yield Label("", id=f"{self._field}-problem", classes="field-problem")


def show_problems(root: Widget, problems: Mapping[str, str], fields: Iterable[str]) -> None:
    """Shows each field's problem next to it (or clears it); marks the input; focuses the first one."""
    first: Widget | None = None
    for field in fields:
        text = problems.get(field, "")
        for label in root.query(f"#{field}-problem").results(Label):
            label.update(text)
            label.set_class(bool(text), "-shown")
        for widget in root.query(f"#{field}"):
            widget.set_class(bool(text), "-invalid")
            if text and first is None:
                first = widget
    if first is not None and first.focusable:
        first.focus()


def document_problem(text: str) -> str | None:
    """The CPF/CNPJ's problem in the agent's words, or None when it is fine (or blank)."""
    if not text.strip():
        return None
    try:
        parse_document(text)
    except ValueError:
        digits = re.sub(r"\D", "", text)
        if any(ch.isalpha() for ch in text):
            return T("m_doc_letters", value=text)
        if len(digits) not in (11, 14):
            return T("m_doc_digits", value=text, n=len(digits))
        return T("m_doc_check", kind="CPF" if len(digits) == 11 else "CNPJ", value=text)
    return None


def parse_date(text: str) -> date | None:
    """dd/mm/aaaa → date; blank → None; ValueError when it is not a date."""
    text = text.strip()
    if not text:
        return None
    return datetime.strptime(text, DATE_FORMAT).date()


def parse_local_datetime(text: str, *, default_time: str | None = None) -> datetime | None:
    """dd/mm/aaaa hh:mm in the local timezone → aware datetime; blank → None; ValueError otherwise.

    With `default_time` ("09:00"), a bare date is accepted too."""
    text = " ".join(text.split())
    if not text:
        return None
    if default_time and len(text) <= 10:
        text = f"{text} {default_time}"
    return datetime.strptime(text, DATETIME_FORMAT).astimezone()


def format_local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime(DATETIME_FORMAT)


def field_message(field: str, value: str, error: Mapping[str, Any]) -> str:
    """One pydantic error of a customer field, as a sentence."""
    key = f"m_{field}"
    if field == "document":
        return document_problem(value) or str(error.get("msg", ""))
    try:
        return T(key, value=value)
    except KeyError:
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        return T("m_other", field=field, message=message)


def validation_problems(error: ValidationError, values: Mapping[str, str],
                        phone_fields: Mapping[int, str] | None = None) -> dict[str, str]:
    """pydantic's errors → {field id: sentence}; the index of a phone maps to its field id."""
    problems: dict[str, str] = {}
    for item in error.errors():
        loc = item.get("loc", ())
        if not loc:
            continue
        name = str(loc[0])
        if name == "phones":
            if len(loc) > 1 and isinstance(loc[1], int) and phone_fields and loc[1] in phone_fields:
                problems.setdefault(phone_fields[loc[1]], T("m_phone_long"))
            else:
                problems.setdefault("phones", T("m_phones"))
            continue
        problems.setdefault(name, field_message(name, values.get(name, ""), item))
    return problems


def domain_problem(exc: DomainError, phone_field: Callable[[str], str] = lambda slot: f"phone-{slot}") -> tuple[str | None, str]:
    """(field id, sentence) of a refusal of the CRM; the field is None when it names no field."""
    field = exc.field or ""
    slot = re.match(r"phone '(\w+)'", field)
    if slot:
        return phone_field(slot.group(1)), phone_problem(exc)
    if field == "document":
        return field, str(exc)
    return (field or None), str(exc)


def warning_lines(saved: CustomerSaved) -> list[str]:
    lines = []
    for warning in saved.warnings:
        if warning.field == "document":
            lines.append(T("dup_document", name=warning.customer_name, id=warning.customer_id,
                           value=format_document(warning.value)))
        else:
            lines.append(T("dup_phone", name=warning.customer_name, id=warning.customer_id,
                           value=display(warning.value)))
    return lines


def notify_warnings(widget: Widget, saved: CustomerSaved) -> None:
    lines = warning_lines(saved)
    if lines:
        widget.notify("\n".join(lines), title=T("dup_title"), severity="warning", timeout=12)


def build_customer(values: Mapping[str, str], phones: Mapping[PhoneSlot, str], *, base: Customer | None = None,
                   phone_field: Callable[[PhoneSlot], str] = lambda slot: f"phone-{slot.value}",
                   ) -> tuple[Customer | None, dict[str, str]]:
    """The customer the form describes, or the problems of its fields (each named)."""
    problems: dict[str, str] = {}
    data: dict[str, Any] = {key: values.get(key, "") for key in ("name", "document", "email", "city", "state", "notes")
                            if key in values}
    if "birth_date" in values:
        try:
            data["birth_date"] = parse_date(values["birth_date"])
        except ValueError:
            problems["birth_date"] = T("m_birth_date")
    problem = document_problem(values.get("document", ""))
    if problem:
        problems["document"] = problem
    phone_list: list[dict[str, Any]] = []
    phone_fields: dict[int, str] = {}
    for slot, text in phones.items():
        raw = text.strip()
        if not raw:
            continue
        old = base.phone(slot) if base else None
        if old is not None and old.e164 and raw == display(old.e164):
            raw = old.raw  # unchanged: keep what was stored (no audit row for a mere re-display)
        phone_fields[len(phone_list)] = phone_field(slot)
        phone_list.append({"slot": slot, "raw": raw})
    if base is not None:
        data.update(id=base.id, created_at=base.created_at, updated_at=base.updated_at)
    data["phones"] = phone_list
    try:
        customer = Customer.model_validate(data)
    except ValidationError as exc:
        for field, text in validation_problems(exc, values, phone_fields).items():
            problems.setdefault(field, text)
        return None, problems
    if problems:
        return None, problems
    return customer, {}


def phone_display(number: str) -> str:
    """(51) 98765-4321 for anything normalisable, the number as given otherwise."""
    try:
        found = normalize(number)
    except InvalidPhoneNumber:
        return number.strip()
    return display(found.e164) if found.e164 else number.strip()


def slot_for(number: str) -> PhoneSlot:
    """Celular for a mobile, residencial for anything else."""
    try:
        found = normalize(number)
    except InvalidPhoneNumber:
        return PhoneSlot.RESIDENTIAL
    return PhoneSlot.MOBILE if found.number_type is NumberType.MOBILE else PhoneSlot.RESIDENTIAL


def _session(widget: Widget) -> Any:
    return widget.app.session  # type: ignore[attr-defined]


# ---- "Incluir novo cliente" -----------------------------------------------------------------


class NewCustomerScreen(ModalScreen[Customer | None]):
    """A new customer with the caller's number already on the right slot; dismisses with the saved
    customer (the caller then opens its card), or None."""

    CSS_PATH = "customer_form.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", T("save"), id="new_customer.save"),
        Binding("escape", "cancel", T("cancel"), id="new_customer.cancel"),
    ]
    FIELDS = ("name", "document", "email", "city", "state", "phone", "phones")

    def __init__(self, number: str, *, call_id: str | None = None) -> None:
        super().__init__()
        self.number = number
        self.call_id = call_id
        self._saving = False

    def compose(self) -> ComposeResult:
        number = phone_display(self.number)
        slots = [(labels.slot(slot), slot) for slot in PhoneSlot]
        with Vertical(id="dialog"):
            yield Label(T("new_title"), classes="title")
            yield Label(T("new_number", number=number) + "   " + T("required"), classes="subtitle")
            with VerticalScroll(id="fields"):
                yield FormRow(T("name"), "name", Input(id="name"), required=True)
                yield FormRow(T("document"), "document", Input(id="document", placeholder=T("document_placeholder")))
                yield FormRow(T("email"), "email", Input(id="email", placeholder="nome@dominio.com.br"))
                yield FormRow(T("city"), "city", Input(id="city"))
                yield FormRow(T("state"), "state", Input(id="state", max_length=2, placeholder="RS"))
                yield FormRow(T("phone"), "phone",
                              Select(slots, value=slot_for(self.number), allow_blank=False, id="phone-slot",
                                     prompt=T("slot_prompt")),
                              Input(value=number, id="phone", classes="phone-link"))
                yield Label("", id="phones-problem", classes="field-problem")
            yield Label("", id="form-problem")
            with Horizontal(classes="buttons"):
                yield Button(T("cancel"), id="cancel")
                yield Button(f"{T('save')} (ctrl+s)", variant="primary", id="save")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @property
    def slot(self) -> PhoneSlot:
        return PhoneSlot(self.query_one("#phone-slot", Select).value)

    def _values(self) -> dict[str, str]:
        return {name: self.query_one(f"#{name}", Input).value for name in ("name", "document", "email", "city", "state")}

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self._saving:
            return
        phone = self.query_one("#phone", Input).value
        customer, problems = build_customer(self._values(), {self.slot: phone}, phone_field=lambda slot: "phone")
        self.query_one("#form-problem", Label).update(T("fix_fields") if problems else "")
        show_problems(self, problems, self.FIELDS)
        if customer is None:
            return
        self._saving = True
        self.run_worker(self._save(customer), group="customer-form", exit_on_error=False)

    async def _save(self, customer: Customer) -> None:
        try:
            saved: CustomerSaved = await _session(self).create_customer(customer)
        except DomainError as exc:
            self._refused(exc)
            return
        except (TimeoutError, OSError) as exc:
            self.query_one("#form-problem", Label).update(str(exc) or type(exc).__name__)
            return
        finally:
            self._saving = False
        notify_warnings(self, saved)
        self.notify(T("created", name=saved.customer.name, id=saved.customer.id))
        self.dismiss(saved.customer)

    def _refused(self, exc: DomainError) -> None:
        field, text = domain_problem(exc, phone_field=lambda slot: "phone")
        if field in self.FIELDS:
            show_problems(self, {field: text}, self.FIELDS)
            self.query_one("#form-problem", Label).update(T("fix_fields"))
        else:
            self.query_one("#form-problem", Label).update(text)
            self.notify(text, title=T("error_title"), severity="error", timeout=8)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


# ---- "Associar a cliente existente" ---------------------------------------------------------


class AssociatePhoneScreen(ModalScreen[PhoneChange | None]):
    """Puts the caller's number on a slot of an existing customer: search, pick the customer, pick
    the slot (each shows its current number), confirm the overwrite; dismisses with the change."""

    CSS_PATH = "customer_form.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", T("cancel"), id="associate.cancel"),
    ]

    def __init__(self, number: str) -> None:
        super().__init__()
        self.number = number
        self.customer: Customer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(T("assoc_title"), classes="title")
            yield Label(T("assoc_number", number=phone_display(self.number)), classes="subtitle")
            yield CustomerSearch(id="associate-search")
            yield Label("", id="slots-title")
            yield OptionList(id="slots")
            yield Label("", id="form-problem")
            with Horizontal(classes="buttons"):
                yield Button(T("back"), id="back")
                yield Button(T("cancel"), id="cancel")

    def on_mount(self) -> None:
        self._show_slots(False)
        self.query_one(CustomerSearch).focus_query()

    def _show_slots(self, shown: bool) -> None:
        self.query_one("#slots-title", Label).display = shown
        self.query_one("#slots", OptionList).display = shown
        self.query_one("#back", Button).display = shown

    @on(CustomerSearch.Picked)
    def _picked(self, event: CustomerSearch.Picked) -> None:
        event.stop()
        self.customer = event.customer
        options = self.query_one("#slots", OptionList)
        options.clear_options()
        for slot in PhoneSlot:
            current = event.customer.phone(slot)
            shown = (display(current.e164) if current.e164 else current.raw) if current else T("empty_slot")
            options.add_option(Option(T("assoc_slot", slot=labels.slot(slot), number=shown), id=slot.value))
        self.query_one("#slots-title", Label).update(
            T("assoc_slots", name=event.customer.name, number=phone_display(self.number)))
        self._show_slots(True)
        options.highlighted = 0
        options.focus()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.customer = None
        self._show_slots(False)
        self.query_one(CustomerSearch).focus_query()

    @on(OptionList.OptionSelected, "#slots")
    def _slot_picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        customer = self.customer
        if customer is None or event.option.id is None:
            return
        slot = PhoneSlot(event.option.id)
        new = phone_display(self.number)
        current = customer.phone(slot)
        slot_name = labels.slot(slot)
        if current is not None:
            old = display(current.e164) if current.e164 else current.raw
            if current.e164 and current.e164 == self._e164():
                self.notify(T("assoc_same", slot=slot_name, name=customer.name, new=new), severity="warning")
                return
            message = T("assoc_replace", slot=slot_name, old=old, new=new)
        else:
            message = T("assoc_fill", slot=slot_name, new=new, name=customer.name)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._associate(customer, slot), group="customer-form", exit_on_error=False)

        self.app.push_screen(ConfirmScreen(T("assoc_confirm_title", name=customer.name), message), confirmed)

    def _e164(self) -> str | None:
        try:
            return normalize(self.number).e164
        except InvalidPhoneNumber:
            return None

    async def _associate(self, customer: Customer, slot: PhoneSlot) -> None:
        assert customer.id is not None
        try:
            change: PhoneChange = await _session(self).associate_phone(customer.id, slot, self.number)
        except DomainError as exc:
            text = phone_problem(exc) if (exc.field or "").startswith("phone") else str(exc)
            self.query_one("#form-problem", Label).update(text)
            self.notify(text, title=T("error_title"), severity="error", timeout=8)
            return
        except (TimeoutError, OSError) as exc:
            self.notify(str(exc) or type(exc).__name__, title=T("error_title"), severity="error", timeout=8)
            return
        self.notify(T("assoc_done", new=phone_display(self.number), slot=labels.slot(slot), name=customer.name))
        self.dismiss(change)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
