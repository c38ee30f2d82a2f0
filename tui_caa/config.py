"""Settings: environment variables (TUI_CAA_*) over a TOML file over defaults.

The file is `--config PATH`, else $TUI_CAA_CONFIG_FILE, else config.toml in the user config dir.
Nested keys in the environment use a double underscore: TUI_CAA_DATABASE__URL.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from tui_caa import locations
from tui_caa.config_errors import hide_url_passwords, message, secret_path, shown
from tui_caa.domain.text import clip
from tui_caa.pbx.options import PbxOptions
from tui_caa.phone_rules import CallerIdRules, DialRules, check_ddd
from tui_caa.textfiles import MIB, UnreadableFile, read_text_file

ENV_PREFIX = "TUI_CAA_"
CONFIG_FILE_ENV = "TUI_CAA_CONFIG_FILE"
CONFIG_FILE_LIMIT = MIB  # a settings file is a few dozen lines; more is a wrong path
# TUI_CAA_* variables that are not settings: the config file, the site key, the test suite's own
NOT_SETTINGS = (CONFIG_FILE_ENV, "TUI_CAA_SITE_KEY")
NOT_SETTINGS_PREFIXES = ("TUI_CAA_TEST_",)
# A URL that SQLAlchemy's own parser always accepts and that cannot hold a password (no host part,
# no query: `sqlite+aiosqlite:///path`): checked without importing SQLAlchemy, which a remote console
# never needs (~110 ms of its start). Any other URL goes through SQLAlchemy, as before.
_PLAIN_FILE_URL = re.compile(r"[\w+]+:///[^?]*")
_config_data: ContextVar[dict[str, Any] | None] = ContextVar("tui_caa_config_data", default=None)


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file or variable, the key and the fix."""


class DatabaseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(default_factory=locations.default_database_url)
    password: SecretStr | None = None  # kept apart from the URL so the URL can be shown

    @model_validator(mode="after")
    def _password_out_of_url(self) -> Self:
        if _PLAIN_FILE_URL.fullmatch(self.url):
            return self
        from sqlalchemy.engine import URL, make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(self.url)
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            raise ValueError(  # hide_url_passwords: the bad URL may still carry one
                f"'{clip(hide_url_passwords(self.url))}' is not a database URL; "
                "example: sqlite+aiosqlite:///crm.sqlite3"
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
        from sqlalchemy.engine import make_url

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
        data = _config_data.get()
        if data is not None:  # the file, already read with its size cap (see load_settings)
            sources.append(InitSettingsSource(settings_cls, init_kwargs=data))
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
        file_path = path
    data = _read_toml(file_path) if file_path is not None else None
    _check_environment()
    token = _config_data.set(data)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, file_path)) from None
    except SettingsError as exc:  # a TUI_CAA_* variable of a nested key that is not JSON
        raise ConfigError(_bad_json(exc)) from None
    finally:
        _config_data.reset(token)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(read_text_file(path, CONFIG_FILE_LIMIT, "config file"))
    except UnreadableFile as exc:
        raise ConfigError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:  # its message gives line and column, never the text
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _check_environment() -> None:
    """Unknown TUI_CAA_* variables are errors, like unknown keys in the file: a typo such as
    TUI_CAA_DATABSE__URL would otherwise leave the setting at its default without a word."""
    lines = []
    for name in sorted(os.environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NOT_SETTINGS or upper.startswith(NOT_SETTINGS_PREFIXES):
            continue
        loc = _unknown_part(upper.removeprefix(ENV_PREFIX).lower().split("__"))
        if loc is not None:
            lines.append(f"environment variable {clip(name)}: unknown key '{clip('.'.join(loc))}'"
                         f"{_did_you_mean(loc)}")
    if lines:
        raise ConfigError(_invalid(lines))


def _unknown_part(parts: list[str]) -> tuple[str, ...] | None:
    """The path up to the first part that is no setting, or None when the name is known."""
    model: type[BaseModel] = Settings
    for index, part in enumerate(parts):
        if part not in model.model_fields:
            return tuple(parts[: index + 1])
        annotation = model.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None  # a dict or a value: its own validation speaks for what is below it
        model = annotation
    return None


def _bad_json(exc: SettingsError) -> str:
    text = str(exc.args[0]) if exc.args else ""
    field = text.split('"')[1] if text.count('"') >= 2 else ""
    wanted = ENV_PREFIX + field.upper()
    name = next((n for n in os.environ if n.upper() == wanted), wanted)
    # the value is not quoted: it is meant to be a JSON object, and may hold a password
    return (f"environment variable {clip(name)} is not valid JSON; give a JSON object, e.g. "
            f"{wanted}='{{\"name\": \"value\"}}', or one key per variable: {wanted}__NAME=value")


def _describe(exc: ValidationError, path: Path | None) -> str:
    lines = []
    for error in exc.errors()[:20]:  # a file of garbage gives one error per key: the first ones say enough
        loc = error["loc"]
        key = clip(".".join(str(part) for part in loc))
        where = _where(loc, path)
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key '{key}'{_did_you_mean(loc)}")
            continue
        text = error["msg"].removeprefix("Value error, ")
        # a validator's own message may quote the value: not for a secret, and never long
        text = "not a valid value" if secret_path(loc) and error["type"] == "value_error" else message(text)
        lines.append(f"{where}: key '{key}': {text}{shown(loc, error.get('input'))}")
    return _invalid(lines)


def _invalid(lines: list[str]) -> str:
    """One problem, one line; several: one line each under a heading."""
    if len(lines) == 1:
        return f"invalid configuration: {lines[0]}"
    return "invalid configuration:\n  " + "\n  ".join(lines[:20])


def _where(loc: tuple[Any, ...], path: Path | None) -> str:
    """The variable that set the key (TUI_CAA_DATABASE__URL, or TUI_CAA_DATABASE holding JSON),
    else the file."""
    upper = {name.upper(): name for name in os.environ}
    for end in range(len(loc), 0, -1):
        env_name = ENV_PREFIX + "__".join(str(part) for part in loc[:end]).upper()
        if env_name in upper:
            return f"environment variable {upper[env_name]}"
        nested = sorted(upper[name] for name in upper if name.startswith(env_name + "__"))
        if nested:  # a whole-section check (database) of keys set one by one (TUI_CAA_DATABASE__URL)
            return f"environment variable {nested[0]}"
    return f"config file {path}" if path else "settings"


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
