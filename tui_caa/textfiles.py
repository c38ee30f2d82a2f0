"""Small text files read at start (the config, themes): read with a size cap, never whole.

`TUI_CAA_CONFIG_FILE=/dev/zero` once grew the process to 4.3 GB: a file is read only when it is a
regular file, and never more than its cap, so a wrong path costs one clear line, not the machine.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MIB = 1024 * 1024


class UnreadableFile(ValueError):
    """The file cannot be used; the message is one line naming the file and the fix."""


def read_text_file(path: Path, limit: int, what: str) -> str:
    """The UTF-8 text of `path`, at most `limit` bytes; `what` names it in messages ("config file")."""
    try:
        # O_NONBLOCK: opening a FIFO must not hang waiting for a writer; it is refused below anyway
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UnreadableFile(f"{what} {path} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnreadableFile(f"{what} {path} is not a regular file; point it to a TOML file")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise UnreadableFile(f"{what} {path} cannot be read: {exc.strerror}") from None
    if len(data) > limit:
        raise UnreadableFile(f"{what} {path} is larger than {limit // 1024} KiB; "
                             "is it the right file? Settings files are a few lines of TOML")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UnreadableFile(f"{what} {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
                             "save it as UTF-8") from None
