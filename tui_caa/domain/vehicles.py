"""Vehicle identifiers: Brazilian plates (old ABC-1234 and Mercosul ABC1D23) and the VIN (chassi)."""

from __future__ import annotations

import re

_OLD_PLATE = re.compile(r"^[A-Z]{3}[0-9]{4}$")
_MERCOSUL_PLATE = re.compile(r"^[A-Z]{3}[0-9][A-Z][0-9]{2}$")
_VIN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")  # I, O and Q are never used in a VIN


def normalize_plate(text: str) -> str:
    """Upper-case plate without separators, or ValueError naming the accepted formats."""
    plate = re.sub(r"[\s\-.]", "", text).upper()
    if _OLD_PLATE.match(plate) or _MERCOSUL_PLATE.match(plate):
        return plate
    raise ValueError(f"plate '{text}' is neither the old format ABC-1234 nor Mercosul ABC1D23")


def format_plate(plate: str) -> str:
    """ABC-1234 for old plates; Mercosul plates are written without a dash."""
    return f"{plate[:3]}-{plate[3:]}" if _OLD_PLATE.match(plate) else plate


def normalize_vin(text: str) -> str:
    vin = re.sub(r"\s", "", text).upper()
    if _VIN.match(vin):
        return vin
    raise ValueError(f"VIN '{text}' must have 17 letters and digits, without I, O or Q")
