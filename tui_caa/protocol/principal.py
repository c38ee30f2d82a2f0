"""Who is asking the gateway for something, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass

from tui_caa.domain.errors import NotAllowed, Reconnecting
from tui_caa.domain.roles import Role

__all__ = ["NotAllowed", "Principal", "Reconnecting", "Role"]  # Role lives in the domain; re-exported


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    extension: str | None = None  # the phone this user sits at (supervisors may have one too)
    name: str = ""

    def own_extension(self) -> str:
        if not self.extension:
            raise NotAllowed("you have no extension: set `extension` in the settings or pass --extension",
                             field="extension")
        return self.extension

    @property
    def sees_everything(self) -> bool:
        return self.role is Role.SUPERVISOR
