"""Building the PBX driver and the gateway from the settings and the CRM's PBX registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr, ValidationError

from tui_caa import locations
from tui_caa.clock import Clock, SystemClock
from tui_caa.config import Settings
from tui_caa.crm import CrmStore
from tui_caa.domain import InvalidInput, PbxKind, PbxRegistryEntry
from tui_caa.gateway.outbox import Outbox
from tui_caa.gateway.service import Gateway
from tui_caa.pbx.base import PbxDriver
from tui_caa.pbx.registry import driver_class

SIMULATOR_ENTRY = PbxRegistryEntry(name="Simulador", kind=PbxKind.SIMULATOR, active=True)


@dataclass(frozen=True)
class PbxOverride:
    """Connection options given on the command line for one run (`--pbx --host --port …`)."""

    kind: str | None = None
    host: str | None = None
    port: int | None = None
    user: str | None = None
    secret: SecretStr | None = None
    url: str | None = None

    def apply(self, entry: PbxRegistryEntry) -> PbxRegistryEntry:
        changes: dict[str, Any] = {
            "kind": self.kind, "address": self.url or self.host, "port": self.port,
            "login": self.user, "secret": self.secret,
        }
        changes = {key: value for key, value in changes.items() if value is not None}
        if not changes:
            return entry
        if self.kind and self.kind != entry.kind:  # another family: nothing of the stored entry applies
            base: dict[str, Any] = {"name": f"{self.kind} (command line)", "active": True}
        else:
            base = entry.model_dump()
        try:
            return PbxRegistryEntry.model_validate({**base, **changes})
        except ValidationError as exc:
            error = exc.errors()[0]
            option = _OPTION_OF.get(str(error["loc"][0]), "") if error["loc"] else ""
            message = error["msg"].removeprefix("Value error, ")
            raise InvalidInput(f"PBX options: {option + ': ' if option else ''}{message}", field="pbx") from None


_OPTION_OF = {"kind": "--pbx", "address": "--host/--url", "port": "--port", "login": "--user", "secret": "--secret"}


async def pbx_entry(store: CrmStore, override: PbxOverride | None = None) -> PbxRegistryEntry:
    """The CRM's active PBX (the simulator when none is registered), with any override applied."""
    entry = await store.active_pbx() or SIMULATOR_ENTRY
    return override.apply(entry) if override else entry


async def make_driver(entry: PbxRegistryEntry, store: CrmStore | None, settings: Settings, *,
                      clock: Clock | None = None, **options: Any) -> PbxDriver:
    """The driver for `entry`, with its family's `[pbx.<family>]` settings (`options` win: tests use them).
    The simulator gets its scenario from the CRM (drivers never read it), Dígitro its device passwords;
    the other families can be built without a CRM (`store` None: `gateway check` with the CRM down)."""
    if entry.problem is not None:  # stored before the rule it breaks: it could never connect
        raise InvalidInput(f"the PBX registry entry '{entry.name}' cannot be used: {entry.problem} "
                           f"(fix it: tui-caa pbx register --name '{entry.name}' …)", field="pbx")
    cls = driver_class(entry.kind.value)
    if store is None and entry.kind in (PbxKind.SIMULATOR, PbxKind.DIGITRO):
        raise InvalidInput(f"a {entry.kind.value} PBX takes its extensions from the CRM's sellers", field="pbx")
    options = {**settings.pbx.for_kind(entry.kind.value), **options}
    if entry.kind is PbxKind.SIMULATOR:
        from tui_caa.pbx.sim import SimScenario

        extensions = tuple(s.extension for s in await store.sellers() if s.extension and s.active)
        sources = await store.traffic_sources()
        options.setdefault("scenario", SimScenario(
            extensions=extensions or ("1001",),
            known_numbers=tuple(await store.sample_phone_numbers(200)),
            shared_numbers=tuple(await store.shared_phone_numbers(50)),
            ddrs=tuple(s.ddr_e164 for s in sources if s.ddr_e164 and s.active),
            site_ddd=store.rules.default_ddd or "51",
            recordings=tuple((ref, float(max(seconds, 1))) for ref, seconds in await store.recordings()),
        ))
        options.setdefault("clock", clock or SystemClock())
    elif entry.kind is PbxKind.DIGITRO:  # every Dígitro command carries the seller's device password
        options.setdefault("device_passwords", {
            s.extension: s.extension_password for s in await store.sellers()
            if s.extension and s.extension_password is not None and s.active})
    return cls.from_entry(entry, **options)


def make_gateway(driver: PbxDriver, store: CrmStore, settings: Settings, *, clock: Clock | None = None) -> Gateway:
    return Gateway(
        driver, store, Outbox(locations.data_dir() / "outbox.sqlite3"), clock=clock,
        dial_rules=settings.dialing, caller_id_rules=store.rules,
    )
