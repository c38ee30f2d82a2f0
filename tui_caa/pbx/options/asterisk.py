"""`[pbx.asterisk]`: how this site's Asterisk dialplan is laid out (see README, "Asterisk")."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

DEFAULT_CHANNEL_PATTERN = r"^(?:PJSIP|SIP|IAX2)/(?P<ext>\d{2,8})-"
DEFAULT_DEVICE_PATTERN = r"^(?:PJSIP|SIP|IAX2)/(?P<ext>\d{2,8})$"
DEFAULT_TRUNK_CONTEXTS = ("from-trunk", "from-pstn", "from-external")

Seconds = Annotated[float, Field(gt=0, le=3600)]


class AsteriskOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # the extension of a channel, by name: a regular expression with a group named `ext`
    channel_pattern: str = DEFAULT_CHANNEL_PATTERN
    device_pattern: str = DEFAULT_DEVICE_PATTERN  # DeviceStateChange `Device`, group `ext`
    trunk_contexts: tuple[str, ...] = DEFAULT_TRUNK_CONTEXTS  # a call whose first channel is here is inbound
    dial_context: str = "from-internal"  # where click-to-call and transfers dial the number
    technology: str = "PJSIP"  # the channel technology of the phones: PJSIP, SIP, IAX2
    did_variable: str = "FROM_DID"  # the channel variable with the DDR (FreePBX sets FROM_DID)
    recording_variable: str = "MIXMONITOR_FILENAME"
    originate_timeout_ms: Annotated[int, Field(ge=1000, le=300_000)] = 30_000
    use_md5: bool = False  # log in by MD5 challenge instead of sending the secret
    connect_timeout: Seconds = 5.0
    action_timeout: Seconds = 10.0
    # a Ping every so often, whose reply must come within ping_timeout (a half-open link is found);
    # 0 turns the keep-alive off (only for tests: a dead link would then go unnoticed)
    ping_interval: Annotated[float, Field(ge=0, le=3600)] = 20.0
    ping_timeout: Seconds = 5.0
    reconnect_delay: Seconds = 1.0
    reconnect_max_delay: Seconds = 30.0
    # ---- commands (see tui_caa/pbx/asterisk/commands.py for what each one sends) ----
    # attended transfer uses `Atxfer`, which needs the atxfer feature code in features.conf
    # (`atxfer => *2`): only then is it offered
    atxfer_enabled: bool = False
    # a command Asterisk accepts may still not happen (an Atxfer it gives up, a phone that ignores
    # the hold NOTIFY): what it does must show within this many seconds, or the console is told
    confirm_timeout_s: Annotated[float, Field(gt=0, le=60)] = 3.0
    # core AMI has no Hold action: "none" (no hold button), "park" (park the other party, resume
    # by calling the slot back) or "notify" (PJSIPNotify `Event: hold`/`talk`, phones that obey it)
    hold_method: Literal["none", "park", "notify"] = "none"  # checked by _one_of: a clearer message
    hold_park_timeout_s: Annotated[int, Field(ge=60, le=86_400)] = 3600  # hold by park: slot kept this long
    # answering by API: "none" (Asterisk has no generic way) or "notify" (PJSIPNotify `Event: talk`,
    # for phones that accept it, e.g. Yealink with remote control allowed)
    answer_method: Literal["none", "notify"] = "none"
    parking_enabled: bool = True  # res_parking loaded: park and pickup are offered
    parking_context: str = "parkedcalls"  # where a parking slot is dialled to pick the call up
    pickup_context: str | None = None  # Pickup(ext@context) for a ringing extension; None: dial_context
    spy_enabled: bool = True  # app_chanspy loaded: listen, whisper, barge are offered

    @field_validator("channel_pattern", "device_pattern")
    @classmethod
    def _pattern_with_ext(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        if "ext" not in compiled.groupindex:
            raise ValueError(r"needs a group named ext, e.g. ^PJSIP/(?P<ext>\d+)-")
        return value

    @field_validator("dial_context", "parking_context", "pickup_context")
    @classmethod
    def _context_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.+-]{1,79}", value):
            raise ValueError("a dialplan context name (letters, digits, _ - . +)")
        return value

    @field_validator("hold_method", "answer_method", mode="before")
    @classmethod
    def _one_of(cls, value: object, info: ValidationInfo) -> object:
        allowed = ("none", "park", "notify") if info.field_name == "hold_method" else ("none", "notify")
        if value not in allowed:
            raise ValueError(f"{info.field_name} '{value}' is not one of {', '.join(allowed)}")
        return value

    @model_validator(mode="after")
    def _park_needs_parking(self) -> Self:
        if self.hold_method == "park" and not self.parking_enabled:
            raise ValueError("hold_method 'park' needs parking_enabled = true (res_parking)")
        return self

    @model_validator(mode="after")
    def _notify_needs_pjsip(self) -> Self:
        for field in ("hold_method", "answer_method"):
            if getattr(self, field) == "notify" and self.technology.upper() != "PJSIP":
                raise ValueError(f"{field} = \"notify\" uses PJSIPNotify and needs technology = \"PJSIP\"")
        return self

    @field_validator("technology")
    @classmethod
    def _known_technology(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]+", value):
            raise ValueError("a channel technology such as PJSIP, SIP or IAX2")
        return value
