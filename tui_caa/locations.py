"""Where tui-caa keeps its files (platformdirs: XDG on Linux, AppData on Windows)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from platformdirs import user_config_path, user_data_path

APP_NAME = "tui-caa"


log = logging.getLogger(__name__)

# tui-caa's files hold phone numbers, call records and the site key: only their owner reads them
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Creates a folder 0700 (and the missing ones above it; an existing one is left as it is: it may
    be a folder the administrator chose to share)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    for created in missing:
        try:
            os.chmod(created, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
        except OSError:
            pass
    return path


def tighten(path: Path) -> bool:
    """Takes the group and others' bits off a file tui-caa made (older versions made them 0644).
    Says so once in the log. False if there was nothing to do or it cannot be done."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if not mode & 0o077:
            return False
        os.chmod(path, mode & ~0o077 & 0o7777)
    except OSError:
        return False
    log.warning("%s was readable by other users (mode %o): made it %o", path, mode, mode & ~0o077)
    return True


def tighten_database(path: Path) -> None:
    """A SQLite file and its -wal/-shm companions (SQLite makes them with the main file's mode)."""
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        tighten(name)


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
        private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(login[:64])
    except OSError:
        pass  # remembering is a convenience: never a reason to fail a login
    return login
