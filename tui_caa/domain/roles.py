"""What an account may do at a console: an agent works its own extension, a supervisor watches
them all (apart from the accounts' models, which a console's first frame does not need)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
