"""How many calls each extension has had today (the monitor's "Ligações hoje"): what the CRM
already holds when the gateway starts, plus every call the gateway sees begin after that. A new
local day starts again from zero."""

from __future__ import annotations

import logging
from datetime import date, datetime, time

from tui_caa.domain.errors import DomainError

log = logging.getLogger(__name__)


def local_day(at: datetime) -> date:
    return at.astimezone().date()


def day_start(day: date) -> datetime:
    """The first instant of `day`, local time (the gateway machine's zone), as an aware datetime."""
    return datetime.combine(day, time()).astimezone()


class DailyCallCounts:
    def __init__(self, today: date) -> None:
        self._day = today
        self._counts: dict[str, int] = {}

    async def load(self, store: object) -> None:
        """Today's calls already in the CRM; unreadable (CRM down) counts from zero, and says so."""
        try:
            self._counts = dict(await store.call_counts_since(day_start(self._day)))  # type: ignore[attr-defined]
        except DomainError as exc:
            log.warning("today's call counts not read from the CRM (counting from now on): %s", exc)

    def call_began(self, extension: str, at: datetime) -> None:
        self._roll(local_day(at))
        self._counts[extension] = self._counts.get(extension, 0) + 1

    def counts(self, at: datetime, extension: str | None = None) -> dict[str, int]:
        """Everyone's counts, or one extension's."""
        self._roll(local_day(at))
        if extension is None:
            return dict(self._counts)
        return {extension: self._counts[extension]} if extension in self._counts else {}

    def _roll(self, day: date) -> None:
        if day > self._day:
            self._day, self._counts = day, {}
