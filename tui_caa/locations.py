"""Where tui-caa keeps its files (platformdirs: XDG on Linux, AppData on Windows)."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_config_path, user_data_path

APP_NAME = "tui-caa"


def config_file() -> Path:
    return user_config_path(APP_NAME) / "config.toml"


def data_dir() -> Path:
    return user_data_path(APP_NAME)


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{data_dir() / 'crm.sqlite3'}"


def user_themes_dir() -> Path:
    return data_dir() / "themes"
