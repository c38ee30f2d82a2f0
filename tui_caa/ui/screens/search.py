"""Finding a customer by name, CPF/CNPJ, plate or phone: the search widget (used here and by the
"associate the phone to an existing customer" form) and the "Buscar cliente" dialog.

The search runs as the agent types (debounced, in a worker: keys are never blocked) and at once on
Enter; the results are a table, and Enter (or a click on the highlighted row) picks a customer."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, DataTable, Input, Label

from tui_caa.domain import Customer, DomainError, format_document
from tui_caa.phones import display
from tui_caa.ui import labels
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.phone_problems import phone_problem

T = Catalog({
    "title": ("Buscar cliente", "Find customer"),
    "placeholder": ("Nome, CPF/CNPJ, placa ou telefone", "Name, CPF/CNPJ, plate or phone"),
    "hint": ("Digite para buscar; ↓ ou Enter vão para a lista; Enter escolhe o cliente.",
             "Type to search; ↓ or Enter move to the list; Enter picks the customer."),
    "name": ("Nome", "Name"),
    "document": ("CPF/CNPJ", "CPF/CNPJ"),
    "phones": ("Telefones", "Phones"),
    "city": ("Cidade", "City"),
    "found": ("{n} cliente(s) encontrado(s)", "{n} customer(s) found"),
    "found_max": ("{n} clientes mostrados: refine a busca para ver outros",
                  "{n} customers shown: narrow the search to see others"),
    "none": ("Nenhum cliente encontrado para '{query}'", "No customer found for '{query}'"),
    "searching": ("Buscando…", "Searching…"),
    "unavailable": ("Não foi possível buscar: {problem}", "Could not search: {problem}"),
    "pick": ("Escolher", "Pick"),
    "cancel": ("Cancelar", "Cancel"),
    "results": ("Ir para a lista", "Go to the list"),
})

#: how long the search waits after the last key before asking the CRM (seconds)
DEBOUNCE_SECONDS = 0.3
SEARCH_LIMIT = 50

def phones_text(customer: Customer) -> str:
    return ", ".join(
        f"{labels.slot(p.slot)[:3]} {display(p.e164) if p.e164 else p.raw}" for p in customer.phones
    )


def place_text(customer: Customer) -> str:
    return "/".join(part for part in (customer.city, customer.state) if part)


class CustomerSearch(Vertical):
    """Search field + results table; posts `CustomerSearch.Picked` when the agent picks a row."""

    DEFAULT_CSS = """
    CustomerSearch { height: auto; }
    CustomerSearch #search-problem { color: $error; height: auto; }
    CustomerSearch #search-status { color: $text-muted; height: 1; }
    CustomerSearch DataTable { height: auto; max-height: 16; min-height: 3; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "results", T("results"), id="search.results", show=False),
    ]

    class Picked(Message):
        def __init__(self, search: CustomerSearch, customer: Customer) -> None:
            super().__init__()
            self.search = search
            self.customer = customer

        @property
        def control(self) -> CustomerSearch:
            return self.search

    def __init__(self, query: str = "", *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._initial = query
        self._timer: Timer | None = None
        self._searched: str | None = None
        self._results: dict[str, Customer] = {}

    def compose(self) -> ComposeResult:
        yield Input(value=self._initial, placeholder=T("placeholder"), id="search-query")
        yield Label("", id="search-problem")
        yield Label(T("hint"), id="search-status")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="search-results")

    def on_mount(self) -> None:
        table = self.query_one("#search-results", DataTable)
        table.add_column(T("name"), key="name")
        table.add_column(T("document"), key="document")
        table.add_column(T("phones"), key="phones")
        table.add_column(T("city"), key="city")
        self.query_one("#search-problem", Label).display = False
        if self._initial.strip():
            self.search_now()

    # ---- reading ----
    @property
    def query_text(self) -> str:
        return self.query_one("#search-query", Input).value.strip()

    @property
    def results(self) -> list[Customer]:
        return list(self._results.values())

    def highlighted(self) -> Customer | None:
        table = self.query_one("#search-results", DataTable)
        if not self._results or table.cursor_row < 0 or table.cursor_row >= table.row_count:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self._results.get(str(key))

    def focus_query(self) -> None:
        self.query_one("#search-query", Input).focus()

    # ---- searching ----
    @on(Input.Changed, "#search-query")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_SECONDS, self._debounced)

    def _debounced(self) -> None:
        self._timer = None
        if self.query_text != (self._searched or ""):
            self.search_now()

    @on(Input.Submitted, "#search-query")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.query_text == self._searched and self._results:
            self.action_results()
            return
        self.search_now(focus_results=True)

    def search_now(self, *, focus_results: bool = False) -> None:
        query = self.query_text
        self._searched = query
        self.run_worker(self._search(query, focus_results), group="customer-search", exclusive=True,
                        exit_on_error=False, description="customer search")

    async def _search(self, query: str, focus_results: bool) -> None:
        problem = self.query_one("#search-problem", Label)
        status = self.query_one("#search-status", Label)
        if not query:
            self._show([])
            problem.display = False
            status.update(T("hint"))
            return
        status.update(T("searching"))
        try:
            found = await self.app.session.search_customers(query, limit=SEARCH_LIMIT)  # type: ignore[attr-defined]
        except DomainError as exc:
            self._show([])
            text = phone_problem(exc, raw=query, searching=True) if exc.field == "search" else str(exc)
            problem.update(text)
            problem.display = True
            status.update("")
            return
        except (TimeoutError, OSError) as exc:
            self._show([])
            problem.update(T("unavailable", problem=str(exc) or type(exc).__name__))
            problem.display = True
            status.update("")
            return
        if query != self.query_text and not focus_results:
            return  # the agent kept typing: a newer search follows
        problem.display = False
        self._show(found)
        if not found:
            status.update(T("none", query=query))
        elif len(found) >= SEARCH_LIMIT:
            status.update(T("found_max", n=len(found)))
        else:
            status.update(T("found", n=len(found)))
        if focus_results and found:
            self.query_one("#search-results", DataTable).focus()

    def _show(self, customers: list[Customer]) -> None:
        table = self.query_one("#search-results", DataTable)
        table.clear()
        self._results = {}
        for customer in customers:
            key = str(customer.id)
            self._results[key] = customer
            table.add_row(customer.name, format_document(customer.document) if customer.document else "",
                          phones_text(customer), place_text(customer), key=key)
        if customers:
            table.move_cursor(row=0)

    # ---- picking ----
    def action_results(self) -> None:
        if self._results:
            self.query_one("#search-results", DataTable).focus()

    @on(DataTable.RowSelected, "#search-results")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        customer = self._results.get(str(event.row_key.value))
        if customer is not None:
            self.post_message(self.Picked(self, customer))


class SearchScreen(ModalScreen[Customer | None]):
    """"Buscar cliente": dismisses with the picked customer (None when cancelled)."""

    CSS_PATH = "search.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", T("cancel"), id="search.cancel"),
    ]

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self._query = query

    def compose(self) -> ComposeResult:
        with Vertical(id="search-dialog"):
            yield Label(T("title"), classes="title")
            yield CustomerSearch(self._query, id="customer-search")
            with Horizontal(classes="buttons"):
                yield Button(T("cancel"), id="cancel")
                yield Button(T("pick"), variant="primary", id="pick")

    def on_mount(self) -> None:
        self.query_one(CustomerSearch).focus_query()

    @on(CustomerSearch.Picked)
    def _picked(self, event: CustomerSearch.Picked) -> None:
        self.dismiss(event.customer)

    @on(Button.Pressed, "#pick")
    def _pick_button(self) -> None:
        customer = self.query_one(CustomerSearch).highlighted()
        if customer is not None:
            self.dismiss(customer)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
