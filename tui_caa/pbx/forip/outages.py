"""Calls that began and ended while ForIP's link was down, told from ForIP's call tickets.

With AMI the driver learns calls from the live channels only; a call that rings and ends during an
outage leaves no channel to see once the link is back, but ForIP writes its ticket
(`f_bilhetes_chamadas`, whose `linked_id` is the AMI Linkedid, the events' call id). After an
outage the driver reads the tickets of the window and emits, for each call it never reported,
the events a live call would have given, with the ticket's times (as the Planetfone driver does
from its CDR): CallRinging (or CallDialing), CallAnswered if answered, CallEnded.

[I] A ticket holds the call's start (`horario`) and its talk time (`tempo`), not the ringing time:
an answered call is taken as answered at its start and ended `tempo` seconds later; a call nobody
answered ends at its start.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tui_caa.domain.events import CallAnswered, CallDialing, CallEnded, CallEvent, CallRinging
from tui_caa.domain.telephony import Direction, Disposition
from tui_caa.pbx.forip.tickets import CallTicket

SEEN_LIMIT = 20_000  # call legs remembered: far more than a dealership's calls between two outages


class SeenCalls:
    """The (call id, extension) legs already reported, live or recovered; the oldest are forgotten."""

    def __init__(self, limit: int = SEEN_LIMIT) -> None:
        self.limit = limit
        self._legs: OrderedDict[tuple[str, str], None] = OrderedDict()

    def add(self, call_id: str, extension: str) -> None:
        key = (call_id, extension)
        self._legs[key] = None
        self._legs.move_to_end(key)
        while len(self._legs) > self.limit:
            self._legs.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._legs

    def __len__(self) -> int:
        return len(self._legs)

    def extensions(self) -> set[str]:
        return {extension for _, extension in self._legs}


@dataclass
class OutageWindow:
    """Which tickets are still to be read, and when: from a margin before the loss, read once when
    the link is back and once more `recheck` seconds later (tickets written late); a failed read is
    tried again after `retry` seconds. Times of reads are the event loop's (monotonic) seconds."""

    margin: float
    recheck: float
    retry: float
    lost_at: datetime | None = None  # when the link was last lost (None: not since the last read)
    since: datetime | None = None  # the tickets from then on are still to be read
    read_at: float = 0.0
    reads_left: int = 0

    def lost(self, at: datetime) -> None:
        self.lost_at = at

    def back(self, now: float) -> bool:
        """The link is back: True when there is an outage to read (merged with one still unread)."""
        if self.lost_at is None:
            return False
        since = self.lost_at - timedelta(seconds=self.margin)
        self.lost_at = None
        self.since = since if self.since is None else min(self.since, since)
        self.read_at = now
        self.reads_left = 2 if self.recheck else 1
        return True

    def wait(self, now: float) -> float | None:
        """Seconds until the next read is due (None: nothing to read)."""
        return None if self.since is None else max(0.0, self.read_at - now)

    def due(self, now: float) -> datetime | None:
        """The start of the window when a read is due now."""
        return self.since if self.since is not None and now >= self.read_at else None

    def read(self, now: float) -> None:
        self.reads_left -= 1
        if self.reads_left <= 0:
            self.since = None
        else:
            self.read_at = now + self.recheck

    def failed(self, now: float) -> None:
        self.read_at = now + self.retry


def unseen(tickets: Iterable[CallTicket], seen: SeenCalls, active: set[str]) -> list[CallTicket]:
    """One ticket per call leg never reported, oldest first. Legs of a call still under way (its
    call id among the live channels) are left for a later read: their ticket may not be final."""
    chosen: dict[tuple[str, str], CallTicket] = {}
    for ticket in tickets:
        key = (ticket.linked_id, ticket.extension)
        if not ticket.linked_id or key in seen or ticket.linked_id in active:
            continue
        before = chosen.get(key)
        if before is None or ticket.answered or not before.answered:  # the answered row tells most
            chosen[key] = ticket
    return sorted(chosen.values(), key=lambda t: (t.started_at, t.id))


def events_of(ticket: CallTicket, ddr: str | None) -> list[CallEvent]:
    """The events a live call would have given, at the ticket's times."""
    common = dict(extension=ticket.extension, call_id=ticket.linked_id, direction=ticket.direction,
                  number=ticket.number or None, ddr=ddr if ticket.direction is Direction.INBOUND else None)
    start = ticket.started_at
    placed = ticket.direction is Direction.OUTBOUND or (
        ticket.direction is Direction.INTERNAL and ticket.origem == ticket.extension)
    events: list[CallEvent] = [CallDialing(at=start, **common) if placed else CallRinging(at=start, **common)]
    if ticket.answered:
        events.append(CallAnswered(at=start, **common))
        events.append(CallEnded(at=start + timedelta(seconds=ticket.talk_seconds), disposition=Disposition.ANSWERED,
                                recording_ref=ticket.recording_ref, **common))
    else:
        disposition = Disposition.NO_ANSWER if ticket.disposition is Disposition.ANSWERED else ticket.disposition
        events.append(CallEnded(at=start, disposition=disposition, **common))
    return events

