"""AMI events → domain events (`PbxEvent`s). Pure: no I/O, no asyncio, no clock of its own.

`AmiMapper.feed(packet)` keeps a small model of the PBX and returns what the packet means for the
extensions:

- channels are keyed by `Uniqueid`, calls by `Linkedid` (Uniqueid of the call's first channel, kept
  by Asterisk through transfers): the `call_id` of every call event is the Linkedid;
- a channel belongs to an extension when its name matches `MapperConfig.channel_pattern`
  (`PJSIP/1001-00000001` → 1001); `Local/…;1`/`;2` halves never belong to one, and a `;2` half
  dialling a phone is traced back through its `;1` half to whoever dialled the Local channel;
- direction: the call is inbound when its first channel is in a trunk context or is not an
  extension's channel; otherwise an extension started it, and each extension leg is outbound when
  it dials a non-extension and internal between extensions;
- an extension's leg ("leg" = its channel in the call) gets CallRinging when it starts ringing
  (DialBegin to it or Newstate Ringing, whichever comes first; not for the call's own first channel,
  e.g. the phone rung by a click-to-call Originate), CallDialing when it dials out, CallAnswered on
  DialEnd ANSWER (either side) or when it shares a bridge with another channel, CallHeld /
  CallResumed on Hold / Unhold of its channel, CallConsulting when its channel (on hold) joins the
  consultation bridge an `Atxfer` builds with the target's `Local/…;1` channel, CallTransferred on
  BlindTransfer / AttendedTransfer where it is the transferer (or when the driver redirected the
  other party and hangs this channel up), CallParked when the call it parked shows in ParkedCall,
  and CallEnded when its channel hangs up; an extension's channel that never rang nor dialled but
  joins a bridge with someone (it picked up a parked or ringing call) gets its leg there, answered;
- a dial (`Originate`) the driver announced with `expect_originate` is CallDialing as soon as its
  channel appears (the agent's phone picking up is not the answer: the number's is); one that fails
  (`OriginateResponse: Failure`, the agent's phone never answered) ends with CallEnded for the
  extension, with the ChannelId as call id, even when no channel event came;
- extension states come from DeviceStateChange (`Device: PJSIP/1001`) and ExtensionStatus, and are
  only reported when they change.

Speed: this runs for every AMI event (> 150k/s under load), so `feed` is one dict lookup on the
event name; VarSet is dropped unless its variable is one we use; everything else (Newexten, RTCP,
QueueMemberStatus, Cdr…) costs a failed lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tui_caa.domain.events import (
    CallAnswered,
    CallConsulting,
    CallDialing,
    CallEnded,
    CallHeld,
    CallParked,
    CallResumed,
    CallRinging,
    CallTransferred,
    ExtensionStateChanged,
    PbxEvent,
)
from tui_caa.domain.telephony import Direction, Disposition, ExtensionState
from tui_caa.pbx.asterisk.packets import Packet
from tui_caa.pbx.options.asterisk import DEFAULT_CHANNEL_PATTERN, DEFAULT_DEVICE_PATTERN, DEFAULT_TRUNK_CONTEXTS

HANDLED_EVENTS = frozenset({
    "Newchannel", "Newstate", "VarSet", "NewCallerid", "MixMonitorStart", "DialBegin", "DialEnd", "BridgeEnter",
    "BridgeLeave", "Hold", "Unhold", "BlindTransfer", "AttendedTransfer", "HangupRequest", "SoftHangupRequest",
    "Hangup", "OriginateResponse", "ParkedCall", "UnParkedCall", "ParkedCallTimeOut", "ParkedCallGiveUp",
    "DeviceStateChange", "ExtensionStatus",
})

_UNKNOWN_NUMBERS = frozenset({"", "<unknown>", "s"})

DEVICE_STATES: dict[str, ExtensionState] = {
    "NOT_INUSE": ExtensionState.IDLE,
    "INUSE": ExtensionState.IN_CALL,
    "BUSY": ExtensionState.IN_CALL,
    "RINGING": ExtensionState.RINGING,
    "RINGINUSE": ExtensionState.IN_CALL,
    "ONHOLD": ExtensionState.ON_HOLD,
    "UNAVAILABLE": ExtensionState.OFFLINE,
    "INVALID": ExtensionState.OFFLINE,
    "UNKNOWN": ExtensionState.UNKNOWN,
}

# ExtensionStatus Status (hint state bit mask, include/asterisk/pbx.h)
HINT_STATES: dict[str, ExtensionState] = {
    "-2": ExtensionState.UNKNOWN,  # extension removed
    "-1": ExtensionState.UNKNOWN,  # no hint / hint removed
    "0": ExtensionState.IDLE,
    "1": ExtensionState.IN_CALL,
    "2": ExtensionState.IN_CALL,  # busy
    "4": ExtensionState.OFFLINE,  # unavailable
    "8": ExtensionState.RINGING,
    "9": ExtensionState.IN_CALL,  # in use & ringing (call waiting)
    "16": ExtensionState.ON_HOLD,
    "17": ExtensionState.ON_HOLD,  # in use & on hold
}

_DIAL_FAILURES: dict[str, Disposition] = {
    "BUSY": Disposition.BUSY,
    "CHANUNAVAIL": Disposition.FAILED,
    "CONGESTION": Disposition.FAILED,
    "NOANSWER": Disposition.NO_ANSWER,
}


# OriginateResponse Reason (AST_CONTROL_* of the first channel): why the agent's phone did not answer
_ORIGINATE_FAILURES: dict[str, Disposition] = {
    "0": Disposition.FAILED,  # no such channel / unavailable
    "1": Disposition.NO_ANSWER,  # hung up (declined) before answering
    "3": Disposition.NO_ANSWER,  # rang until the Originate timeout
    "5": Disposition.BUSY,
    "8": Disposition.FAILED,  # congestion
}


@dataclass(slots=True)
class PendingDial:
    """A dial the driver sent as `Originate`, until its OriginateResponse."""

    channel_id: str
    extension: str
    number: str
    direction: Direction
    channel: str  # the Originate's Channel header, e.g. PJSIP/1001
    announced: bool = False  # its channel showed up: the channel events end the leg


@dataclass(frozen=True, slots=True)
class MapperConfig:
    channel_pattern: str = DEFAULT_CHANNEL_PATTERN  # must have a named group `ext`
    device_pattern: str = DEFAULT_DEVICE_PATTERN  # DeviceStateChange `Device`, group `ext`
    trunk_contexts: tuple[str, ...] = DEFAULT_TRUNK_CONTEXTS
    did_variable: str = "FROM_DID"
    known_extensions: frozenset[str] | None = None  # None: every channel matching the pattern
    recording_variable: str = "MIXMONITOR_FILENAME"


@dataclass(slots=True)
class Channel:
    uniqueid: str
    name: str
    linkedid: str
    ext: str | None
    caller_num: str = ""
    dialer: str | None = None  # Uniqueid of the channel that dialled this one
    originated: bool = False  # dialled by an Originate (DialBegin without a calling channel)
    hangup_requested: bool = False
    recording: str | None = None
    # the extension's leg (only when ext is set)
    announced: bool = False
    direction: Direction | None = None
    number: str | None = None
    answered: bool = False
    held: bool = False
    done: bool = False
    in_status: str | None = None  # DialEnd status of the dial that reached this channel
    out_status: str | None = None  # DialEnd status of this channel's own dial
    caller_gone: bool = False  # whoever dialled us hung up before the dial ended
    bridge: str | None = None
    consulting: bool = False  # in an Atxfer consultation bridge
    consult_unheld: bool = False  # an Unhold (→ CallResumed) came during the consultation
    transfer_target: str | None = None  # the driver redirected the other party here (Redirect transfer)
    started_at: datetime | None = None  # when the leg was announced (or, after a resync, created)
    answered_at: datetime | None = None


@dataclass(slots=True)
class _Call:
    linkedid: str
    inbound: bool
    number: str | None = None  # for inbound: the caller
    ddr: str | None = None
    recording: str | None = None
    channels: set[str] = field(default_factory=set)


# events the client itself must see even though no mapping needs them
_CLIENT_EVENTS = frozenset({"FullyBooted", "Shutdown"})


def event_filter(config: MapperConfig | None = None) -> Callable[[str], bool]:
    """For `PacketReader(skip_event=…)`: True for an event packet that no mapping reads and no list
    action collects, judged on its raw text (its first line is `Event: <name>`)."""
    handled = HANDLED_EVENTS | _CLIENT_EVENTS
    did = (config or MapperConfig()).did_variable.lstrip("_")
    wanted_vars = tuple(f"\r\nVariable: {name}\r\n" for name in
                        (did, "_" + did, "__" + did, (config or MapperConfig()).recording_variable))

    def skip(text: str) -> bool:
        end = text.find("\r\n")
        name = text[7:end] if end > 0 else text[7:]
        if name == "VarSet":
            return not any(var in text for var in wanted_vars)
        if name in handled:
            return False
        return "\r\nActionID: " not in text  # items of a list action belong to the client

    return skip


class AmiMapper:
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
        self.calls: dict[str, _Call] = {}
        self.bridges: dict[str, set[str]] = {}
        self.extension_states: dict[str, ExtensionState] = {}
        self.pending_dials: dict[str, PendingDial] = {}  # by ChannelId
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

    def expect_originate(self, dial: PendingDial) -> None:
        """The driver sent this Originate: its failure must still end the call for the extension."""
        self.pending_dials[dial.channel_id] = dial

    def expect_redirect_transfer(self, uniqueid: str, target: str) -> None:
        """The driver moved the other party of this channel to `target` with Redirect and now hangs
        the channel up: its end is a transfer, not a plain hang-up."""
        chan = self.channels.get(uniqueid)
        if chan is not None:
            chan.transfer_target = target

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
        """The calls under way after a (re)connect, from `CoreShowChannels` items: each extension's
        leg is known at once (direction, other party, answered), without replaying any event."""
        items = [p for p in items if p.get("Event") == "CoreShowChannel" and p.get("Uniqueid")]
        # the call's first channel (Uniqueid == Linkedid) decides its direction: feed those first
        items.sort(key=lambda p: p.get("Uniqueid") != p.get("Linkedid"))
        firsts = {p["Uniqueid"]: p for p in items if p.get("Uniqueid") == p.get("Linkedid")}
        for p in items:
            chan = self._channel(p)
            if chan is None or chan.ext is None:
                continue
            uid, linkedid = p["Uniqueid"], p.get("Linkedid") or p["Uniqueid"]
            connected = p.get("ConnectedLineNum", "")
            number = connected if connected and connected not in ("<unknown>", "s") else None
            ext_like = number is not None and self._extension_of_number(number)
            if uid == linkedid:  # the extension started this call
                if number is None or number == chan.ext:  # an Originate: connected to itself, or unknown
                    number = _dialled_number(p, items, chan.ext)
                    ext_like = number is not None and self._extension_of_number(number)
                direction = Direction.INTERNAL if ext_like else Direction.OUTBOUND
            else:
                first = firsts.get(linkedid)
                if first is not None:
                    inbound = (first.get("Context", "") in self.config.trunk_contexts
                               or self._extension_of(first.get("Channel", "")) is None)
                else:
                    inbound = not ext_like
                direction = Direction.INBOUND if inbound else Direction.INTERNAL
                chan.dialer = linkedid if linkedid in self.channels else None
            chan.announced = True
            chan.direction = direction
            chan.number = number
            chan.answered = p.get("ChannelStateDesc") == "Up"
            chan.started_at = _started(p, self._at())
            bridge = p.get("BridgeId")
            if bridge:
                chan.bridge = bridge
                self.bridges.setdefault(bridge, set()).add(uid)
        # answered: not reported; best estimate = when the call's latest channel that is Up was
        # created (the answering leg is created when the dial to it begins, so no earlier than that)
        latest: dict[str, datetime] = {}
        for p in items:
            if p.get("ChannelStateDesc") == "Up":
                at = _started(p, self._at())
                linkedid = p.get("Linkedid") or p["Uniqueid"]
                if linkedid not in latest or at > latest[linkedid]:
                    latest[linkedid] = at
        for chan in self.channels.values():
            if chan.answered and chan.linkedid in latest:
                chan.answered_at = max(latest[chan.linkedid], chan.started_at or latest[chan.linkedid])

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
            call = _Call(linkedid=linkedid, inbound=inbound)
            if inbound:
                call.number = _num(caller_num)
                if context in self._trunk:
                    call.ddr = _num(exten)
            self.calls[linkedid] = call
        elif (call.inbound and call.number is None and ext is None and caller_num
              and context in self._trunk):
            call.number = _num(caller_num)
            call.ddr = call.ddr or _num(exten)
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
        if chan.recording:
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
        if dialer is not None and dialer.ext is not None:
            direction, number = Direction.INTERNAL, dialer.ext
        elif call.inbound:
            direction = Direction.INBOUND
            number = call.number or (_num(dialer.caller_num) if dialer else None) or _num(connected)
        elif connected and _num(connected) and not self._extension_of_number(connected):
            direction, number = Direction.INBOUND, _num(connected)
        else:
            direction, number = Direction.INTERNAL, _num(connected) or (_num(dialer.caller_num) if dialer else None)
        chan.announced = True
        chan.direction = direction
        chan.number = number
        chan.started_at = at = self._at()
        out.append(CallRinging(at=at, extension=chan.ext, call_id=chan.linkedid,
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
        event = self._call_event(CallAnswered, chan)
        chan.answered_at = event.at
        out.append(event)

    def _call_event(self, cls: type, chan: Channel, **extra: object) -> PbxEvent:
        call = self.calls.get(chan.linkedid)
        ddr = call.ddr if call is not None and chan.direction is Direction.INBOUND else None
        return cls(at=self._at(), extension=chan.ext, call_id=chan.linkedid, direction=chan.direction,
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
            call.number = _num(chan.caller_num)

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
            return
        dest.dialer = caller.uniqueid
        if dest.ext is None:
            dest.number = _dialed_number(p)  # who the trunk leg calls: if an extension later joins it
        dialed_to_ext = dest.ext is not None or (
            dest.name.startswith("Local/") and self._extension_of_number(p.get("DestExten", "")))
        # the caller's leg: an extension dialling out
        if caller.ext is not None and not caller.announced and not caller.done:
            number = _dialed_number(p)
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
                        self._adopt(other, members)
                    self._answer(other, out)

    def _adopt(self, chan: Channel, members: set[str]) -> None:
        """An extension's channel that talks without having rung or dialled: it picked up a parked
        call (ParkedCall, or our resume of a hold by park) or a ringing one (Pickup). Its leg
        starts here, as an answered call with the party it joined."""
        other = next((self.channels[uid] for uid in members if uid != chan.uniqueid and uid in self.channels), None)
        if other is None:
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
            direction, number = Direction.OUTBOUND, other.number or _num(other.caller_num)
        chan.announced = True
        chan.direction = direction
        chan.number = number
        chan.started_at = self._at()

    def _consult_check(self, chan: Channel, members: set[str], out: list[PbxEvent]) -> None:
        """Atxfer moves the transferer out of the call's bridge into a new one with the target's
        `Local/<target>@<context>-…;1` channel, which nobody dialled: that is the consultation."""
        target = None
        for uid in members:
            other = self.channels.get(uid)
            if (other is not None and other is not chan and other.dialer is None and other.uniqueid != other.linkedid
                    and other.name.startswith("Local/") and other.name.endswith(";1")):
                target = other.name[6:].split("@", 1)[0]
        if target is not None and not chan.consulting:
            chan.consulting = True
            chan.consult_unheld = False
            out.append(self._call_event(CallConsulting, chan, target=target))
        elif target is None and chan.consulting:
            chan.consulting = False  # back in the call: the consultation was cancelled
            # resumed, unless an Unhold said so already or is still to come
            if not chan.held and not chan.consult_unheld:
                out.append(self._call_event(CallResumed, chan))

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

    def _hold(self, p: Packet, out: list[PbxEvent]) -> None:
        chan = self._channel(p)
        if chan is None or chan.ext is None or not chan.announced or chan.done or chan.held:
            return
        chan.held = True
        out.append(self._call_event(CallHeld, chan))

    def _unhold(self, p: Packet, out: list[PbxEvent]) -> None:
        chan = self._channel(p)
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
        target = (_num(p.get("TransferTargetCallerIDNum")) or _num(p.get("SecondTransfererConnectedLineNum"))
                  or "")
        chan = self.channels.get(p.get("OrigTransfererUniqueid", ""))
        self._transferred(chan, target, True, out)

    def _hanguprequest(self, p: Packet, out: list[PbxEvent]) -> None:
        chan = self.channels.get(p.get("Uniqueid", ""))
        if chan is not None:
            chan.hangup_requested = True

    def _hangup(self, p: Packet, out: list[PbxEvent]) -> None:
        uid = p.get("Uniqueid", "")
        chan = self.channels.pop(uid, None)
        if chan is None:
            return
        call = self.calls.get(chan.linkedid)
        if chan.ext is not None and chan.announced and not chan.done:
            chan.done = True
            if chan.transfer_target is not None:
                out.append(self._call_event(CallTransferred, chan, target=chan.transfer_target, attended=False,
                                            recording_ref=self._recording_for(chan)))
            else:
                out.append(self._call_event(CallEnded, chan, disposition=self._disposition(chan),
                                            recording_ref=self._recording_for(chan)))
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
                             disposition=_ORIGINATE_FAILURES.get(p.get("Reason", ""), Disposition.FAILED)))

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
                chan.done = True
                out.append(self._call_event(CallParked, chan, slot=slot, recording_ref=self._recording_for(chan)))
                return

    def _unparked(self, p: Packet, out: list[PbxEvent]) -> None:
        slot = p.get("ParkingSpace", "")
        if self.parked.get(slot) == p.get("ParkeeUniqueid", ""):
            del self.parked[slot]

    def _disposition(self, chan: Channel) -> Disposition:
        """What happened to an extension's leg that ends without a transfer."""
        if chan.answered:
            return Disposition.ANSWERED
        if chan.originated:  # our dial: the number's answer, else why the agent's phone did not answer
            status = chan.out_status or chan.in_status
            return _DIAL_FAILURES.get(status or "", Disposition.NO_ANSWER)
        dialled = chan.dialer is not None or chan.in_status is not None
        status = chan.in_status if dialled else chan.out_status
        failure = _DIAL_FAILURES.get(status or "")
        if failure is not None:
            return failure
        if dialled:  # CANCEL, or no DialEnd yet: did the caller give up first?
            dialer = self._real_dialer(chan)
            if chan.caller_gone or (dialer is not None and dialer.hangup_requested):
                return Disposition.ABANDONED
        return Disposition.NO_ANSWER

    def _devicestate(self, p: Packet, out: list[PbxEvent]) -> None:
        m = self._dev_re.match(p.get("Device", ""))
        if m is None:
            return
        self._ext_state(m.group("ext"), DEVICE_STATES.get(p.get("State", ""), ExtensionState.UNKNOWN), out)

    def _extensionstatus(self, p: Packet, out: list[PbxEvent]) -> None:
        ext = p.get("Exten", "")
        if not ext.isdigit():
            return
        self._ext_state(ext, HINT_STATES.get(p.get("Status", ""), ExtensionState.UNKNOWN), out)

    def _ext_state(self, ext: str, state: ExtensionState, out: list[PbxEvent]) -> None:
        if self._known is not None and ext not in self._known:
            return
        if self.extension_states.get(ext) is state:
            return
        self.extension_states[ext] = state
        out.append(ExtensionStateChanged(at=self._at(), extension=ext, state=state))


def _started(p: Packet, now: datetime) -> datetime:
    """When a CoreShowChannel item's channel was created: now minus its `Duration` (HH:MM:SS)."""
    try:
        h, m, sec = (int(x) for x in p.get("Duration", "").split(":"))
    except ValueError:
        return now
    return now - timedelta(hours=h, minutes=m, seconds=sec)


def _num(value: str | None) -> str | None:
    if value is None or value in _UNKNOWN_NUMBERS:
        return None
    return value


def _dialed_number(p: Packet) -> str | None:
    """The number an extension dialled: the dial string without technology/peer, else DestExten."""
    dial = p.get("DialString", "")
    if dial:
        dial = dial.split("@", 1)[0]
        dial = dial.rsplit("/", 1)[-1]
        if dial:
            return dial
    return _num(p.get("DestExten")) or _num(p.get("Exten"))


def _dialled_number(first: Packet, items: list[Packet], own: str) -> str | None:
    """The number an extension's call goes to, when its channel does not say who it is connected to
    (a click-to-call Originate rings the agent first, so it is "connected" to itself): the dialplan
    extension the call runs at, else what the call's other channels know of the far end."""
    linkedid = first.get("Linkedid") or first.get("Uniqueid")
    others = [p for p in items if p is not first and (p.get("Linkedid") or p.get("Uniqueid")) == linkedid]
    candidates = [first.get("Exten", "")]
    for other in others:
        candidates += [other.get("Exten", ""), other.get("CallerIDNum", ""), other.get("ConnectedLineNum", "")]
    for value in candidates:
        if value and value not in _UNKNOWN_NUMBERS and value != own:
            return value
    return None
