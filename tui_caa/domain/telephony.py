"""Telephony vocabulary shared by drivers, gateway and console: states, capabilities, call records."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import AwareDatetime, Field, model_validator

from tui_caa.domain.crm import Record


class ExtensionState(StrEnum):
    OFFLINE = "offline"  # phone not registered
    IDLE = "idle"
    RINGING = "ringing"
    DIALING = "dialing"
    IN_CALL = "in_call"
    ON_HOLD = "on_hold"
    DND = "dnd"
    UNKNOWN = "unknown"


class CallState(StrEnum):
    RINGING = "ringing"  # inbound, the agent's phone is alerting
    DIALING = "dialing"  # outbound, the far end is alerting
    ACTIVE = "active"
    HELD = "held"
    CONSULTING = "consulting"  # attended transfer under way
    ENDED = "ended"


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"
    INTERNAL = "internal"


class Disposition(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    ABANDONED = "abandoned"  # the caller hung up while it was ringing
    FAILED = "failed"
    TRANSFERRED = "transferred"
    # it rang here too, and a colleague took it (a queue or ring group): not a call to return
    ANSWERED_ELSEWHERE = "elsewhere"


MISSED_DISPOSITIONS = frozenset(
    {Disposition.NO_ANSWER, Disposition.BUSY, Disposition.ABANDONED, Disposition.FAILED}
)


class CommandFailure(StrEnum):
    """Why a command the PBX accepted was not carried out (found out from what happened next)."""

    TRANSFER_ABORTED = "transfer_aborted"  # the PBX gave the transfer up (unknown target, prompt missing)
    TRANSFER_NOT_STARTED = "transfer_not_started"  # nothing happened: the feature code was not recognised
    TARGET_NO_ANSWER = "target_no_answer"
    TARGET_BUSY = "target_busy"
    TARGET_UNAVAILABLE = "target_unavailable"  # unreachable, unregistered or non-existent
    HOLD_NOT_CONFIRMED = "hold_not_confirmed"  # no event said the call went on hold
    RESUME_NOT_CONFIRMED = "resume_not_confirmed"


class Capability(StrEnum):
    """A command a PBX really supports; a driver exposes a frozenset of these."""

    DIAL = "dial"
    ANSWER = "answer"
    HANGUP = "hangup"
    BLIND_TRANSFER = "blind_transfer"
    ATTENDED_TRANSFER = "attended_transfer"
    HOLD = "hold"
    PARK = "park"
    PICKUP = "pickup"
    DTMF = "dtmf"
    PLAY_RECORDING = "play_recording"
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


ALL_CAPABILITIES = frozenset(Capability)


class CallRecord(Record):
    """One finished call as seen by one extension: what the gateway writes into the CRM."""

    id: int | None = None
    pbx_call_id: Annotated[str, Field(min_length=1, max_length=128)]
    extension: Annotated[str, Field(min_length=1, max_length=16)]
    direction: Direction
    remote_raw: str = ""
    remote_e164: str | None = None
    ddr_raw: str | None = None
    ddr_e164: str | None = None
    started_at: AwareDatetime
    answered_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    talk_seconds: Annotated[int, Field(ge=0)] = 0
    missed: bool = False
    disposition: Disposition
    recording_ref: str | None = None
    contact_id: int | None = None
    customer_id: int | None = None

    @model_validator(mode="after")
    def _consistent_times(self) -> Self:
        if self.ended_at and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        if self.answered_at and self.answered_at < self.started_at:
            raise ValueError("answered_at is before started_at")
        if self.missed and self.answered_at:
            raise ValueError("a call that was answered cannot be missed")
        return self
