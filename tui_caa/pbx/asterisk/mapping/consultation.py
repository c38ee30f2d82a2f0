"""Attended transfers (`Atxfer`): the consultation, what the consulted extension lives through, and
whether a transfer Asterisk accepted really started (mixed into `AmiMapper`).

What a real Asterisk 20 does (`fixtures/ami-attended-transfer.txt`, `fixtures/live/e2_consult_cancel.ami`):
`Atxfer` injects the feature code and the digits into the transferer's channel; the transferer is
put on Hold, a `Local/<target>@<context>-…;1/;2` pair is created in the *customer's* Linkedid, `;1`
(which nobody dialled) enters a new bridge, the transferer moves into it, and `;2` dials the
target's phone. So the target's channel carries the customer's Linkedid although the target only
ever speaks with the transferer:

- the consulted extension's leg is a call of its own: internal, from the transferer, without the
  customer's DDR or recording, with the target channel's Uniqueid as call id;
- when the transfer completes (`AttendedTransfer`), that consultation ends and the target's part of
  the customer's call starts there, as an answered call with the transferred party (same call id as
  the customer's call: its DDR and recording);
- when Asterisk aborts an `Atxfer` it had accepted (unknown target, a prompt missing), all that
  shows is Hold then Unhold with no consultation bridge in between; when the feature code is not
  recognised, not even that (the digits reach the other party as tones); when the target does not
  answer, the transferer comes back to the held party without the target having answered. The
  driver announces each `Atxfer` it sent (`expect_atxfer`), and these end in `CommandFailed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tui_caa.domain.events import (
    CallAnswered,
    CallConsulting,
    CallEnded,
    CallResumed,
    CallRinging,
    CommandFailed,
    PbxEvent,
)
from tui_caa.domain.telephony import Capability, CommandFailure, Direction, Disposition
from tui_caa.pbx.asterisk.mapping.model import Channel, num
from tui_caa.pbx.asterisk.packets import Packet

if TYPE_CHECKING:
    from tui_caa.pbx.asterisk.mapping.mapper import AmiMapper

    _Base = AmiMapper
else:
    _Base = object

# DialEnd status of the dial to the consulted phone → why the transfer did not happen
_TARGET_FAILURES = {
    "NOANSWER": CommandFailure.TARGET_NO_ANSWER,
    "BUSY": CommandFailure.TARGET_BUSY,
    "CHANUNAVAIL": CommandFailure.TARGET_UNAVAILABLE,
    "CONGESTION": CommandFailure.TARGET_UNAVAILABLE,
}


@dataclass(slots=True)
class AtxferWatch:
    """An `Atxfer` the driver sent and Asterisk accepted, until it is seen to work or to fail."""

    uniqueid: str  # the transferer's channel
    extension: str
    call_id: str
    target: str
    held: bool = False  # the feature started: Hold came
    started: bool = False  # the consultation bridge was formed
    local: str | None = None  # base name of the Local channel that dials the target
    answered: bool = False  # the target answered
    status: str | None = None  # DialEnd status of the dial to the target
    cancelled: bool = False  # the driver cancelled it (hung the consulted party up)


class ConsultationMixin(_Base):
    # ---- announced by the driver ----
    def expect_atxfer(self, watch: AtxferWatch) -> None:
        self.atxfers[watch.uniqueid] = watch

    def atxfer_cancelled(self, uniqueid: str) -> None:
        watch = self.atxfers.get(uniqueid)
        if watch is not None:
            watch.cancelled = True

    def atxfer_expired(self, uniqueid: str, now: datetime) -> list[PbxEvent]:
        """The driver's wait is over: an `Atxfer` that did not even put the call on hold was not
        carried out (its digits went to the other party as tones)."""
        self._packet, self._now = None, now
        watch = self.atxfers.get(uniqueid)
        if watch is None or watch.held or watch.started:
            return []
        del self.atxfers[uniqueid]
        return [self._failed(watch, CommandFailure.TRANSFER_NOT_STARTED)]

    # ---- the consulted extension ----
    def _consulting_through(self, dialer: Channel | None) -> Channel | None:
        """The transferer, when `dialer` (whoever rings an extension, through Local halves) is the
        `;1` half of an Atxfer's Local channel: nobody dialled it, it is not the call's first
        channel, and it shares the consultation bridge with the transferer."""
        if (dialer is None or dialer.dialer is not None or dialer.uniqueid == dialer.linkedid
                or not dialer.name.startswith("Local/") or not dialer.name.endswith(";1")):
            return None
        for uid in self.bridges.get(dialer.bridge or "", ()):
            other = self.channels.get(uid)
            if other is not None and other.ext is not None:
                watch = self.atxfers.get(other.uniqueid)
                if watch is not None:
                    watch.local = dialer.name[:-2]
                return other
        return None

    def _consult_answered(self, chan: Channel) -> None:
        for watch in self.atxfers.values():
            if watch.local is not None and watch.local == chan.consult_local:
                watch.answered = True

    def _consult_dial_ended(self, dest: Channel, status: str) -> None:
        for watch in self.atxfers.values():
            if watch.local is not None and watch.local == dest.consult_local:
                watch.status = status

    def _consultation_completed(self, p: Packet, out: list[PbxEvent]) -> None:
        """`AttendedTransfer` Success: the consulted extension's consultation ends, and its part of
        the transferred call starts now, with the party the transferer held."""
        self.atxfers.pop(p.get("OrigTransfererUniqueid", ""), None)
        local = p.get("TransferTargetChannel", "")
        if not local.startswith("Local/") or local[-2:] not in (";1", ";2"):
            return
        base = local[:-2]
        held = self.channels.get(p.get("TransfereeUniqueid", ""))
        for chan in list(self.channels.values()):
            if chan.consult_local != base or chan.done or not chan.announced:
                continue
            out.append(self._call_event(CallEnded, chan, recording_ref=chan.recording,
                                        disposition=Disposition.ANSWERED if chan.answered else Disposition.NO_ANSWER))
            call = self.calls.get(chan.linkedid)
            chan.leg_id = chan.consult_local = None
            if held is not None and held.ext is not None:
                chan.direction, chan.number = Direction.INTERNAL, held.ext
            elif call is not None and call.inbound:
                chan.direction, chan.number = Direction.INBOUND, call.number
            else:
                chan.direction = Direction.OUTBOUND
                chan.number = (held.number or num(held.caller_num)) if held is not None else None
            chan.started_at = at = self._at()
            if chan.answered:
                chan.answered_at = at
                out.append(self._call_event(CallAnswered, chan))
            else:
                out.append(self._call_event(CallRinging, chan))

    # ---- the transferer ----
    def _consult_check(self, chan: Channel, members: set[str], out: list[PbxEvent]) -> None:
        """Atxfer moves the transferer out of the call's bridge into a new one with the target's
        `Local/<target>@<context>-…;1` channel, which nobody dialled: that is the consultation."""
        target = None
        for uid in members:
            other = self.channels.get(uid)
            if (other is not None and other is not chan and other.dialer is None and other.uniqueid != other.linkedid
                    and other.name.startswith("Local/") and other.name.endswith(";1")):
                target = other.name[6:].split("@", 1)[0]
        watch = self.atxfers.get(chan.uniqueid) if self.atxfers else None
        if target is not None and not chan.consulting:
            chan.consulting = True
            chan.consult_unheld = False
            if watch is not None:
                watch.started = True
            out.append(self._call_event(CallConsulting, chan, target=target))
        elif target is None and chan.consulting:
            chan.consulting = False  # back in the call: the consultation was cancelled
            if watch is not None:
                del self.atxfers[chan.uniqueid]
                if not watch.answered and not watch.cancelled:
                    reason = _TARGET_FAILURES.get(watch.status or "", CommandFailure.TARGET_NO_ANSWER)
                    out.append(self._failed(watch, reason))
            # resumed, unless an Unhold said so already or is still to come
            if not chan.held and not chan.consult_unheld:
                out.append(self._call_event(CallResumed, chan))

    def _atxfer_held(self, chan: Channel) -> None:
        watch = self.atxfers.get(chan.uniqueid)
        if watch is not None:
            watch.held = True

    def _atxfer_unheld(self, chan: Channel, out: list[PbxEvent]) -> None:
        """Hold then Unhold and no consultation in between: Asterisk gave the transfer up."""
        watch = self.atxfers.get(chan.uniqueid)
        if watch is not None and watch.held and not watch.started:
            del self.atxfers[chan.uniqueid]
            out.append(self._failed(watch, CommandFailure.TRANSFER_ABORTED))

    def _failed(self, watch: AtxferWatch, reason: CommandFailure) -> CommandFailed:
        return CommandFailed(at=self._at(), extension=watch.extension, call_id=watch.call_id,
                             command=Capability.ATTENDED_TRANSFER, reason=reason, target=watch.target)
