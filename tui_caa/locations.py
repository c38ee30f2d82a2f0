"""Where tui-caa keeps its files (platformdirs: XDG on Linux, AppData on Windows)."""

from __future__ import annotations

import os
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


def remembered_login(login: str | None) -> str:
    """The login a remote console last used (never the password): read with None, saved otherwise."""
    path = data_dir() / "last-login"
    if login is None:
        try:
            return path.read_text(encoding="utf-8")[:64].strip()
        except (OSError, UnicodeDecodeError):
            return ""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(login[:64])
    except OSError:
        pass  # remembering is a convenience: never a reason to fail a login
    return login
