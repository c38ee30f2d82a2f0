"""Which AMI events the client may drop unparsed: the mapper's hot path starts here."""

from __future__ import annotations

from collections.abc import Callable

from tui_caa.pbx.asterisk.mapping.model import HANDLED_EVENTS, MapperConfig

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
