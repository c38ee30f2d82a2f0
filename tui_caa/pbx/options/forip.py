"""`[pbx.forip]`: how to reach a ForIP PBX beyond its CRM API (see README, "ForIP").

The registry entry gives the CRM API's address, port, e-mail (`login`) and password (`secret`).
Everything else lives here:
- the API's path (web2py routes the "Integração CRM" controller to /admanager/crm);
- optional AMI access (ForIP runs Asterisk): without it the driver can only dial;
- optional access to ForIP's PostgreSQL through ODBC (history, DDR, recordings; with AMI, the calls
  that began and ended during an outage), either as the parts (db_host, db_port, db_name, db_user,
  db_password) or as a connection string without the password (odbc_dsn) plus db_password;
- where recordings are served and stored.
Table names and the DDR query are settings because that part of ForIP's schema is not public.
"""

from __future__ import annotations

import re
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from tui_caa.pbx.options.asterisk import AsteriskOptions

Seconds = Annotated[float, Field(gt=0, le=3600)]
Port = Annotated[int, Field(ge=1, le=65535)]
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")

#: [I] f_direcionamento (origem, ddr, ramal_virtual) read as "the caller `origem` came in on `ddr`";
#: parameters: the caller's number, the extension. The newest row wins.
DEFAULT_DDR_QUERY = (
    "SELECT ddr FROM f_direcionamento WHERE origem = ? AND (ramal_virtual = ? OR ramal_virtual = '') "
    "ORDER BY id DESC LIMIT 1"
)

#: ForIP is chan_sip-era Asterisk Realtime; its click-to-call dials into the `ramais` context
FORIP_AMI_DEFAULTS = AsteriskOptions(technology="SIP", dial_context="ramais")


class ForipOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # ---- the CRM API (HTTP, JSON) ----
    api_path: str = "/admanager/crm"  # used when the registry address has no path of its own
    request_timeout: Seconds = 10.0
    # an {"error": …} matching this is an expired or invalid api_key: log in again once, retry once
    key_error_pattern: str = r"api[_ ]?key"
    probe_interval: Annotated[float, Field(ge=0, le=3600)] = 15.0  # a GET of login_crm; 0 = no probe
    reconnect_delay: Seconds = 1.0
    reconnect_max_delay: Seconds = 30.0

    # ---- AMI (optional): events and the commands the CRM API lacks ----
    ami_host: str | None = None  # default: the registry address's host
    ami_port: Port = 5038
    ami_user: str | None = None
    ami_secret: SecretStr | None = None
    ami: AsteriskOptions = FORIP_AMI_DEFAULTS  # the [pbx.forip.ami] table, as [pbx.asterisk]

    # ---- PostgreSQL through ODBC (optional): history, DDR, recordings ----
    odbc_dsn: str | None = None  # e.g. "Driver={PostgreSQL Unicode};Server=10.0.0.5;Port=5432;Database=forip;Uid=crm"
    odbc_driver: str = "PostgreSQL Unicode"  # the psqlODBC name in /etc/odbcinst.ini
    db_host: str | None = None  # default: the registry address's host
    db_port: Port = 5432
    db_name: str = "forip"
    db_user: str | None = None
    db_password: SecretStr | None = None
    db_timeout: Seconds = 10.0
    timezone: str = "America/Sao_Paulo"  # ForIP stores local times without a zone
    tickets_table: str = "f_bilhetes_chamadas"
    ddr_query: str = DEFAULT_DDR_QUERY
    history_limit: Annotated[int, Field(ge=1, le=100_000)] = 1000
    # without AMI, a dial's outcome is read from its ticket: how often, and how long to wait for it
    outcome_poll_interval: Seconds = 5.0
    dial_outcome_timeout: Seconds = 900.0
    # with AMI: after an outage, the tickets from `outage_margin` s before the link was lost on are read
    # for calls that began and ended meanwhile; read again `outage_recheck` s later (tickets written
    # late; 0 = once), and every `outage_retry` s while the database fails
    outage_margin: Seconds = 60.0
    outage_recheck: Annotated[float, Field(ge=0, le=3600)] = 10.0
    outage_retry: Seconds = 30.0

    # ---- recordings ----
    recordings_url: str | None = None  # the PBX web server; default http://<registry host>
    recordings_path: str = "/var/www/GRAVACOES"  # [I] GRAVACOES on the PBX's disk, for Asterisk's Playback

    @property
    def ami_enabled(self) -> bool:
        return self.ami_user is not None

    @property
    def db_enabled(self) -> bool:
        return self.odbc_dsn is not None or self.db_user is not None

    @field_validator("api_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)*/?", value):
            raise ValueError("a URL path such as /admanager/crm")
        return value.rstrip("/")

    @field_validator("key_error_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        return value

    @field_validator("tickets_table")
    @classmethod
    def _table(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError("a table name such as f_bilhetes_chamadas or schema.table")
        return value

    @field_validator("ddr_query")
    @classmethod
    def _ddr_query(cls, value: str) -> str:
        if value.count("?") != 2 or not value.lstrip().upper().startswith("SELECT"):
            raise ValueError("a SELECT with two ? parameters (the caller's number, the extension) "
                             "returning the DDR in its first column")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a time zone name such as America/Sao_Paulo") from None
        return value

    @field_validator("recordings_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("an http:// address such as http://10.0.0.5 (the PBX web server)")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.ami_user is None) != (self.ami_secret is None):
            raise ValueError("AMI access needs both ami_user and ami_secret (or neither)")
        if self.odbc_dsn is not None:
            if re.search(r"(^|;)\s*(pwd|password)\s*=", self.odbc_dsn, re.IGNORECASE):
                raise ValueError("odbc_dsn must not hold the password: put it in db_password")
            if self.db_user is not None:
                raise ValueError("give either odbc_dsn or db_user/db_host…, not both")
        if self.db_user is not None and self.db_password is None:
            raise ValueError("db_user needs db_password (ForIP's PostgreSQL asks for a password)")
        if self.reconnect_max_delay < self.reconnect_delay:
            raise ValueError("reconnect_max_delay must be at least reconnect_delay")
        return self
