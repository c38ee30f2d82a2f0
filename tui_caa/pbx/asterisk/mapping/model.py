"""What the AMI mapper knows: its configuration, the channels and calls it follows, and the
tables that turn Asterisk's codes into domain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tui_caa.domain.telephony import Direction, Disposition, ExtensionState
from tui_caa.pbx.asterisk.packets import Packet
from tui_caa.pbx.options.asterisk import DEFAULT_CHANNEL_PATTERN, DEFAULT_DEVICE_PATTERN, DEFAULT_TRUNK_CONTEXTS

HANDLED_EVENTS = frozenset({
    "Newchannel", "Newstate", "VarSet", "NewCallerid", "MixMonitorStart", "DialBegin", "DialEnd", "BridgeEnter",
    "BridgeLeave", "Hold", "Unhold", "BlindTransfer", "AttendedTransfer", "HangupRequest", "SoftHangupRequest",
    "Hangup", "OriginateResponse", "ParkedCall", "UnParkedCall", "ParkedCallTimeOut", "ParkedCallGiveUp",
    "DeviceStateChange", "ExtensionStatus",
})

UNKNOWN_NUMBERS = frozenset({"", "<unknown>", "s"})

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

# Hangup Cause of a phone whose ringing stopped because another answered (AST_CAUSE_ANSWERED_ELSEWHERE,
# "Answered elsewhere": queues and ring groups, fixtures/live/g_queue.ami)
ANSWERED_ELSEWHERE_CAUSE = "26"

DIAL_FAILURES: dict[str, Disposition] = {
    "BUSY": Disposition.BUSY,
    "CHANUNAVAIL": Disposition.FAILED,
    "CONGESTION": Disposition.FAILED,
    "NOANSWER": Disposition.NO_ANSWER,
}


# OriginateResponse Reason (AST_CONTROL_* of the first channel): why the agent's phone did not answer
ORIGINATE_FAILURES: dict[str, Disposition] = {
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
    # a consulted extension's leg (an Atxfer's Local channel rang it): a call of its own with the
    # transferer, whose call id is this channel's Uniqueid, until the transfer completes
    leg_id: str | None = None
    consult_local: str | None = None  # base name of that Local channel (without ;1/;2)
    started_at: datetime | None = None  # when the leg was announced (or, after a resync, created)
    answered_at: datetime | None = None


def call_id_of(chan: Channel) -> str:
    """The call id of the extension's leg on this channel: the Linkedid, or a consultation's own."""
    return chan.leg_id or chan.linkedid


@dataclass(slots=True)
class Call:
    linkedid: str
    inbound: bool
    number: str | None = None  # for inbound: the caller
    ddr: str | None = None
    recording: str | None = None
    channels: set[str] = field(default_factory=set)


def num(value: str | None) -> str | None:
    if value is None or value in UNKNOWN_NUMBERS:
        return None
    return value


def dialed_number(p: Packet) -> str | None:
    """The number an extension dialled: the dial string without technology/peer, else DestExten."""
    dial = p.get("DialString", "")
    if dial:
        dial = dial.split("@", 1)[0]
        dial = dial.rsplit("/", 1)[-1]
        if dial:
            return dial
    return num(p.get("DestExten")) or num(p.get("Exten"))


