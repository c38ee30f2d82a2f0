"""The AMI events of holds, transfers and parking: which leg moves where, and what that means for
each extension (mixed into `AmiMapper`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_caa.domain.events import CallHeld, CallParked, CallResumed, CallTransferred, PbxEvent
from tui_caa.pbx.asterisk.mapping.model import Channel, num
from tui_caa.pbx.asterisk.packets import Packet

if TYPE_CHECKING:
    from tui_caa.pbx.asterisk.mapping.mapper import AmiMapper

    _Base = AmiMapper
else:
    _Base = object


class TransferMixin(_Base):
    def expect_redirect_transfer(self, uniqueid: str, target: str) -> None:
        """The driver moved the other party of this channel to `target` with Redirect and now hangs
        the channel up: its end is a transfer, not a plain hang-up."""
        chan = self.channels.get(uniqueid)
        if chan is not None:
            chan.transfer_target = target

    def _hold(self, p: Packet, out: list[PbxEvent]) -> None:
        chan = self._channel(p)
        if chan is not None and self.atxfers:
            self._atxfer_held(chan)
        if chan is None or chan.ext is None or not chan.announced or chan.done or chan.held:
            return
        chan.held = True
        out.append(self._call_event(CallHeld, chan))

    def _unhold(self, p: Packet, out: list[PbxEvent]) -> None:
        chan = self._channel(p)
        if chan is not None and self.atxfers:
            self._atxfer_unheld(chan, out)
        # Asterisk also sends an Unhold for a channel that was not held (e.g. before a BlindTransfer)
        if chan is None or not chan.held or chan.done:
            return
        chan.held = False
        chan.consult_unheld = chan.consulting
        out.append(self._call_event(CallResumed, chan))

    def _transferred(self, chan: Channel | None, target: str, attended: bool,
                     out: list[PbxEvent]) -> None:
        if chan is None or chan.ext is None or not chan.announced or chan.done:
            return
        chan.done = True
        out.append(self._call_event(CallTransferred, chan, target=target, attended=attended,
                                    recording_ref=self._recording_for(chan)))

    def _blindtransfer(self, p: Packet, out: list[PbxEvent]) -> None:
        if p.get("Result") != "Success":
            return
        chan = self.channels.get(p.get("TransfererUniqueid", ""))
        self._transferred(chan, p.get("Extension", ""), False, out)

    def _attendedtransfer(self, p: Packet, out: list[PbxEvent]) -> None:
        if p.get("Result") != "Success":
            return
        target = (num(p.get("TransferTargetCallerIDNum")) or num(p.get("SecondTransfererConnectedLineNum"))
                  or "")
        chan = self.channels.get(p.get("OrigTransfererUniqueid", ""))
        self._transferred(chan, target, True, out)
        self._consultation_completed(p, out)

    def _parkedcall(self, p: Packet, out: list[PbxEvent]) -> None:
        slot = p.get("ParkingSpace", "")
        parkee = p.get("ParkeeUniqueid", "")
        if not slot:
            return
        self.parked[slot] = parkee
        m = self._dev_re.match(p.get("ParkerDialString", ""))
        if m is None:
            return
        ext, linkedid = m.group("ext"), p.get("ParkeeLinkedid", "")
        for chan in self.channels.values():
            if chan.ext == ext and chan.linkedid == linkedid and chan.announced and not chan.done:
                if self.hold_parks and self._parked_for_hold(chan, slot, parkee, out):
                    return
                chan.done = True
                out.append(self._call_event(CallParked, chan, slot=slot, recording_ref=self._recording_for(chan)))
                return

    def _unparked(self, p: Packet, out: list[PbxEvent]) -> None:
        slot, parkee = p.get("ParkingSpace", ""), p.get("ParkeeUniqueid", "")
        if self.parked.get(slot) == parkee:
            del self.parked[slot]
        if self.held_legs:
            if p.get("Event") == "ParkedCallGiveUp":  # the held party hung up
                self._held_party_gone(parkee, out)
            elif p.get("Event") == "ParkedCallTimeOut":  # it rings back at the agent: a ring of the same call
                self.held_legs.pop(parkee, None)
