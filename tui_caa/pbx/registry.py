"""Finding drivers by name through the `tui_caa.drivers` entry points, importing only the one used."""

from __future__ import annotations

from importlib.metadata import entry_points

from tui_caa.pbx.base import PbxDriver, PbxError

GROUP = "tui_caa.drivers"


def driver_names() -> list[str]:
    """The installed driver names, without importing any driver."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def driver_class(name: str) -> type[PbxDriver]:
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise PbxError(f"no PBX driver named '{name}'; installed: {', '.join(driver_names()) or 'none'}", field="pbx")
    loaded = found[0].load()
    if not (isinstance(loaded, type) and issubclass(loaded, PbxDriver)):
        raise PbxError(f"entry point '{name}' of {GROUP} is not a PbxDriver ({found[0].value})", field="pbx")
    return loaded
