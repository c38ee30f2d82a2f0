"""Without AMI, what can be known about a dial: ForIP accepted it, then its ticket shows up.

`disca_crm` only queues an Asterisk call file, and the CRM API pushes nothing. So a dial ForIP
accepted is reported as CallDialing (at once, or when a scheduled one is due), and stays "dialing"
in the snapshot until its ticket appears in f_bilhetes_chamadas: then CallAnswered (if it was) and
CallEnded, with the ticket's disposition and recording. A ticket matches a dial when it is the
agent's outgoing ticket to that number from the dial's time on; one whose recording is named by
ForIP's call id (GRAVACOES/<callid>.WAV) is preferred. [I] With no ticket after `give_up_after`
seconds the call is ended as FAILED (logged), so the console never keeps a ghost call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from tui_caa.domain.events import ActiveCall, CallAnswered, CallDialing, CallEnded, CallEvent
from tui_caa.domain.telephony import CallState, Direction, Disposition
from tui_caa.pbx.forip.tickets import CallTicket

TICKET_SLACK = timedelta(seconds=60)  # the PBX's clock may run a little behind ours


@dataclass(slots=True)
class PendingDial:
    callid: str
    agent: str
    phone: str
    due: datetime  # when the PBX places it
    announced: bool = False


class DialTracker:
    def __init__(self, give_up_after: float) -> None:
        self.give_up_after = timedelta(seconds=give_up_after)
        self.pending: dict[str, PendingDial] = {}
        self._used: set[int] = set()  # ticket ids already matched to a dial

    def accepted(self, callid: str, agent: str, phone: str, due: datetime) -> None:
        self.pending[callid] = PendingDial(callid, agent, phone, due)

    def announce_due(self, now: datetime) -> list[CallEvent]:
        """CallDialing for the dials whose time has come."""
        events: list[CallEvent] = []
        for dial in self.pending.values():
            if not dial.announced and dial.due <= now:
                dial.announced = True
                events.append(CallDialing(at=max(dial.due, now - timedelta(seconds=1)), extension=dial.agent,
                                          call_id=dial.callid, direction=Direction.OUTBOUND, number=dial.phone))
        return events

    def next_due(self) -> datetime | None:
        waiting = [d.due for d in self.pending.values() if not d.announced]
        return min(waiting) if waiting else None

    def watched(self) -> list[PendingDial]:
        return [d for d in self.pending.values() if d.announced]

    def active_calls(self) -> tuple[ActiveCall, ...]:
        return tuple(ActiveCall(call_id=d.callid, extension=d.agent, direction=Direction.OUTBOUND,
                                state=CallState.DIALING, number=d.phone, started_at=d.due)
                     for d in self.watched())

    def settle(self, dial: PendingDial, tickets: list[CallTicket], now: datetime) -> list[CallEvent]:
        """The events that close `dial`, if one of the agent's tickets is its outcome (or it is too old)."""
        ticket = self._match(dial, tickets)
        if ticket is None:
            if now - dial.due < self.give_up_after:
                return []
            del self.pending[dial.callid]
            return [CallEnded(at=now, extension=dial.agent, call_id=dial.callid, direction=Direction.OUTBOUND,
                              number=dial.phone, disposition=Disposition.FAILED)]
        self._used.add(ticket.id)
        del self.pending[dial.callid]
        common = {"extension": dial.agent, "call_id": dial.callid, "direction": Direction.OUTBOUND,
                  "number": dial.phone}
        start = max(dial.due, ticket.started_at)
        if not ticket.answered:
            return [CallEnded(at=start, disposition=ticket.disposition, **common)]
        return [CallAnswered(at=start, **common),
                CallEnded(at=start + timedelta(seconds=ticket.talk_seconds), disposition=Disposition.ANSWERED,
                          recording_ref=ticket.recording_ref, **common)]

    def _match(self, dial: PendingDial, tickets: list[CallTicket]) -> CallTicket | None:
        wanted = _digits(dial.phone)[-8:]
        candidates = [t for t in tickets
                      if t.id not in self._used and t.direction is Direction.OUTBOUND and t.extension == dial.agent
                      and _digits(t.number).endswith(wanted) and t.started_at >= dial.due - TICKET_SLACK]
        named = [t for t in candidates if t.recording_ref and dial.callid.split("/")[-1] in t.recording_ref]
        return (named or candidates or [None])[0]


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)
