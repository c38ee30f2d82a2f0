"""`[pbx.planetfone]`: how this site's Planetfone is reached and laid out (see README, "Planetfone").

Planetfone's SOAP service (`wenvpabx2`) is public in its WSDL, but several details of a real box are
not: which channel field carries the call's `IdLigacao`, how a held channel shows, the MySQL CDR
table's name and columns, its time zone. Each of those is a setting here, with the default this
project assumed, so a site can correct it without code.
"""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_CHANNEL_PATTERN = r"^(?:SIP|PJSIP|IAX2|Khomp|DAHDI)/(?P<ext>\d{2,8})-"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

#: the CDR columns the driver reads, by their Asterisk/FreePBX names; `cdr_columns` renames them
#: per site, and an empty name says the site has no such column (e.g. no `did`, no `recordingfile`)
CDR_COLUMNS = ("calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "disposition",
               "duration", "billsec", "uniqueid", "linkedid", "did", "recordingfile")

Seconds = Annotated[float, Field(gt=0, le=3600)]


class PlanetfoneOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # ---- the SOAP service ----
    service_path: str = "/wenvpabx2"  # the address's own path, if any, comes first
    poll_interval: Annotated[float, Field(ge=0.01, le=60)] = 1.0  # there is no push: state is polled
    request_timeout: Seconds = 5.0  # one SOAP request (Disca gets dial_ring_seconds on top)
    connect_timeout: Seconds = 5.0
    reconnect_delay: Seconds = 1.0  # first retry after the link is lost, doubling up to the max
    reconnect_max_delay: Seconds = 30.0
    # ---- how CanaisAtivos rows are read (not public: assumptions, see the driver's docstring) ----
    channel_pattern: str = DEFAULT_CHANNEL_PATTERN  # an extension's channel; group `ext`
    call_id_field: str = "Account"  # the channel field holding the call's IdLigacao (else Uniqueid)
    ringing_states: tuple[str, ...] = ("Ringing",)  # the phone is alerting: an inbound call
    dialing_states: tuple[str, ...] = ("Ring", "Dialing", "OffHook", "Pre-ring")  # calling out
    held_contexts: tuple[str, ...] = ("hold", "musiconhold")  # a channel on hold sits in these
    park_context: str = "parkedcalls"  # a parked call's channel: this context, the slot as Extension
    agent_status: bool = True  # extension states from SituacaoAgente (NroRamal, IdtStatus)
    abre_atendimento: bool = False  # ask AbreAtendimento(NroAgente=extension) for a ringing call's DDR
    # ---- commands ----
    dial_ring_seconds: Annotated[int, Field(ge=5, le=300)] = 30  # Disca QtdSegTimeout (the seller's phone)
    dial_destination_seconds: Annotated[int, Field(ge=5, le=300)] = 50  # Disca QtdSegTimeoutDestino
    dial_timeout: Seconds | None = None  # how long to wait for Disca's answer; default request_timeout + dial_ring_seconds
    transfer_ring_seconds: Annotated[int, Field(ge=5, le=300)] = 30
    park_seconds: Annotated[int, Field(ge=10, le=3600)] = 120  # EstacionaChamada QtdSegTimeout
    system_permissions: bool = True  # Disca PermissoesSistema=1 (the PBX's rules, not the extension's)
    transfer_context: str = ""  # TransfereChamada ContextoDestino; empty: the PBX's default
    # ---- the PBX's MySQL: the Asterisk CDR table ----
    cdr_table: str = "cdr"
    cdr_columns: dict[str, str] = Field(default_factory=dict)  # our name -> the site's column name
    cdr_call_id_column: str = "linkedid"  # the CDR column equal to IdLigacao ("uniqueid" before Asterisk 1.8)
    cdr_timezone: str = "America/Sao_Paulo"  # calldate is the PBX's local time, without a zone
    cdr_window: Seconds = 600.0  # how far back each sweep for calls missed between polls looks
    cdr_sweep_interval: Annotated[float, Field(ge=0.01, le=3600)] = 5.0
    mysql_timeout: Seconds = 5.0
    # ---- recordings ----
    recording_strip_extension: bool = True  # BuscaGravacaoParaRamal wants NomeArquivo without ".wav"

    @field_validator("channel_pattern")
    @classmethod
    def _pattern_with_ext(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        if "ext" not in compiled.groupindex:
            raise ValueError(r"needs a group named ext, e.g. ^SIP/(?P<ext>\d+)-")
        return value

    @field_validator("service_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in " ?#"):
            raise ValueError("a URL path such as /wenvpabx2")
        return value

    @field_validator("cdr_table", "cdr_call_id_column")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"'{value}' is not a plain SQL name (letters, digits, _)")
        return value

    @field_validator("cdr_columns")
    @classmethod
    def _columns(cls, value: dict[str, str]) -> dict[str, str]:
        for ours, theirs in value.items():
            if ours not in CDR_COLUMNS:
                raise ValueError(f"unknown CDR column '{ours}'; known: {', '.join(CDR_COLUMNS)}")
            if theirs and not _IDENTIFIER.match(theirs):
                raise ValueError(f"'{theirs}' (for {ours}) is not a plain SQL name; empty means the site has none")
        return value

    @field_validator("cdr_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'; example: America/Sao_Paulo") from None
        return value
