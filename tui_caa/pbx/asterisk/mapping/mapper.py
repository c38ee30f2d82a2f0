"""`AmiMapper`: AMI events in, domain events out (see the package's docstring for what it means)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from tui_caa.domain.events import (
    CallAnswered,
    CallDialing,
    CallEnded,
    CallRinging,
    CallTransferred,
    PbxEvent,
)
from tui_caa.domain.telephony import Direction, Disposition, ExtensionState
from tui_caa.pbx.asterisk.mapping.consultation import AtxferWatch, ConsultationMixin
from tui_caa.pbx.asterisk.mapping.holds import HeldLeg, HoldParkMixin
from tui_caa.pbx.asterisk.mapping.model import (
    ANSWERED_ELSEWHERE_CAUSE,
    DIAL_FAILURES,
    Call,
    Channel,
    MapperConfig,
    PendingDial,
    call_id_of,
    dialed_number,
    num,
)
from tui_caa.pbx.asterisk.mapping.originates import OriginateMixin
from tui_caa.pbx.asterisk.mapping.resync import load_active_channels
from tui_caa.pbx.asterisk.mapping.states import ExtensionStateMixin
from tui_caa.pbx.asterisk.mapping.transfers import TransferMixin
from tui_caa.pbx.asterisk.packets import Packet


class AmiMapper(ConsultationMixin, HoldParkMixin, TransferMixin, OriginateMixin, ExtensionStateMixin):
    def __init__(self, config: MapperConfig | None = None) -> None:
        self.config = config = config or MapperConfig()
        self._chan_re = re.compile(config.channel_pattern)
        self._dev_re = re.compile(config.device_pattern)
        self._trunk = frozenset(config.trunk_contexts)
        did = config.did_variable.lstrip("_")
        self._did_vars = frozenset({did, "_" + did, "__" + did})
        self._rec_var = config.recording_variable
        self._varset_vars = self._did_vars | {self._rec_var}
        self._known = config.known_extensions
        self.channels: dict[str, Channel] = {}
        self.calls: dict[str, Call] = {}
        self.bridges: dict[str, set[str]] = {}
        self.extension_states: dict[str, ExtensionState] = {}
        self.pending_dials: dict[str, PendingDial] = {}  # by ChannelId
        self.atxfers: dict[str, AtxferWatch] = {}  # by the transferer's Uniqueid
        self.hold_parks: set[str] = set()  # extension channels whose other party the driver parks for a hold
        self.held_legs: dict[str, HeldLeg] = {}  # legs on hold by park, by the parked party's Uniqueid
        self.parked: dict[str, str] = {}  # parking slot → Uniqueid of the parked channel
        self._locals: dict[str, str] = {}  # Local channel base name → Uniqueid of its ;1 half
        self._packet: Packet | None = None
        self._now: datetime | None = None
        self._dispatch: dict[str, Callable[[Packet, list[PbxEvent]], None]] = {
            "Newchannel": self._newchannel,
            "Newstate": self._newstate,
            "VarSet": self._varset,
            "NewCallerid": self._newcallerid,
            "MixMonitorStart": self._mixmonitor,
            "DialBegin": self._dialbegin,
            "DialEnd": self._dialend,
            "BridgeEnter": self._bridgeenter,
            "BridgeLeave": self._bridgeleave,
            "Hold": self._hold,
            "Unhold": self._unhold,
            "BlindTransfer": self._blindtransfer,
            "AttendedTransfer": self._attendedtransfer,
            "HangupRequest": self._hanguprequest,
            "SoftHangupRequest": self._hanguprequest,
            "Hangup": self._hangup,
            "OriginateResponse": self._originateresponse,
            "ParkedCall": self._parkedcall,
            "UnParkedCall": self._unparked,
            "ParkedCallTimeOut": self._unparked,
            "ParkedCallGiveUp": self._unparked,
            "DeviceStateChange": self._devicestate,
            "ExtensionStatus": self._extensionstatus,
        }

    # ---- public ----
    def feed(self, packet: Packet, now: datetime | None = None) -> list[PbxEvent]:
        handler = self._dispatch.get(packet.get("Event"))  # type: ignore[arg-type]
        if handler is None:
            return []
        out: list[PbxEvent] = []
        self._packet = packet
        self._now = now
        handler(packet, out)
        return out

    def feed_all(self, packets: Iterable[Packet], now: datetime | None = None) -> list[PbxEvent]:
        out: list[PbxEvent] = []
        for packet in packets:
            out.extend(self.feed(packet, now))
        return out

    def peers(self, chan: Channel) -> list[Channel]:
        """The other channels in the bridge of `chan` (the other party; in a consultation, the target)."""
        members = self.bridges.get(chan.bridge or "", ())
        return [self.channels[uid] for uid in members if uid != chan.uniqueid and uid in self.channels]

    # ---- helpers ----
    def _at(self) -> datetime:
        packet = self._packet
        if packet is not None:
            tv = packet.get("EventTV")
            if tv:
                try:
                    return datetime.fromisoformat(tv)
                except ValueError:
                    pass
            ts = packet.get("Timestamp")
            if ts:
                try:
                    return datetime.fromtimestamp(float(ts), UTC)
                except ValueError:
                    pass
        return self._now or datetime.now(UTC)

    def load_active_channels(self, items: list[Packet]) -> None:
        """The calls under way after a (re)connect (see `resync`)."""
        load_active_channels(self, items)

    def _extension_of(self, name: str) -> str | None:
        if name.startswith("Local/"):
            return None
        m = self._chan_re.match(name)
        if m is None:
            return None
        ext = m.group("ext")
        if self._known is not None and ext not in self._known:
            return None
        return ext

    def _channel(self, p: Packet, prefix: str = "") -> Channel | None:
        """The channel a packet's snapshot (with `prefix`: Dest, Transferer…) speaks of, created
        on first sight (e.g. after a reconnect, or a Newchannel filtered out)."""
        uid = p.get(prefix + "Uniqueid")
        if not uid:
            return None
        chan = self.channels.get(uid)
        if chan is None:
            name = p.get(prefix + "Channel", "")
            chan = self._new_channel(uid, name, p.get(prefix + "Linkedid") or uid,
                                     p.get(prefix + "Context", ""), p.get(prefix + "Exten", ""),
                                     p.get(prefix + "CallerIDNum", ""))
        if "ChanVariable" in p and not prefix:
            self._chanvars(chan, p.chanvars())
        return chan

    def _new_channel(self, uid: str, name: str, linkedid: str, context: str, exten: str,
                     caller_num: str) -> Channel:
        ext = self._extension_of(name)
        chan = Channel(uniqueid=uid, name=name, linkedid=linkedid, ext=ext, caller_num=caller_num)
        self.channels[uid] = chan
        call = self.calls.get(linkedid)
        if call is None:
            # the first channel of the call decides its direction
            inbound = context in self._trunk or ext is None
            call = Call(linkedid=linkedid, inbound=inbound)
            if inbound:
                call.number = num(caller_num)
                if context in self._trunk:
                    call.ddr = num(exten)
            self.calls[linkedid] = call
        elif (call.inbound and call.number is None and ext is None and caller_num
              and context in self._trunk):
            call.number = num(caller_num)
            call.ddr = call.ddr or num(exten)
        call.channels.add(uid)
        if name.startswith("Local/") and name.endswith(";1"):
            self._locals[name[:-2]] = uid
        return chan

    def _chanvars(self, chan: Channel, variables: dict[str, str]) -> None:
        call = self.calls.get(chan.linkedid)
        for var, value in variables.items():
            if var in self._did_vars and value and call is not None:
                call.ddr = value
            elif var == self._rec_var and value:
                chan.recording = value
                if call is not None:
                    call.recording = value

    def _real_dialer(self, chan: Channel) -> Channel | None:
        """Whoever dialled `chan`, looking through Local channel halves."""
        seen = 0
        dialer = self.channels.get(chan.dialer) if chan.dialer else None
        while dialer is not None and dialer.name.startswith("Local/") and seen < 8:
            seen += 1
            one = dialer
            if dialer.name.endswith(";2"):
                one = self.channels.get(self._locals.get(dialer.name[:-2], ""))  # type: ignore[assignment]
                if one is None:
                    return dialer
            if one.dialer is None:
                return one
            dialer = self.channels.get(one.dialer)
        return dialer

    def _recording_for(self, chan: Channel) -> str | None:
        if chan.recording or chan.leg_id is not None:  # a consultation is not in the call's recording
            return chan.recording
        dialer = self._real_dialer(chan)
        if dialer is not None and dialer.recording:
            return dialer.recording
        call = self.calls.get(chan.linkedid)
        return call.recording if call else None

    def _ring(self, chan: Channel, out: list[PbxEvent], dialer: Channel | None,
              connected: str = "", caller_name: str | None = None) -> None:
        """The extension's channel starts ringing for a call it did not start."""
        call = self.calls.get(chan.linkedid)
        if chan.announced or chan.originated or call is None or chan.uniqueid == chan.linkedid:
            return
        transferer = self._consulting_through(dialer)
        if transferer is not None:  # an Atxfer's Local channel: the transferer consults this extension
            direction, number = Direction.INTERNAL, transferer.ext
            chan.leg_id, chan.consult_local = chan.uniqueid, dialer.name[:-2]  # type: ignore[union-attr]
        elif dialer is not None and dialer.ext is not None:
            direction, number = Direction.INTERNAL, dialer.ext
        elif call.inbound:
            direction = Direction.INBOUND
            number = call.number or (num(dialer.caller_num) if dialer else None) or num(connected)
        elif connected and num(connected) and not self._extension_of_number(connected):
            direction, number = Direction.INBOUND, num(connected)
        else:
            direction, number = Direction.INTERNAL, num(connected) or (num(dialer.caller_num) if dialer else None)
        chan.announced = True
        chan.direction = direction
        chan.number = number
        chan.started_at = at = self._at()
        out.append(CallRinging(at=at, extension=chan.ext, call_id=call_id_of(chan),
                               direction=direction, number=number,
                               ddr=call.ddr if direction is Direction.INBOUND else None,
                               caller_name=None if caller_name in (None, "", "<unknown>") else caller_name))

    def is_internal_number(self, number: str) -> bool:
        """Whether a dialled number looks like one of our extensions (the driver's dials use it too)."""
        return self._extension_of_number(number)

    def _extension_of_number(self, number: str) -> bool:
        # an internal number: same shape as an extension (only a hint; used when nothing better)
        return number.isdigit() and 2 <= len(number) <= 8 and (
            self._known is None or number in self._known) and len(number) <= 5

    def _answer(self, chan: Channel, out: list[PbxEvent]) -> None:
        if chan.ext is None or not chan.announced or chan.answered or chan.done:
            return
        chan.answered = True
        if chan.consult_local is not None and self.atxfers:
            self._consult_answered(chan)
        event = self._call_event(CallAnswered, chan)
        chan.answered_at = event.at
        out.append(event)

    def _call_event(self, cls: type, chan: Channel, **extra: object) -> PbxEvent:
        call = (self.calls.get(chan.leg_id) if chan.leg_id else None) or self.calls.get(chan.linkedid)
        ddr = call.ddr if call is not None and chan.direction is Direction.INBOUND else None
        return cls(at=self._at(), extension=chan.ext, call_id=call_id_of(chan), direction=chan.direction,
                   number=chan.number, ddr=ddr, **extra)

    # ---- handlers ----
    def _newchannel(self, p: Packet, out: list[PbxEvent]) -> None:
        uid = p.get("Uniqueid")
        if uid and uid not in self.channels:
            chan = self._channel(p)
            if self.pending_dials and chan is not None:
                dial = self.pending_dials.get(uid)
                if dial is not None and chan.ext == dial.extension:
                    self._dial_started(chan, dial, out)

    def _newstate(self, p: Packet, out: list[PbxEvent]) -> None:
        chan = self._channel(p)
        if chan is None or chan.ext is None:
            return
        state = p.get("ChannelStateDesc")
        if state == "Ringing":
            self._ring(chan, out, self._real_dialer(chan), p.get("ConnectedLineNum", ""),
                       p.get("ConnectedLineName"))

    def _newcallerid(self, p: Packet, out: list[PbxEvent]) -> None:
        chan = self._channel(p)
        if chan is None:
            return
        chan.caller_num = p.get("CallerIDNum", "")
        call = self.calls.get(chan.linkedid)
        # e.g. an inbound call faked with a Local channel gets its caller id only now
        if call is not None and call.inbound and call.number is None and chan.ext is None:
            call.number = num(chan.caller_num)

    def _varset(self, p: Packet, out: list[PbxEvent]) -> None:
        var = p.get("Variable")
        if var not in self._varset_vars:
            return
        chan = self._channel(p)
        if chan is not None:
            self._chanvars(chan, {var.lstrip("_") if var in self._did_vars else var: p.get("Value", "")})

    def _mixmonitor(self, p: Packet, out: list[PbxEvent]) -> None:
        # the file name comes with the MIXMONITOR_FILENAME VarSet (or ChanVariable) just before
        self._channel(p)

    def _dialbegin(self, p: Packet, out: list[PbxEvent]) -> None:
        dest = self._channel(p, "Dest")
        if dest is None:
            return
        caller = self._channel(p) if "Uniqueid" in p else None
        if caller is None:
            dest.originated = True  # Originate: the phone rings to place a call of its own
            if dest.ext is not None and not dest.announced and not dest.done:
                self._foreign_dial(dest, p.get("DestConnectedLineName"), out)
            return
        dest.dialer = caller.uniqueid
        if dest.ext is None:
            dest.number = dialed_number(p)  # who the trunk leg calls: if an extension later joins it
        dialed_to_ext = dest.ext is not None or (
            dest.name.startswith("Local/") and self._extension_of_number(p.get("DestExten", "")))
        # the caller's leg: an extension dialling out
        if caller.ext is not None and not caller.announced and not caller.done:
            number = dialed_number(p)
            if dest.ext is not None:
                number = dest.ext
            caller.announced = True
            caller.direction = Direction.INTERNAL if dialed_to_ext else Direction.OUTBOUND
            caller.number = number
            event = self._call_event(CallDialing, caller)
            caller.started_at = event.at
            out.append(event)
        if dest.ext is not None:
            self._ring(dest, out, self._real_dialer(dest), p.get("DestConnectedLineNum", ""),
                       p.get("CallerIDName"))

    def _dialend(self, p: Packet, out: list[PbxEvent]) -> None:
        dest = self.channels.get(p.get("DestUniqueid", ""))
        if dest is None:
            return
        status = p.get("DialStatus", "")
        dest.in_status = status
        if dest.consult_local is not None and self.atxfers:
            self._consult_dial_ended(dest, status)
        caller = self.channels.get(p.get("Uniqueid", "")) if "Uniqueid" in p else None
        if caller is not None:
            caller.out_status = status
            if caller.hangup_requested:
                dest.caller_gone = True
        if status == "ANSWER":
            if not dest.originated:  # an Originate's phone picking up is not the call being answered
                self._answer(dest, out)
            if caller is not None:
                self._answer(caller, out)
            # through a Local channel: the extension behind ;1 answered the one who dialled it
            if caller is not None and caller.name.startswith("Local/"):
                real = self._real_dialer(dest)
                if real is not None:
                    self._answer(real, out)

    def _bridgeenter(self, p: Packet, out: list[PbxEvent]) -> None:
        chan = self._channel(p)
        bridge_id = p.get("BridgeUniqueid")
        if chan is None or not bridge_id:
            return
        members = self.bridges.setdefault(bridge_id, set())
        members.add(chan.uniqueid)
        chan.bridge = bridge_id
        if chan.ext is not None and chan.answered and not chan.done:
            self._consult_check(chan, members, out)
        if len(members) >= 2:
            for uid in members:
                other = self.channels.get(uid)
                if other is not None:
                    if other.ext is not None and not other.announced and not other.done:
                        self._adopt(other, members, out)
                    self._answer(other, out)

    def _adopt(self, chan: Channel, members: set[str], out: list[PbxEvent]) -> None:
        """An extension's channel that talks without having rung or dialled: it picked up a parked
        call (ParkedCall, or our resume of a hold by park) or a ringing one (Pickup). Its leg
        starts here, as an answered call with the party it joined (a hold by park: see `holds`)."""
        other = next((self.channels[uid] for uid in members if uid != chan.uniqueid and uid in self.channels), None)
        if other is None:
            return
        if self.held_legs and self._resume_parked(chan, other, out):
            return
        joined = self.calls.get(other.linkedid)
        own = self.calls.get(chan.linkedid)
        if other.ext is not None:
            direction, number = Direction.INTERNAL, other.ext
        elif joined is not None and joined.inbound:
            direction, number = Direction.INBOUND, joined.number
            if own is not None and own is not joined and own.ddr is None:
                own.ddr = joined.ddr  # the DDR the customer dialled follows the customer
        else:
            direction, number = Direction.OUTBOUND, other.number or num(other.caller_num)
        chan.announced = True
        chan.direction = direction
        chan.number = number
        chan.started_at = self._at()

    def _bridgeleave(self, p: Packet, out: list[PbxEvent]) -> None:
        bridge_id = p.get("BridgeUniqueid", "")
        members = self.bridges.get(bridge_id)
        uid = p.get("Uniqueid", "")
        if members is not None:
            members.discard(uid)
            if not members:
                del self.bridges[bridge_id]
        chan = self.channels.get(uid)
        if chan is not None and chan.bridge == bridge_id:
            chan.bridge = None

    def _hanguprequest(self, p: Packet, out: list[PbxEvent]) -> None:
        chan = self.channels.get(p.get("Uniqueid", ""))
        if chan is not None:
            chan.hangup_requested = True

    def _hangup(self, p: Packet, out: list[PbxEvent]) -> None:
        uid = p.get("Uniqueid", "")
        chan = self.channels.pop(uid, None)
        if chan is None:
            return
        if self.atxfers:
            self.atxfers.pop(uid, None)
        if self.held_legs:
            self._held_party_gone(uid, out)
        call = self.calls.get(chan.linkedid)
        if chan.ext is not None and chan.announced and not chan.done:
            chan.done = True
            if chan.transfer_target is not None:
                out.append(self._call_event(CallTransferred, chan, target=chan.transfer_target, attended=False,
                                            recording_ref=self._recording_for(chan)))
            else:  # a leg nobody answered has no recording of its own (MixMonitor's file of it is empty)
                out.append(self._call_event(CallEnded, chan, disposition=self._disposition(chan, p.get("Cause", "")),
                                            recording_ref=self._recording_for(chan) if chan.answered else None))
        if chan.name.startswith("Local/") and chan.name.endswith(";1"):
            self._locals.pop(chan.name[:-2], None)
        if call is not None:
            call.channels.discard(uid)
            if not call.channels:
                del self.calls[chan.linkedid]
        if chan.bridge is not None:
            members = self.bridges.get(chan.bridge)
            if members is not None:
                members.discard(uid)

    def _disposition(self, chan: Channel, cause: str = "") -> Disposition:
        """What happened to an extension's leg that ends without a transfer."""
        if chan.answered:
            return Disposition.ANSWERED
        if cause == ANSWERED_ELSEWHERE_CAUSE:  # a queue or group colleague took the call
            return Disposition.ANSWERED_ELSEWHERE
        if chan.originated:  # our dial: the number's answer, else why the agent's phone did not answer
            status = chan.out_status or chan.in_status
            return DIAL_FAILURES.get(status or "", Disposition.NO_ANSWER)
        dialled = chan.dialer is not None or chan.in_status is not None
        status = chan.in_status if dialled else chan.out_status
        failure = DIAL_FAILURES.get(status or "")
        if failure is not None:
            return failure
        if dialled:  # CANCEL, or no DialEnd yet: did the caller give up first?
            dialer = self._real_dialer(chan)
            if chan.caller_gone or (dialer is not None and dialer.hangup_requested):
                return Disposition.ABANDONED
        return Disposition.NO_ANSWER
