"""Colour themes from TOML files: the shipped ones (`themes/`) and the user's own folder.

One theme per file: Textual's Theme fields, plus `[variables]` for extension, link and phone
colours. A bad file is reported by name and skipped; the console then falls back to caa-dark."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from textual.color import Color, ColorParseError
from textual.theme import Theme

from tui_caa.domain.text import clip
from tui_caa.textfiles import UnreadableFile, read_text_file

DEFAULT_THEME = "caa-dark"
THEME_FILE_LIMIT = 256 * 1024  # a theme is a few dozen lines

#: every variable the console's CSS uses, with the value a theme gets when it does not set it
VARIABLE_DEFAULTS = {
    "ext-idle": "#3FB97A",
    "ext-ringing": "#F0A030",
    "ext-dialing": "#56B6E8",
    "ext-busy": "#E05561",
    "ext-held": "#B48EF0",
    "ext-offline": "#6B7280",
    "link-connected": "#3FB97A",
    "link-reconnecting": "#E8A33D",
    "link-down": "#E05561",
    "link-unreachable": "#E05561",
    "phone-link": "#6CB4FF",
}


def _colour(value: str) -> str:
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f"'{value}' is not a colour (use #RRGGBB or a colour name)") from None
    return value


class ThemeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    dark: bool = True
    primary: str
    secondary: str | None = None
    accent: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None
    success: str | None = None
    warning: str | None = None
    error: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)
    meta: dict[str, str] = Field(default_factory=dict)

    @field_validator("primary", "secondary", "accent", "foreground", "background", "surface", "panel",
                     "boost", "success", "warning", "error")
    @classmethod
    def _valid_colour(cls, value: str | None) -> str | None:
        return None if value is None else _colour(value)

    @field_validator("variables")
    @classmethod
    def _valid_variables(cls, variables: dict[str, str]) -> dict[str, str]:
        for name, value in variables.items():
            try:
                _colour(value)
            except ValueError as exc:
                raise ValueError(f"variable '{name}': {exc}") from None
        return variables

    def to_theme(self) -> Theme:
        fields = self.model_dump(exclude={"variables", "meta"})
        return Theme(**fields, variables={**VARIABLE_DEFAULTS, **self.variables})


@dataclass(frozen=True)
class LoadedThemes:
    themes: dict[str, Theme]
    problems: list[str]  # one readable line per bad file


def shipped_themes_dir() -> Path:
    """`tui_caa/_themes` in an installed wheel; the repository's `themes/` in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "_themes"
    return installed if installed.is_dir() else package.parent / "themes"


def load_theme_file(path: Path) -> Theme:
    """The theme in `path`, or ValueError naming the file, the key and the problem."""
    try:
        data = tomllib.loads(read_text_file(path, THEME_FILE_LIMIT, "theme file"))
    except UnreadableFile as exc:
        raise ValueError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"theme file {path} is not valid TOML: {exc}") from None
    try:
        return ThemeFile.model_validate(data).to_theme()
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        message = clip(first["msg"].removeprefix("Value error, "), 160)  # messages quote the bad value
        raise ValueError(f"theme file {path}: key '{clip(key)}': {message}") from None


def load_themes(*folders: Path) -> LoadedThemes:
    """Every `*.toml` of the folders, in order: a later theme of the same name wins."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            themes[theme.name] = theme
    return LoadedThemes(themes, problems)
