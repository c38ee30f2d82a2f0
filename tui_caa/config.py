"""Settings: environment variables (TUI_CAA_*) over a TOML file over defaults.

The file is `--config PATH`, else $TUI_CAA_CONFIG_FILE, else config.toml in the user config dir.
Nested keys in the environment use a double underscore: TUI_CAA_DATABASE__URL.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from tui_caa import locations
from tui_caa.pbx.options import PbxOptions
from tui_caa.phones import CallerIdRules, DialRules, check_ddd

ENV_PREFIX = "TUI_CAA_"
CONFIG_FILE_ENV = "TUI_CAA_CONFIG_FILE"
_config_file: ContextVar[Path | None] = ContextVar("tui_caa_config_file", default=None)


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file or variable, the key and the fix."""


class DatabaseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(default_factory=locations.default_database_url)
    password: SecretStr | None = None  # kept apart from the URL so the URL can be shown

    @model_validator(mode="after")
    def _password_out_of_url(self) -> Self:
        try:
            parsed = make_url(self.url)
        except ArgumentError:
            raise ValueError(
                f"'{self.url}' is not a database URL; example: sqlite+aiosqlite:///crm.sqlite3"
            ) from None
        if parsed.password is not None:
            if self.password is None:
                self.password = SecretStr(str(parsed.password))
            without = URL.create(parsed.drivername, parsed.username, None, parsed.host, parsed.port,
                                 parsed.database, parsed.query)
            self.url = without.render_as_string(hide_password=False)
        return self

    def connect_url(self) -> str:
        """The URL with the password put back: for the database driver only, never for display."""
        if self.password is None:
            return self.url
        return make_url(self.url).set(password=self.password.get_secret_value()).render_as_string(hide_password=False)


class GatewaySettings(BaseModel):
    """`[gateway]`: the integration service (`tui-caa gateway`); the command line wins over these."""

    model_config = ConfigDict(extra="forbid")

    listen: str = "127.0.0.1:8640"  # loopback until an administrator opens it to the site
    tls_cert: Path | None = None
    tls_key: Path | None = None
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)  # a login lasts a working day


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", env_ignore_empty=True, extra="forbid",
    )

    ddd: str | None = None  # the site's area code: fills in numbers given without one
    role: Literal["agent", "supervisor"] = "agent"
    extension: str | None = Field(default=None, pattern=r"^[0-9]{2,8}$")
    language: Literal["auto", "pt_BR", "en"] = "auto"
    theme: str = "caa-dark"
    keymap: dict[str, str] = Field(default_factory=dict)  # binding id -> keys, e.g. "call.hangup" = "f12"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    dialing: DialRules = Field(default_factory=DialRules)
    caller_id: CallerIdRules = Field(default_factory=CallerIdRules)
    pbx: PbxOptions = Field(default_factory=PbxOptions)  # [pbx.asterisk], [pbx.digitro]…
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    # a console of a site: the gateway to log in to (several, comma-separated: tried in turn)
    gateway_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=2000)
    gateway_ca: Path | None = None  # the CA that signed the gateway's certificate, when not a public one

    @field_validator("ddd")
    @classmethod
    def _valid_ddd(cls, value: str | None) -> str | None:
        return check_ddd(value, "ddd")

    @model_validator(mode="after")
    def _site_ddd_everywhere(self) -> Self:
        if self.ddd:
            if self.dialing.site_ddd is None:
                self.dialing = self.dialing.model_copy(update={"site_ddd": self.ddd})
            if self.caller_id.default_ddd is None:
                self.caller_id = self.caller_id.model_copy(update={"default_ddd": self.ddd})
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def config_path(explicit: Path | str | None = None) -> tuple[Path, bool]:
    """The config file to read, and whether the user named it (then it must exist)."""
    if explicit:
        return Path(explicit).expanduser(), True
    if os.environ.get(CONFIG_FILE_ENV):
        return Path(os.environ[CONFIG_FILE_ENV]).expanduser(), True
    return locations.config_file(), False


def load_settings(explicit: Path | str | None = None, **overrides: Any) -> Settings:
    """Reads the settings, or raises ConfigError with one clear message (never a traceback)."""
    path, named = config_path(explicit)
    if not path.exists():
        if named:
            raise ConfigError(f"config file {path} does not exist; create it or drop --config / ${CONFIG_FILE_ENV}")
        file_path = None
    else:
        _check_toml(path)
        file_path = path
    token = _config_file.set(file_path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, file_path)) from None
    finally:
        _config_file.reset(token)


def _check_toml(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None


def _describe(exc: ValidationError, path: Path | None) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        env_name = ENV_PREFIX + key.upper().replace(".", "__")
        where = f"environment variable {env_name}" if env_name in os.environ else (
            f"config file {path}" if path else "settings"
        )
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key '{key}'{_did_you_mean(error['loc'])}")
            continue
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: key '{key}': {message} (got {error.get('input')!r})")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _did_you_mean(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(model.model_fields)}"
