"""The PBX registry entry ("Centrais Telefônicas"): which PBX the site runs and how to reach it."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Self
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from tui_caa.domain.crm import Record

Port = Annotated[int, Field(ge=1, le=65535)]
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


class PbxKind(StrEnum):
    DIGITRO = "digitro"
    PLANETFONE = "planetfone"
    FORIP = "forip"
    ASTERISK = "asterisk"
    SIMULATOR = "simulator"


def _check_address(value: str, *, urls_allowed: bool) -> str:
    if urls_allowed and re.match(r"^https?://", value, re.IGNORECASE):
        parsed = urlparse(value)
        if parsed.hostname and _is_host(parsed.hostname):
            return value
        raise ValueError(f"'{value}' is not a valid http:// address; example: http://pf.central.com.br")
    if _is_host(value):
        return value
    example = "192.168.111.222 or http://pf.central.com.br" if urls_allowed else "192.168.0.10"
    raise ValueError(f"'{value}' is not an IP address or host name; example: {example}")


def _is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(value))


class PbxRegistryEntry(Record):
    """Fields follow the seed's registry screen; `login`/`secret` carry each API's credentials
    (AMI user and secret for Asterisk, the API key for Dígitro, the e-mail and password for ForIP)."""

    id: int | None = None
    name: Annotated[str, Field(min_length=1, max_length=80)] = "Central"
    kind: PbxKind
    address: str | None = None
    port: Port | None = None
    account: str | None = None  # Dígitro "Conta"
    route: str | None = None  # Dígitro "Rota"
    login: str | None = None
    secret: SecretStr | None = None
    ecr_address: str | None = None  # Dígitro EasyCall Record (recordings), only when contracted
    ecr_port: Port | None = None
    ecr_user: str | None = None
    ecr_password: SecretStr | None = None
    mysql_host: str | None = None  # Planetfone's own MySQL (CDR, recordings, DDR)
    mysql_port: Port | None = None
    mysql_user: str | None = None
    mysql_password: SecretStr | None = None
    mysql_database: str | None = None
    active: bool = False

    @field_validator("address", "account", "route", "login", "ecr_address", "ecr_user",
                     "mysql_host", "mysql_user", "mysql_database", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str | None, info: ValidationInfo) -> str | None:
        urls_allowed = info.data.get("kind") in (PbxKind.PLANETFONE, PbxKind.FORIP)
        return value if value is None else _check_address(value, urls_allowed=urls_allowed)

    @field_validator("mysql_host")
    @classmethod
    def _valid_mysql_host(cls, value: str | None) -> str | None:
        return value if value is None else _check_address(value, urls_allowed=False)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Self:
        required = {
            PbxKind.DIGITRO: ("address", "port", "account", "route"),
            PbxKind.PLANETFONE: ("address", "port"),
            PbxKind.FORIP: ("address", "port"),
            PbxKind.ASTERISK: ("address", "port"),
            PbxKind.SIMULATOR: (),
        }[self.kind]
        missing = [name for name in required if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} PBX needs {', '.join(missing)}")
        self._all_or_none("EasyCall Record", ("ecr_address", "ecr_port", "ecr_user"))
        if self.ecr_address and self.kind is not PbxKind.DIGITRO:
            raise ValueError("EasyCall Record settings only apply to a Dígitro PBX")
        self._all_or_none("MySQL", ("mysql_host", "mysql_user", "mysql_database"))
        return self

    def _all_or_none(self, what: str, names: tuple[str, ...]) -> None:
        given = [name for name in names if getattr(self, name) is not None]
        if given and len(given) != len(names):
            missing = [name for name in names if name not in given]
            raise ValueError(f"{what} settings are incomplete: also fill {', '.join(missing)}")
