"""Caller identification ("Central Telefônica"): the moment a call rings, the raw number and the
DDR's traffic source, then every customer that has the number, with matched slot, vehicles and
latest contacts. Near matches are listed apart, as suggestions."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Label, ListItem, ListView, Static

from tui_caa.domain import CustomerMatch, Direction, format_document, format_plate
from tui_caa.phones import display
from tui_caa.protocol.messages import ScreenPop
from tui_caa.ui import labels
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.model import CallView

T = Catalog({
    "waiting": ("Aguardando chamadas. Ao tocar, o cliente aparece aqui.",
                "Waiting for calls. When one rings, the customer shows here."),
    "caller": ("Chamador", "Caller"),
    "ddr": ("DDR {ddr} · origem: {source}", "DDR {ddr} · source: {source}"),
    "no_source": ("não cadastrada", "not registered"),
    "looking": ("Procurando o cliente…", "Looking up the customer…"),
    "found": ("{n} cliente(s) com este número — Enter abre a ficha", "{n} customer(s) with this number — Enter opens the card"),
    "none": ("Nenhum cliente com este número.", "No customer has this number."),
    "near": ("Sugestões (número parecido, confira antes de usar)", "Suggestions (similar number, check before using)"),
    "truncated": ("Mostrando os primeiros {n}; o número é compartilhado por muitos clientes.",
                  "Showing the first {n}; many customers share this number."),
    "crm_error": ("O CRM não respondeu: {error}", "The CRM did not answer: {error}"),
    "new": ("Incluir novo cliente", "New customer"),
    "associate": ("Associar a cliente existente", "Attach to existing customer"),
    "vehicles": ("Veículos", "Vehicles"),
    "contacts": ("Últimos contatos", "Latest contacts"),
    "appointments": ("Agendamentos", "Appointments"),
})


class MatchItem(ListItem):
    def __init__(self, match: CustomerMatch) -> None:
        super().__init__(Label(describe_match(match)))
        self.match = match


def describe_match(match: CustomerMatch) -> Text:
    customer = match.customer
    text = Text()
    text.append(customer.name, style="bold")
    slots = ", ".join(labels.slot(s) for s in match.matched_slots)
    if slots:
        text.append(f"  ({slots})", style="italic")
    if customer.document:
        text.append(f"  {format_document(customer.document)}")
    if customer.city:
        text.append(f"  · {customer.city}{'/' + customer.state if customer.state else ''}", style="dim")
    phones = "  ".join(f"{labels.slot(p.slot)} {display(p.e164) if p.e164 else p.raw}" for p in customer.phones)
    if phones:
        text.append(f"\n   {phones}", style="dim")
    if match.vehicles:
        cars = ", ".join(f"{v.model}{' ' + format_plate(v.plate) if v.plate else ''}{f' ({v.year})' if v.year else ''}"
                         for v in match.vehicles[:3])
        text.append(f"\n   {T('vehicles')}: {cars}")
    if match.latest_contacts:
        seen = "; ".join(f"{c.created_at:%d/%m} {labels.outcome(c.outcome)}" for c in match.latest_contacts if c.created_at)
        text.append(f"\n   {T('contacts')}: {seen}")
    if match.latest_appointments:
        booked = "; ".join(f"{a.scheduled_at.astimezone():%d/%m %H:%M} {a.service}" for a in match.latest_appointments)
        text.append(f"\n   {T('appointments')}: {booked}")
    return text


class CallerPanel(VerticalScroll):
    DEFAULT_CSS = """
    CallerPanel { padding: 0 1; }
    CallerPanel > #caller-line { height: auto; text-style: bold; }
    CallerPanel > #caller-status { height: auto; margin: 1 0 0 0; }
    CallerPanel ListView { height: auto; max-height: 24; margin: 0 0 1 0; }
    CallerPanel ListItem { padding: 0 1; }
    CallerPanel > #near-title { color: $warning; height: auto; }
    CallerPanel > Horizontal { height: 3; }
    CallerPanel Button { margin-right: 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.call: CallView | None = None  # the call whose caller is shown
        self._last_pop: ScreenPop | None = None  # kept after the call ends, to register the contact
        self._shown: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static(T("waiting"), id="caller-line")
        yield Static("", id="caller-status")
        yield ListView(id="exact-matches")
        yield Static(T("near"), id="near-title")
        yield ListView(id="near-matches")
        with Horizontal(id="caller-actions"):
            yield Button(T("new"), id="caller-new")
            yield Button(T("associate"), id="caller-associate")

    def on_mount(self) -> None:
        self.app.console_changed.subscribe(self, self._changed)  # type: ignore[attr-defined]
        self.refresh_caller()

    def _changed(self, changes: set[str]) -> None:
        if changes & {"mine"}:
            self.refresh_caller()

    def refresh_caller(self) -> None:
        """Follows the agent's inbound call; keeps the last caller on screen after it ends, so the
        agent can still register the contact."""
        model = self.app.model  # type: ignore[attr-defined]
        inbound = [c for c in model.my_calls() if c.direction is not Direction.OUTBOUND]
        if inbound:
            self.call = inbound[0]
        if self.call is None:
            self._show_nothing()
            return
        pop = model.pops.get(self.call.call_id) or self._last_pop
        if pop is not None and pop.call_id == self.call.call_id:
            self._last_pop = pop
        else:
            pop = None
        key = (self.call.call_id, self.call.traffic_source, pop)
        if key == self._shown:
            return
        self._shown = key
        self._show(self.call, pop)

    def _show_nothing(self) -> None:
        self.query_one("#caller-line", Static).update(Text(T("waiting"), style="dim"))
        self.query_one("#caller-status", Static).update("")
        for part in ("#near-title", "#near-matches", "#caller-actions", "#exact-matches"):
            self.query_one(part).display = False

    def _show(self, call: CallView, pop: ScreenPop | None) -> None:
        rules = self.app.session.caller_id_rules()  # type: ignore[attr-defined]
        line = Text(f"{T('caller')}: ", style="bold")
        line.append(labels.phone_number(call.number, rules), style="bold")
        if call.ddr:
            source = call.traffic_source or (pop.traffic_source if pop else None)
            line.append("\n" + T("ddr", ddr=labels.phone_number(call.ddr, rules),
                                 source=source.name if source else T("no_source")), style="")
        self.query_one("#caller-line", Static).update(line)
        exact = self.query_one("#exact-matches", ListView)
        near = self.query_one("#near-matches", ListView)
        exact.clear()
        near.clear()
        status = self.query_one("#caller-status", Static)
        lookup = pop.lookup if pop else None
        if pop is None:
            status.update(Text(T("looking"), style="italic"))
        elif pop.error:
            status.update(Text(T("crm_error", error=pop.error), style="bold red"))
        elif lookup and lookup.exact:
            message = T("found", n=len(lookup.exact))
            if lookup.truncated:
                message += "  " + T("truncated", n=len(lookup.exact))
            status.update(message)
        else:
            status.update(T("none"))
        if lookup:
            exact.extend(MatchItem(match) for match in lookup.exact)
            near.extend(MatchItem(match) for match in lookup.near)
        exact.display = bool(lookup and lookup.exact)
        self.query_one("#near-title").display = near.display = bool(lookup and lookup.near)
        has_number = bool(lookup and lookup.e164)
        self.query_one("#caller-actions").display = has_number
        if lookup and lookup.exact and not self.app.focused:
            exact.focus()

    @on(ListView.Selected)
    def _open(self, event: ListView.Selected) -> None:
        if isinstance(event.item, MatchItem) and event.item.match.customer.id is not None:
            call_id = self.call.call_id if self.call else None
            self.app.open_customer(event.item.match.customer.id, call_id=call_id)  # type: ignore[attr-defined]

    @on(Button.Pressed, "#caller-new")
    def new_customer(self) -> None:
        if self.call is None:
            return
        from tui_caa.ui.screens.customer_form import NewCustomerScreen

        call_id = self.call.call_id

        def created(customer: object) -> None:
            customer_id = getattr(customer, "id", None)
            if customer_id is not None:
                self.app.open_customer(customer_id, call_id=call_id, tab="register")  # type: ignore[attr-defined]
                self._reload_pop()

        self.app.push_screen(NewCustomerScreen(self.call.number or "", call_id=call_id), created)

    @on(Button.Pressed, "#caller-associate")
    def associate(self) -> None:
        if self.call is None:
            return
        from tui_caa.ui.screens.customer_form import AssociatePhoneScreen

        self.app.push_screen(AssociatePhoneScreen(self.call.number or ""), lambda _: self._reload_pop())

    def _reload_pop(self) -> None:
        """After a new customer or an association, the caller is known: look again."""
        call = self.call
        if call is None:
            return

        def found(lookup: object) -> None:
            model = self.app.model  # type: ignore[attr-defined]
            old = model.pops.get(call.call_id) or self._last_pop
            pop = ScreenPop(call.extension, call.call_id, lookup, old.traffic_source if old else None)  # type: ignore[arg-type]
            model.pops[call.call_id] = pop
            self._last_pop = pop
            self.refresh_caller()

        self.app.run_command(lambda: self.app.session.lookup(call.number or ""), done=found)  # type: ignore[attr-defined]
