"""What a PBX driver reports, in one vocabulary for every PBX family.

Plain frozen dataclasses (not pydantic): the gateway pushes tens of thousands of these a second.
Every event says when it happened, and which extension and call it concerns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from tui_caa.domain.telephony import CallState, Capability, CommandFailure, Direction, Disposition, ExtensionState


@dataclass(frozen=True, slots=True, kw_only=True)
class PbxEvent:
    type: ClassVar[str] = "event"
    at: datetime
    extension: str | None = None
    call_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: `type` first, datetimes as ISO 8601, enums as their values."""
        data: dict[str, Any] = {"type": self.type}
        for key, value in asdict(self).items():
            if isinstance(value, datetime):
                value = value.isoformat()
            elif hasattr(value, "value"):
                value = value.value
            data[key] = value
        return data


# ---- the link to the PBX ----

@dataclass(frozen=True, slots=True, kw_only=True)
class DriverConnected(PbxEvent):
    type: ClassVar[str] = "driver_connected"
    pbx: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverDisconnected(PbxEvent):
    type: ClassVar[str] = "driver_disconnected"
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverResynced(PbxEvent):
    """The driver has rebuilt its view after a (re)connect: take `snapshot()` as the truth now."""

    type: ClassVar[str] = "driver_resynced"


# ---- extensions ----

@dataclass(frozen=True, slots=True, kw_only=True)
class ExtensionStateChanged(PbxEvent):
    type: ClassVar[str] = "extension_state"
    state: ExtensionState = ExtensionState.UNKNOWN


# ---- calls (as seen by one extension) ----

@dataclass(frozen=True, slots=True, kw_only=True)
class CallEvent(PbxEvent):
    type: ClassVar[str] = "call"
    state: ClassVar[CallState | None] = None
    direction: Direction | None = None
    number: str | None = None  # the other party, raw as the PBX gives it
    ddr: str | None = None  # for inbound calls: the number the customer dialed


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRinging(CallEvent):
    """An inbound call alerts the extension."""

    type: ClassVar[str] = "call_ringing"
    state: ClassVar[CallState] = CallState.RINGING
    caller_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDialing(CallEvent):
    """An outbound call from the extension; the far end is alerting."""

    type: ClassVar[str] = "call_dialing"
    state: ClassVar[CallState] = CallState.DIALING


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered(CallEvent):
    type: ClassVar[str] = "call_answered"
    state: ClassVar[CallState] = CallState.ACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHeld(CallEvent):
    type: ClassVar[str] = "call_held"
    state: ClassVar[CallState] = CallState.HELD


@dataclass(frozen=True, slots=True, kw_only=True)
class CallResumed(CallEvent):
    type: ClassVar[str] = "call_resumed"
    state: ClassVar[CallState] = CallState.ACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class CallConsulting(CallEvent):
    """An attended transfer started: `target` is being consulted, the call waits on hold."""

    type: ClassVar[str] = "call_consulting"
    state: ClassVar[CallState] = CallState.CONSULTING
    target: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallTransferred(CallEvent):
    """The call left this extension for `target` (blind, or an attended transfer completed)."""

    type: ClassVar[str] = "call_transferred"
    state: ClassVar[CallState] = CallState.ENDED
    target: str = ""
    attended: bool = False
    recording_ref: str | None = None  # of the part this extension talked, if recorded


@dataclass(frozen=True, slots=True, kw_only=True)
class CallParked(CallEvent):
    """The call left this extension for a parking slot, where any extension may pick it up."""

    type: ClassVar[str] = "call_parked"
    state: ClassVar[CallState] = CallState.ENDED
    slot: str = ""
    recording_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(CallEvent):
    type: ClassVar[str] = "call_ended"
    state: ClassVar[CallState] = CallState.ENDED
    disposition: Disposition = Disposition.ANSWERED
    recording_ref: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandFailed(PbxEvent):
    """A command the PBX accepted (so the command itself returned) was not carried out: what came
    after shows it. For the console of `extension`, about its call `call_id`."""

    type: ClassVar[str] = "command_failed"
    command: Capability = Capability.ATTENDED_TRANSFER
    reason: CommandFailure = CommandFailure.TRANSFER_ABORTED
    target: str | None = None


def event_json(event: PbxEvent) -> dict[str, Any]:
    """The line `tui-caa pbx events --json` prints: always the same keys, null when not known."""
    data = event.to_dict()
    state = getattr(event, "state", None)
    row = {
        "type": event.type,
        "extension": event.extension,
        "call_id": event.call_id,
        "direction": data.get("direction"),
        "number": data.get("number"),
        "ddr": data.get("ddr"),
        "state": data.get("state") if isinstance(event, ExtensionStateChanged) else (state.value if state else None),
        "disposition": data.get("disposition"),
        "at": data["at"],
    }
    row.update({k: v for k, v in data.items() if k not in row})
    return row


# ---- what a driver reports after every (re)connect ----

@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveCall:
    call_id: str
    extension: str
    direction: Direction
    state: CallState
    number: str | None = None
    ddr: str | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PbxSnapshot:
    at: datetime
    extensions: dict[str, ExtensionState] = field(default_factory=dict)
    calls: tuple[ActiveCall, ...] = ()
