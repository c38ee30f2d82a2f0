"""Planetfone: SOAP service `wenvpabx2` (commands, polled state) and the PBX's MySQL CDR.

See `driver.py` for how it works and what it assumes. Entry point: `PlanetfoneDriver`.
"""

from __future__ import annotations

from tui_caa.pbx.planetfone.cdr import CdrError, CdrStore
from tui_caa.pbx.planetfone.driver import PlanetfoneDriver, service_url
from tui_caa.pbx.planetfone.results import PlanetfoneRefused
from tui_caa.pbx.planetfone.soap import SoapError, SoapFault, SoapUnreachable

__all__ = ["CdrError", "CdrStore", "PlanetfoneDriver", "PlanetfoneRefused", "SoapError", "SoapFault",
           "SoapUnreachable", "service_url"]
