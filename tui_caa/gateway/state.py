"""The gateway's picture of the PBX: extension states and the calls under way, per extension.

Pure: `apply(event)` changes the picture and, when a call ends for an extension, returns the
CallRecord to write. No I/O, no clock: every time comes from the events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from tui_caa.domain.events import (
    ActiveCall,
    CallAnswered,
    CallConsulting,
    CallDialing,
    CallEnded,
    CallEvent,
    CallHeld,
    CallParked,
    CallResumed,
    CallRinging,
    CallTransferred,
    ExtensionStateChanged,
    PbxEvent,
    PbxSnapshot,
)
from tui_caa.domain.telephony import MISSED_DISPOSITIONS, CallRecord, CallState, Direction, Disposition, ExtensionState

CallKey = tuple[str, str]  # (extension, call id): one call as one extension sees it


@dataclass(frozen=True, slots=True)
class TrackedCall:
    call_id: str
    extension: str
    direction: Direction
    state: CallState
    number: str | None
    ddr: str | None
    started_at: datetime
    answered_at: datetime | None = None

    def as_active(self) -> ActiveCall:
        return ActiveCall(
            call_id=self.call_id, extension=self.extension, direction=self.direction, state=self.state,
            number=self.number, ddr=self.ddr, started_at=self.started_at, answered_at=self.answered_at,
        )


class PbxState:
    def __init__(self) -> None:
        self.extensions: dict[str, ExtensionState] = {}
        self.calls: dict[CallKey, TrackedCall] = {}

    # ---- reading ----
    def calls_of(self, extension: str) -> list[TrackedCall]:
        return [call for (ext, _), call in self.calls.items() if ext == extension]

    def call(self, extension: str, call_id: str) -> TrackedCall | None:
        return self.calls.get((extension, call_id))

    def snapshot(self, at: datetime, extension: str | None = None) -> PbxSnapshot:
        """Everything, or one extension's part of it."""
        if extension is None:
            return PbxSnapshot(at=at, extensions=dict(self.extensions),
                               calls=tuple(c.as_active() for c in self.calls.values()))
        return PbxSnapshot(
            at=at,
            extensions={extension: self.extensions.get(extension, ExtensionState.UNKNOWN)},
            calls=tuple(c.as_active() for c in self.calls_of(extension)),
        )

    # ---- changing ----
    def reset(self, snapshot: PbxSnapshot) -> list[CallRecord]:
        """Takes the PBX's word after a (re)connect. Calls we were following that the PBX no longer
        has ended while we could not see them: their records are returned, so none is lost."""
        current = {(c.extension, c.call_id) for c in snapshot.calls}
        vanished = [call for key, call in self.calls.items() if key not in current]
        known = self.calls
        self.extensions = dict(snapshot.extensions)
        self.calls = {}
        for active in snapshot.calls:
            before = known.get((active.extension, active.call_id))
            # what the events told about a call we followed beats a snapshot, which some PBXs
            # build from less (a channel list has no dialled number for a click-to-call)
            self.calls[(active.extension, active.call_id)] = TrackedCall(
                call_id=active.call_id, extension=active.extension,
                direction=before.direction if before else active.direction, state=active.state,
                number=(before.number if before else None) or active.number,
                ddr=(before.ddr if before else None) or active.ddr,
                started_at=active.started_at or (before.started_at if before else snapshot.at),
                answered_at=active.answered_at or (before.answered_at if before else None),
            )
        return [
            _record(call, snapshot.at, Disposition.ANSWERED if call.answered_at else Disposition.NO_ANSWER)
            for call in vanished
        ]

    def apply(self, event: PbxEvent) -> CallRecord | None:
        if isinstance(event, ExtensionStateChanged) and event.extension:
            self.extensions[event.extension] = event.state
            return None
        if not isinstance(event, CallEvent) or not event.extension or not event.call_id:
            return None
        key = (event.extension, event.call_id)
        call = self.calls.get(key) or self._first_sight(event)
        match event:
            case CallEnded():
                self.calls.pop(key, None)
                return _record(call, event.at, event.disposition, event.recording_ref)
            case CallTransferred() | CallParked():
                self.calls.pop(key, None)
                return _record(call, event.at, Disposition.TRANSFERRED, event.recording_ref)
            case CallAnswered() | CallResumed():
                call = replace(call, state=CallState.ACTIVE, answered_at=call.answered_at or event.at)
            case CallHeld():
                call = replace(call, state=CallState.HELD)
            case CallConsulting():
                call = replace(call, state=CallState.CONSULTING)
            case CallRinging() | CallDialing():
                call = replace(call, state=event.state)
        self.calls[key] = _with_details(call, event)
        return None

    @staticmethod
    def _first_sight(event: CallEvent) -> TrackedCall:
        """A call we meet for the first time (usually at its ring or dial; after a reconnect, anywhere)."""
        direction = event.direction or (Direction.OUTBOUND if isinstance(event, CallDialing) else Direction.INBOUND)
        return TrackedCall(
            call_id=event.call_id or "", extension=event.extension or "", direction=direction,
            state=event.state or CallState.ACTIVE, number=event.number, ddr=event.ddr, started_at=event.at,
        )


def _with_details(call: TrackedCall, event: CallEvent) -> TrackedCall:
    """Later events may know the number or DDR better (e.g. a transfer target rings)."""
    if (event.number and event.number != call.number) or (event.ddr and event.ddr != call.ddr):
        return replace(call, number=event.number or call.number, ddr=event.ddr or call.ddr)
    return call


def _record(call: TrackedCall, ended_at: datetime, disposition: Disposition,
            recording_ref: str | None = None) -> CallRecord:
    answered = call.answered_at is not None
    if disposition is Disposition.ANSWERED and not answered:
        disposition = Disposition.NO_ANSWER  # a PBX that says "answered" for a call nobody took
    talk = int((ended_at - call.answered_at).total_seconds()) if call.answered_at else 0
    return CallRecord(
        pbx_call_id=call.call_id,
        extension=call.extension,
        direction=call.direction,
        remote_raw=call.number or "",
        ddr_raw=call.ddr,
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=max(ended_at, call.started_at),
        talk_seconds=max(talk, 0),
        missed=call.direction is Direction.INBOUND and not answered and (
            disposition in MISSED_DISPOSITIONS
        ),
        disposition=disposition,
        recording_ref=recording_ref,
    )
