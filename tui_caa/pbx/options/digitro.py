"""`[pbx.digitro]`: how this site's Dígitro PABX API is reached (see README, "Dígitro").

The registry entry gives the address, port, API key (`secret`), CONTA (`account`), ROTA (`route`) and
the EasyCall Record settings (`ecr_*`); this table holds what the public API documentation leaves
open. The operation paths and event names default to the driver's tables
(`tui_caa.pbx.digitro.protocol`), which say which ones are confirmed and which assumed; entries here
override them one by one, e.g. `operations = { dial = "gerar-chamada-rota-especifica" }`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

Seconds = Annotated[float, Field(gt=0, le=3600)]
_SLUG = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _path(value: str) -> str:
    if value and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
        raise ValueError(f"'{value}' is not a URL path such as /api/v1 (starts with /, no spaces or query)")
    return value


class DigitroOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    use_tls: bool = False  # https:// instead of http:// to the registry's address and port
    verify_tls: bool = True  # check the PBX's certificate (turn off only for a self-signed lab PBX)
    base_path: str = ""  # prefix of every path, e.g. "/api-pabx"
    channel_path: str = "/canal-de-eventos"  # GET: opens the SSE event channel (assumed)
    connect_timeout: Seconds = 5.0
    request_timeout: Seconds = 10.0  # each command, and the channel's first event
    # Dígitro's Interact CTI closes a channel after 1 minute without activity and sends empty data
    # packets as heartbeat; the PABX API's own intervals are not public, hence these margins
    heartbeat_timeout: Seconds = 60.0  # silence on the channel longer than this: the channel is dead
    channel_renew_interval: Seconds = 30.0  # renewal of the channel (one small request)
    reconnect_delay: Seconds = 1.0  # first wait before reopening a lost channel; doubles each failure
    reconnect_max_delay: Seconds = 30.0
    operations: dict[str, str] = Field(default_factory=dict)  # operation → path slug overrides
    event_names: dict[str, str] = Field(default_factory=dict)  # meaning → Dígitro event name overrides
    ddr_field: str = "DDR"  # event data field with the number the customer dialed (assumed name)
    recording_field: str = "ID_GRAVACAO"  # event data field naming the call's recording (assumed name)
    account_password: SecretStr | None = None  # SENHA of generated calls (normally null)
    # EasyCall Record (used only when the registry's ecr_address/ecr_port/ecr_user are filled)
    ecr_use_tls: bool = False
    ecr_lookup_path: str = "/easycall/gravacoes"  # GET ?ID_CHAMADA= or ?ID_GRAVACAO= (assumed)
    ecr_play_path: str = "/easycall/reproduzir"  # POST {ID_GRAVACAO, DESTINO} (assumed)

    @field_validator("base_path", "channel_path", "ecr_lookup_path", "ecr_play_path")
    @classmethod
    def _url_path(cls, value: str) -> str:
        return _path(value)

    @field_validator("channel_path", "ecr_lookup_path", "ecr_play_path")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty: a path such as /canal-de-eventos")
        return value

    @field_validator("operations")
    @classmethod
    def _slugs(cls, value: dict[str, str]) -> dict[str, str]:
        for operation, slug in value.items():
            if not _SLUG.match(slug):
                raise ValueError(f"operations.{operation} = '{slug}' is not a path slug such as 'atender-chamada'")
        return value

    @field_validator("event_names")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for meaning, name in value.items():
            if not name.strip():
                raise ValueError(f"event_names.{meaning} is empty: give the event name the PBX sends")
        return value

    @field_validator("ddr_field", "recording_field")
    @classmethod
    def _field_name(cls, value: str) -> str:
        if not _FIELD.match(value):
            raise ValueError(f"'{value}' is not a JSON field name such as DDR")
        return value
