"""The gateway's HTTP API, described once for both ends: each `Session` method is one operation,
`POST /api/v1/<path>` with its arguments as a JSON object, answered with `{"result": …}` or
`{"error": {"kind", "message", "field"}}`. The server validates the arguments with these types
(a wrong or missing one is a 422 naming the field); the client encodes and decodes with the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from tui_caa.domain import (
    Appointment,
    CallRecord,
    Contact,
    Customer,
    CustomerSaved,
    HistoryCursor,
    HistoryFilter,
    HistoryPage,
    InvalidInput,
    LifecycleEntry,
    PhoneChange,
    PhoneLookup,
    PhoneSlot,
    Seller,
    TrafficSource,
    Vehicle,
)
from tui_caa.domain.accounts import Role
from tui_caa.domain.telephony import Capability
from tui_caa.phones import CallerIdRules
from tui_caa.protocol.wire import validation_message

CallId = Annotated[str, Field(min_length=1, max_length=128)]
Limit = Annotated[int, Field(ge=1, le=500)]
Number = Annotated[str, Field(max_length=64)]
API_PREFIX_V1 = "/api/v1"
MAX_BODY_BYTES = 256 * 1024  # the largest request a console sends (a customer with its notes) is ~10 KB


@dataclass(frozen=True)
class Operation:
    name: str  # the Session method
    params: dict[str, Any]  # parameter -> type (a default makes it optional: (type, default))
    result: Any = None

    @property
    def path(self) -> str:
        return "/" + self.name.replace("_", "-")

    @cached_property
    def _arguments(self) -> type:
        fields = {name: spec if isinstance(spec, tuple) else (spec, ...) for name, spec in self.params.items()}
        return create_model(f"{self.name}_arguments", __config__={"extra": "forbid"}, **fields)  # type: ignore[call-overload]

    @cached_property
    def _result(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.result)

    # server side
    def parse_arguments(self, body: object) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise InvalidInput("the request body must be a JSON object", field="body")
        try:
            model = self._arguments.model_validate(body)
        except ValidationError as exc:
            field, message = validation_message(exc)
            raise InvalidInput(message, field=field) from None
        return {name: getattr(model, name) for name in self.params}

    def dump_result(self, value: object) -> object:
        return self._result.dump_python(value, mode="json")

    # client side
    def dump_arguments(self, arguments: dict[str, Any]) -> dict[str, Any]:
        return self._arguments(**arguments).model_dump(mode="json")  # type: ignore[no-any-return]

    def parse_result(self, value: object) -> Any:
        return self._result.validate_python(value)


def _ops(*operations: Operation) -> dict[str, Operation]:
    return {op.name: op for op in operations}


OPERATIONS = _ops(
    # calls
    Operation("dial", {"number": Number}, str),
    Operation("answer", {"call_id": CallId}),
    Operation("hangup", {"call_id": CallId}),
    Operation("hold", {"call_id": CallId}),
    Operation("resume", {"call_id": CallId}),
    Operation("blind_transfer", {"call_id": CallId, "target": Number}),
    Operation("consult", {"call_id": CallId, "target": Number}),
    Operation("complete_transfer", {"call_id": CallId}),
    Operation("cancel_transfer", {"call_id": CallId}),
    Operation("send_dtmf", {"call_id": CallId, "digits": Number}),
    Operation("park", {"call_id": CallId}, str),
    Operation("pickup", {"slot_or_extension": Number}),
    Operation("monitor", {"mode": Capability, "target_extension": Number}),
    Operation("play_recording", {"pbx_call_id": str, "number": (Number | None, None)}, str),
    Operation("simulate_call", {}, str),
    # CRM
    Operation("lookup", {"number": Number}, PhoneLookup),
    Operation("search_customers", {"query": Annotated[str, Field(max_length=200)], "limit": (Limit, 50)}, list[Customer]),
    Operation("get_customer", {"customer_id": int}, Customer),
    Operation("create_customer", {"customer": Customer}, CustomerSaved),
    Operation("update_customer", {"customer": Customer}, CustomerSaved),
    Operation("associate_phone", {"customer_id": int, "slot": PhoneSlot, "number": Number}, PhoneChange),
    Operation("vehicles_of", {"customer_id": int}, list[Vehicle]),
    Operation("add_vehicle", {"vehicle": Vehicle}, Vehicle),
    Operation("create_contact", {"contact": Contact}, Contact),
    Operation("update_contact", {"contact": Contact}, Contact),
    Operation("create_appointment", {"appointment": Appointment}, Appointment),
    Operation("lifecycle", {"customer_id": int}, list[LifecycleEntry]),
    Operation("call_history", {"filters": (HistoryFilter | None, None), "after": (HistoryCursor | None, None),
                               "limit": (Limit, 50), "extension": (str | None, None)}, HistoryPage),
    Operation("get_call", {"pbx_call_id": str}, CallRecord),
    Operation("traffic_sources", {}, list[TrafficSource]),
    Operation("sellers", {}, list[Seller]),
)


class SessionInfo(BaseModel):
    """What a console learns when it logs in (and again after every reconnect): who it is, from the
    account, never from what the console claims; and what this gateway's PBX can do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    login: str
    role: Role
    extension: str | None = None
    name: str = ""
    seller: Seller | None = None
    capabilities: frozenset[Capability] = frozenset()
    caller_id_rules: CallerIdRules = Field(default_factory=CallerIdRules)
    simulated: bool = False
    expires_at: datetime | None = None


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class LoginReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str
    session: SessionInfo
