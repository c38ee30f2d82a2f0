"""Each PBX family's own settings, the `[pbx.<family>]` tables of the config file.

They live apart from the drivers so that reading the configuration never imports a driver (the
console starts in well under a second). `make_driver` hands a family's options to its driver's
`from_entry` as keyword arguments; the registry entry (address, port, login, secret) stays in the CRM.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tui_caa.pbx.options.asterisk import AsteriskOptions
from tui_caa.pbx.options.digitro import DigitroOptions
from tui_caa.pbx.options.forip import ForipOptions
from tui_caa.pbx.options.planetfone import PlanetfoneOptions


class PbxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    asterisk: AsteriskOptions = Field(default_factory=AsteriskOptions)
    digitro: DigitroOptions = Field(default_factory=DigitroOptions)
    planetfone: PlanetfoneOptions = Field(default_factory=PlanetfoneOptions)
    forip: ForipOptions = Field(default_factory=ForipOptions)

    def for_kind(self, kind: str) -> dict[str, object]:
        """The keyword arguments for the `from_entry` of the driver named `kind` (none for the simulator)."""
        options = getattr(self, kind, None)
        return dict(options) if isinstance(options, BaseModel) else {}


__all__ = ["AsteriskOptions", "DigitroOptions", "ForipOptions", "PbxOptions", "PlanetfoneOptions"]
