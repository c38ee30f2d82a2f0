"""How the gateway's messages and refusals travel as JSON (the event stream and the API's errors).

Events are tagged by their `type` (CallHeld and CallResumed have the same fields: a shape alone
cannot tell them apart); every other value goes through pydantic, which checks what it decodes,
so a console never acts on a malformed message: it gets `WireError` naming what was wrong."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tui_caa.domain import Conflict, DomainError, InvalidInput, LockedField, NotFound, TrafficSource, events
from tui_caa.domain.errors import (
    DatabaseUnavailable,
    NotAllowed,
    NotConnected,
    PbxError,
    Reconnecting,
    Unsupported,
)
from tui_caa.domain.events import PbxEvent
from tui_caa.protocol.link_errors import GatewayUnreachable, TooManyAttempts, Unauthorized, WireError
from tui_caa.protocol.messages import (
    CallsRecorded,
    GatewayMessage,
    GatewayProblems,
    LinkStatus,
    PbxUpdate,
    ScreenPop,
    StateSnapshot,
    Synced,
)

# ---- messages ----

def _event_classes() -> dict[str, type[PbxEvent]]:
    # read from the module, not from __subclasses__(): `dataclass(slots=True)` replaces each class
    # with a new one, and the originals would linger there
    return {cls.type: cls for cls in vars(events).values()
            if isinstance(cls, type) and issubclass(cls, PbxEvent) and cls is not PbxEvent}


_EVENTS = _event_classes()
_TAGS: dict[type, str] = {ScreenPop: "pop", LinkStatus: "link", StateSnapshot: "snapshot",
                          CallsRecorded: "recorded", GatewayProblems: "problems", Synced: "synced"}
_BY_TAG = {tag: cls for cls, tag in _TAGS.items()}


@cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def event_to_dict(event: PbxEvent) -> dict[str, Any]:
    return {"type": event.type, **_adapter(type(event)).dump_python(event, mode="json")}


def event_from_dict(data: dict[str, Any]) -> PbxEvent:
    fields = dict(data)
    cls = _EVENTS.get(str(fields.pop("type", "")))
    if cls is None:
        raise WireError(f"unknown event type {str(data.get('type'))[:40]!r}", field="type")
    return _adapter(cls).validate_python(fields)


def message_to_dict(message: GatewayMessage) -> dict[str, Any]:
    if isinstance(message, PbxUpdate):
        source = message.traffic_source
        return {"type": "pbx", "event": event_to_dict(message.event),
                "traffic_source": source.model_dump(mode="json") if source else None}
    return {"type": _TAGS[type(message)], **_adapter(type(message)).dump_python(message, mode="json")}


def encode_message(message: GatewayMessage) -> bytes:
    return json.dumps(message_to_dict(message), ensure_ascii=False, separators=(",", ":")).encode()


def decode_message(raw: bytes | str) -> GatewayMessage:
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise WireError("a message must be a JSON object", field="message")
        tag = data.pop("type", None)
        if tag == "pbx":
            source = data.get("traffic_source")
            return PbxUpdate(event_from_dict(data["event"]),
                             TrafficSource.model_validate(source) if source is not None else None)
        cls = _BY_TAG.get(tag)  # type: ignore[arg-type]
        if cls is None:
            raise WireError(f"unknown message type {str(tag)[:40]!r}", field="type")
        return _adapter(cls).validate_python(data)
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError and ValidationError are ValueErrors
        if isinstance(exc, WireError):
            raise
        raise WireError(f"malformed message from the gateway: {_short(exc)}", field="message") from None


# ---- refusals ----

# the kinds a console tells apart, most specific first; their HTTP status
ERROR_STATUS: dict[type[DomainError], int] = {
    Unauthorized: 401, TooManyAttempts: 429, NotAllowed: 403, NotFound: 404, Conflict: 409, LockedField: 409,
    InvalidInput: 422, WireError: 422, Reconnecting: 503, DatabaseUnavailable: 503, NotConnected: 503,
    Unsupported: 501, PbxError: 502, GatewayUnreachable: 503, DomainError: 400,
}
_ERROR_BY_NAME = {cls.__name__: cls for cls in ERROR_STATUS}


def error_kind(exc: DomainError) -> type[DomainError]:
    """The nearest kind a console knows (an AmiError travels as a PbxError)."""
    return next(cls for cls in type(exc).__mro__ if cls in ERROR_STATUS)  # type: ignore[misc]


def error_to_dict(exc: DomainError) -> dict[str, Any]:
    return {"error": {"kind": error_kind(exc).__name__, "message": exc.message, "field": exc.field}}


def error_from_dict(data: object, status: int) -> DomainError:
    """The refusal a reply carries, as the exception the gateway raised (its kind, message, field)."""
    body = data.get("error") if isinstance(data, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return WireError(f"the gateway answered HTTP {status} without an error body", field="reply")
    cls = _ERROR_BY_NAME.get(str(body.get("kind")), DomainError)
    field = body.get("field")
    return cls(body["message"][:2000], field=field if isinstance(field, str) else None)


def validation_message(exc: ValidationError) -> tuple[str, str]:
    """(field, sentence) of the first problem pydantic found in a request."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "body"
    return field, f"{field}: {error['msg'].removeprefix('Value error, ')}"


def _short(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return validation_message(exc)[1][:200]
    return str(exc)[:200]
