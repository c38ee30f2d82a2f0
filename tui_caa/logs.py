"""Where log records go: the console's own screen cannot take them, so it writes a rotating file;
the command-line tools write to standard error.

Nothing logs secrets: they are SecretStr everywhere, and the handlers never see their values.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from tui_caa import locations

LOG_FILE_BYTES = 5_000_000
LOG_FILES_KEPT = 3


def log_file() -> Path:
    return locations.data_dir() / "logs" / "tui-caa.log"


def to_file(path: Path | None = None, level: int = logging.INFO) -> Path:
    """The console's log (the administrator reads it): 5 MB files, the last three kept."""
    path = path or log_file()
    locations.private_dir(path.parent)
    locations.tighten(path)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILES_KEPT,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    _install(handler, level)
    return path


def to_stderr(level: int = logging.WARNING) -> None:
    """The tools' log: one line per record, after their own output."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("tui-caa: %(levelname)s: %(message)s"))
    _install(handler, level)


# libraries that log every request at INFO: a Planetfone polled every second would write 170,000
# lines a day; their warnings still come through
_CHATTY = ("httpx", "httpcore", "alembic.runtime.migration")


def _install(handler: logging.Handler, level: int) -> None:
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_tui_caa", False):
            root.removeHandler(old)
            old.close()
    handler._tui_caa = True  # type: ignore[attr-defined]
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(level)
