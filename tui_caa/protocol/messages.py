"""What a console receives from the gateway: plain, serialisable data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tui_caa.domain import PhoneLookup, TrafficSource
from tui_caa.domain.events import PbxEvent, PbxSnapshot


class LinkState(StrEnum):
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # lost, or resyncing: commands are refused until connected
    DOWN = "down"  # cannot connect at all (wrong address, PBX off…); retried with backoff
    UNREACHABLE = "unreachable"  # a remote console cannot reach its gateway (said by the console itself)


@dataclass(frozen=True, slots=True)
class PbxUpdate:
    """One event of the PBX. A ring carries the DDR's traffic source at once (from memory)."""

    event: PbxEvent
    traffic_source: TrafficSource | None = None


@dataclass(frozen=True, slots=True)
class ScreenPop:
    """The customers that have the caller's number, looked up once per call for every console."""

    extension: str
    call_id: str
    lookup: PhoneLookup | None
    traffic_source: TrafficSource | None = None
    error: str | None = None  # the CRM could not be asked (the pop shows the raw number only)


@dataclass(frozen=True, slots=True)
class LinkStatus:
    state: LinkState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """The whole picture a console may trust: sent first, after every PBX resync, and to a
    console that fell behind instead of the events it missed."""

    pbx: PbxSnapshot
    link: LinkState
    pops: dict[str, ScreenPop] = field(default_factory=dict)  # by call id, for calls under way
    problems: tuple[str, ...] = ()  # what keeps the gateway from working right now (see GatewayProblems)
    calls_today: dict[str, int] = field(default_factory=dict)  # per extension, the CRM's as well


@dataclass(frozen=True, slots=True)
class CallsRecorded:
    """These finished calls of `extension` are now in the CRM: its call history can show them.
    (A call ends before its record is written, by a moment or, while the CRM is down, by hours.)"""

    extension: str
    call_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GatewayProblems:
    """What keeps the gateway from working right now, one short sentence each (a task that failed and
    is being restarted, an outbox file it cannot write). Sent to every console whenever the list
    changes; empty when everything works again."""

    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Synced:
    """Everything published before the console asked for `token` has been delivered to it (a remote
    console's way to know it is up to date: tests, and a check that the stream still flows)."""

    token: str


GatewayMessage = PbxUpdate | ScreenPop | LinkStatus | StateSnapshot | CallsRecorded | GatewayProblems | Synced
