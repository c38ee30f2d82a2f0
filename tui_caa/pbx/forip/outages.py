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
from datetime import timedelta

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

