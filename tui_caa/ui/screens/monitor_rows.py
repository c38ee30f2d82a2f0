"""What one row of the monitor shows, as plain comparable values, and how it is chosen: which of an
extension's calls the row shows, and which customer the screen pop found for it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from tui_caa.domain import CallState, ExtensionState
from tui_caa.ui.i18n import Catalog
from tui_caa.ui.model import CallView, ConsoleModel

T = Catalog({
    "not_registered": ("sem cadastro", "not in the CRM"),
    "more_customers": ("+{n}", "+{n}"),
    "lookup_failed": ("CRM indisponível", "CRM unavailable"),
})

#: which call an extension row shows when it has several: the one being talked on first
CALL_PRIORITY = {CallState.ACTIVE: 0, CallState.CONSULTING: 1, CallState.HELD: 2, CallState.RINGING: 3,
                 CallState.DIALING: 4}
ANSWERED_STATES = frozenset({CallState.ACTIVE, CallState.CONSULTING, CallState.HELD})

def extension_sort_key(extension: str) -> tuple[int, int, str]:
    """Numeric extensions in numeric order (1001 < 1002 < 10010), anything else after them."""
    return (0, int(extension), extension) if extension.isdigit() else (1, 0, extension)


@dataclass(frozen=True, slots=True)
class RowValues:
    """What one row shows, as plain comparable values (the cells are rendered from these)."""

    seller: str
    extension: str
    state: ExtensionState
    caller: str
    customer: str
    duration: str
    today: int
    number_digits: str = ""  # for the filter: "98765" finds "(51) 98765-4321"

    def cell(self, column: str) -> object:
        return getattr(self, column)


@dataclass
class MonitorStats:
    """Counters the tests and the benchmark read (what the screen did, not how long it took)."""

    ticks: int = 0  # applies that had something to do
    rows_applied: int = 0  # rows recomputed by those applies
    cell_updates: int = 0  # cells written
    rows_added: int = 0
    rows_removed: int = 0
    last_tick_rows: int = 0
    per_row_updates: Counter[str] = field(default_factory=Counter)  # cell updates per row in the last tick


def current_call(calls: Iterable[CallView]) -> CallView | None:
    """The call a row shows: the one being talked on first, then held, ringing, dialing."""
    best: CallView | None = None
    best_key: tuple[int, datetime] | None = None
    for call in calls:
        key = (CALL_PRIORITY.get(call.state, 9), call.started_at)
        if best_key is None or key < best_key:
            best, best_key = call, key
    return best


def customer_of(model: ConsoleModel, call: CallView) -> str:
    """The customer the pop found for the call: "Ana Souza", "Ana Souza +1" (several), "≈ Ana"
    (a near match only), "sem cadastro", or "" while the lookup runs."""
    pop = model.pops.get(call.call_id)
    if pop is None:
        return ""
    if pop.lookup is None:
        return T("lookup_failed") if pop.error else ""
    exact = pop.lookup.exact
    if exact:
        name = exact[0].customer.name
        return f"{name} {T('more_customers', n=len(exact) - 1)}" if len(exact) > 1 else name
    if pop.lookup.near:
        return f"≈ {pop.lookup.near[0].customer.name}"
    return T("not_registered") if pop.lookup.e164 else ""
