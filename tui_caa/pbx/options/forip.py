"""`[pbx.forip]`: this family's settings. Filled in with its driver (issue 6)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ForipOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
