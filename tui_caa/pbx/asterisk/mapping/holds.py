"""Holds the driver asked for: whether a hold by NOTIFY happened (`hold_unconfirmed`), and hold by
park.

Hold by park (`hold_method = "park"`): for the agent, one call on hold and resumed, although
Asterisk parks the other party and hangs the agent's channel up (mixed into `AmiMapper`).

What a real Asterisk 20 does (`fixtures/live/f_hold_resume_park.ami`): the driver's `Park` of the
other party (TimeoutChannel = the agent's channel) gives `ParkedCall` (ParkerDialString
`PJSIP/<ext>`), the other party enters a parking (holding) bridge, and the agent's channel leaves
the call's bridge and hangs up. The resume is an `Originate` of the agent's phone into the slot: a
new channel, bridged with the parked party after `UnParkedCall`.

So the driver announces each hold by park (`expect_hold_park`), and then:
- `ParkedCall` of it: CallHeld (not CallParked), and the leg is kept while its channel is gone;
- the agent's channel hangs up: nothing (the call is on hold, not over);
- the agent's new channel joins the parked party: the same leg again, CallResumed: same call id,
  DDR, recording, times; someone else picking the slot up: the leg ends as transferred to them;
- the parked party hangs up (`ParkedCallGiveUp`): CallEnded, answered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tui_caa.domain.events import CallEnded, CallHeld, CallResumed, CallTransferred, CommandFailed, PbxEvent
from tui_caa.domain.telephony import Capability, CommandFailure, Direction, Disposition
from tui_caa.pbx.asterisk.mapping.model import Channel, call_id_of
from tui_caa.pbx.asterisk.packets import Packet

if TYPE_CHECKING:
    from tui_caa.pbx.asterisk.mapping.mapper import AmiMapper

    _Base = AmiMapper
else:
    _Base = object


@dataclass(slots=True)
class HeldLeg:
    """An extension's leg on hold by park: what its channel knew, kept while no channel carries it."""

    extension: str
    call_id: str
    slot: str
    parkee: str  # Uniqueid of the parked party
    direction: Direction | None
    number: str | None
    started_at: datetime | None
    answered_at: datetime | None
    recording: str | None


class HoldParkMixin(_Base):
    def expect_hold_park(self, uniqueid: str) -> None:
        """The driver parks the other party of this extension channel to put the call on hold."""
        self.hold_parks.add(uniqueid)

    def hold_unconfirmed(self, uniqueid: str, held: bool, now: datetime) -> list[PbxEvent]:
        """The driver asked the phone on this channel to hold (`held`) or resume: after its wait,
        a leg that is not in that state was not confirmed by any event."""
        self._packet, self._now = None, now
        chan = self.channels.get(uniqueid)
        if chan is None or chan.done or chan.ext is None or chan.held == held:
            return []
        return [CommandFailed(at=self._at(), extension=chan.ext, call_id=call_id_of(chan), command=Capability.HOLD,
                              reason=CommandFailure.HOLD_NOT_CONFIRMED if held else CommandFailure.RESUME_NOT_CONFIRMED)]

    def keep_held(self, legs: Iterable[HeldLeg], parked: list[Packet]) -> None:
        """After a reconnect (a fresh mapper): the legs held by park whose party still waits in its
        slot, as `ParkedCalls` lists it now."""
        where = {item.get("ParkingSpace"): item.get("ParkeeUniqueid") for item in parked}
        for held in legs:
            if where.get(held.slot) == held.parkee:
                self.held_legs[held.parkee] = held
                self.parked[held.slot] = held.parkee

    def held_by_park(self, extension: str, call_id: str) -> HeldLeg | None:
        return next((h for h in self.held_legs.values() if h.extension == extension and h.call_id == call_id), None)

    def _parked_for_hold(self, chan: Channel, slot: str, parkee: str, out: list[PbxEvent]) -> bool:
        """`ParkedCall` of a park the driver made for a hold: the leg is held, not ended."""
        if chan.uniqueid not in self.hold_parks:
            return False
        self.hold_parks.discard(chan.uniqueid)
        self.held_legs[parkee] = HeldLeg(
            extension=chan.ext or "", call_id=call_id_of(chan), slot=slot, parkee=parkee, direction=chan.direction,
            number=chan.number, started_at=chan.started_at, answered_at=chan.answered_at,
            recording=self._recording_for(chan))
        chan.held = True
        out.append(self._call_event(CallHeld, chan))
        chan.done = True  # its channel goes now: the leg lives on in held_legs
        return True

    def _resume_parked(self, chan: Channel, other: Channel, out: list[PbxEvent]) -> bool:
        """An extension's channel joined a party parked for a hold: the held leg again, or (another
        extension took the slot) the end of it."""
        held = self.held_legs.pop(other.uniqueid, None)
        if held is None:
            return False
        if held.extension != chan.ext:
            self._held_leg_ended(held, out, transferred_to=chan.ext)
            return False  # the other extension's own leg starts as any pickup's does
        chan.leg_id = held.call_id
        chan.announced = chan.answered = True
        chan.direction, chan.number = held.direction, held.number
        chan.started_at, chan.answered_at = held.started_at, held.answered_at
        chan.recording = held.recording
        out.append(self._call_event(CallResumed, chan))
        return True

    def _held_party_gone(self, parkee: str, out: list[PbxEvent]) -> None:
        """The parked party hung up (or its parking ended) while the agent held it."""
        held = self.held_legs.pop(parkee, None)
        if held is not None:
            self._held_leg_ended(held, out)

    def _held_leg_ended(self, held: HeldLeg, out: list[PbxEvent], transferred_to: str | None = None) -> None:
        call = self.calls.get(held.call_id)
        common = {"at": self._at(), "extension": held.extension, "call_id": held.call_id,
                  "direction": held.direction, "number": held.number,
                  "ddr": call.ddr if call is not None and held.direction is Direction.INBOUND else None}
        if transferred_to is not None:
            out.append(CallTransferred(**common, target=transferred_to, recording_ref=held.recording))
        else:
            out.append(CallEnded(**common, disposition=Disposition.ANSWERED if held.answered_at else
                                 Disposition.NO_ANSWER, recording_ref=held.recording))
