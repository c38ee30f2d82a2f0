"""The PBX registry entry ("Centrais Telefônicas"): which PBX the site runs and how to reach it."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Self
from urllib.parse import urlparse

from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tui_caa.domain.crm import Record

Port = Annotated[int, Field(ge=1, le=65535)]
# what can never be sent inside a protocol line (an AMI "Login: …" line, an HTTP header, a URL):
# a CR or LF ends the line early, and the PBX reads the rest as a command of its own
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LINE_FIELDS = ("address", "account", "route", "login", "secret", "ecr_address", "ecr_user", "ecr_password",
               "mysql_host", "mysql_user", "mysql_password", "mysql_database")
SECRET_FIELDS = ("secret", "ecr_password", "mysql_password")
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

    # a refused secret must not come back inside the error (pydantic shows the input by default)
    model_config = ConfigDict(**Record.model_config, hide_input_in_errors=True)
    own_line_checks = frozenset(LINE_FIELDS)  # `_one_line` below says what a PBX would do with them

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
    # set only on an entry stored before a rule that it breaks: loaded so that it can be listed and
    # fixed, refused when a driver is built from it (see `unusable`)
    _problem: str | None = PrivateAttr(default=None)

    @property
    def problem(self) -> str | None:
        return self._problem

    @classmethod
    def unusable(cls, data: dict[str, object], error: ValidationError) -> PbxRegistryEntry:
        """A stored entry that no longer validates, kept as it is with the reason it cannot work."""
        values = {key: value for key, value in data.items() if key in cls.model_fields}
        for name in SECRET_FIELDS:  # never a secret in clear, not even in a broken entry
            if isinstance(values.get(name), str):
                values[name] = SecretStr(str(values[name]))
        with contextlib.suppress(ValueError):
            values["kind"] = PbxKind(str(values.get("kind")))
        entry = cls.model_construct(**values)  # type: ignore[arg-type]
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        entry._problem = message if not where or message.startswith(where) else f"{where}: {message}"
        return entry

    @field_validator(*LINE_FIELDS)
    @classmethod
    def _one_line(cls, value: str | SecretStr | None, info: ValidationInfo) -> str | SecretStr | None:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text and _CONTROL.search(text):  # the value itself is not shown: it may be a secret
            raise ValueError(f"{info.field_name} contains a control character (a line break, CR or LF, or a tab), "
                             "which cannot be sent to the PBX; type it again without it")
        return value

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
