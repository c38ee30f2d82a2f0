"""The driver's own dials (`Originate`): announced before they are sent, so that the agent's phone
ringing is the dial starting, and a dial that fails before any channel event still ends the call
for the extension (mixed into `AmiMapper`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_caa.domain.events import CallDialing, CallEnded, PbxEvent
from tui_caa.domain.telephony import Direction, Disposition
from tui_caa.pbx.asterisk.mapping.model import ORIGINATE_FAILURES, Channel, PendingDial
from tui_caa.pbx.asterisk.packets import Packet

if TYPE_CHECKING:
    from tui_caa.pbx.asterisk.mapping.mapper import AmiMapper

    _Base = AmiMapper
else:
    _Base = object


class OriginateMixin(_Base):
    def expect_originate(self, dial: PendingDial) -> None:
        """The driver sent this Originate: its failure must still end the call for the extension."""
        self.pending_dials[dial.channel_id] = dial

    def _dial_started(self, chan: Channel, dial: PendingDial, out: list[PbxEvent]) -> None:
        """Our own dial: its channel rings the agent's phone first; the call is the agent's from now,
        dialling the number it asked for (as Asterisk's CDR counts it too)."""
        dial.announced = True
        chan.originated = True
        chan.announced = True
        chan.direction = dial.direction
        chan.number = dial.number
        event = self._call_event(CallDialing, chan)
        chan.started_at = event.at
        out.append(event)

    def _foreign_dial(self, chan: Channel, shown: str | None, out: list[PbxEvent]) -> None:
        """A click-to-call this mapper was not told of (another AMI session's, e.g. `pbx events`, or
        ours before a reconnect): the driver's Originate names the number in the CallerID it gives
        the agent's phone, which Asterisk shows as the connected line; the dial starts now."""
        if not shown or not shown.isdigit() or shown == chan.ext:
            return
        direction = Direction.INTERNAL if self.is_internal_number(shown) else Direction.OUTBOUND
        self._dial_started(chan, PendingDial(channel_id=chan.uniqueid, extension=chan.ext or "", number=shown,
                                             direction=direction, channel=chan.name), out)

    def _originateresponse(self, p: Packet, out: list[PbxEvent]) -> None:
        dials = self.pending_dials
        if not dials:
            return
        dial = dials.pop(p.get("Uniqueid", ""), None)
        if dial is None:  # no ChannelId echoed (e.g. "<null>"): the requested channel and number
            name, exten = p.get("Channel", ""), p.get("Exten", "")
            dial = next((d for d in dials.values() if d.channel == name and d.number == exten), None)
            if dial is None:
                return
            del dials[dial.channel_id]
        if p.get("Response") == "Success" or dial.announced:
            return
        leg = next((c for c in self.channels.values() if c.linkedid == dial.channel_id and c.ext == dial.extension),
                   None)
        if leg is not None and (leg.announced or leg.done):
            return  # the channel events tell (or told) the end of this leg
        if leg is not None:
            leg.done = True
        out.append(CallEnded(at=self._at(), extension=dial.extension, call_id=dial.channel_id,
                             direction=dial.direction, number=dial.number,
                             disposition=ORIGINATE_FAILURES.get(p.get("Reason", ""), Disposition.FAILED)))
