"""W3C Server-Sent Events, parsed line by line (the lines come from
`limits.capped_lines`, which never holds an unfinished line beyond its cap)."""

from __future__ import annotations

from dataclasses import dataclass

from tui_caa.pbx.base import PbxError

MAX_EVENT_CHARS = 1_000_000  # one event larger than this is not a PBX event: dropped, counted


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str  # "message" when the server gave no `event:` field
    data: str
    id: str | None = None

    @property
    def heartbeat(self) -> bool:
        """Dígitro's channels send an empty data packet to say they are alive."""
        return self.event == "message" and not self.data.strip()


class OversizedEvent(PbxError):
    """An event past MAX_EVENT_CHARS: skipped and counted by the driver."""


class SseParser:
    """Feed it lines (without their line break); it returns the events each blank line completes."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._id: str | None = None
        self._skipping = False

    def feed(self, line: str) -> SseEvent | None:
        """Raises OversizedEvent once for an event past MAX_EVENT_CHARS; the rest of it is skipped."""
        if line == "":
            return self._dispatch()
        if self._skipping:
            return None
        if line.startswith(":"):  # a comment: keep-alive only
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._size += len(value) + 1
            if self._size > MAX_EVENT_CHARS:
                self._reset()
                self._skipping = True
                raise OversizedEvent(f"an event of more than {MAX_EVENT_CHARS} characters")
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        # `retry:` and unknown fields are ignored, as the standard says
        return None

    def _dispatch(self) -> SseEvent | None:
        if self._skipping:
            self._skipping = False
            return None
        if not self._data:  # no `data:` line: nothing to dispatch (the standard's rule)
            self._reset()
            return None
        event = SseEvent(self._event or "message", "\n".join(self._data), self._id)
        self._reset()
        return event

    def _reset(self) -> None:
        self._event, self._data, self._size = "", [], 0
