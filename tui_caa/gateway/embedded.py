"""The embedded default: CRM store, PBX driver, gateway and one console session in one process."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from tui_caa.clock import Clock
from tui_caa.config import Settings
from tui_caa.crm import CrmStore
from tui_caa.domain import NotFound, PbxKind, Seller
from tui_caa.gateway.factory import PbxOverride, make_driver, make_gateway, pbx_entry
from tui_caa.gateway.service import Gateway
from tui_caa.gateway.session import LocalSession
from tui_caa.protocol.principal import Principal, Role

CLOSE_FLUSH_SECONDS = 3.0


@dataclass
class Embedded:
    store: CrmStore
    gateway: Gateway
    session: LocalSession
    seller: Seller | None
    simulated: bool

    async def close(self) -> None:
        await self.session.close()
        # the calls that ended are journaled already; a moment to have them in the CRM too (what
        # is left waits in the outbox for the next start)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.gateway.recorder.drained(), CLOSE_FLUSH_SECONDS)
        await self.gateway.stop()
        await self.store.close()


async def start_embedded(store: CrmStore, settings: Settings, *, role: Role, extension: str | None,
                         override: PbxOverride | None = None, clock: Clock | None = None,
                         **driver_options: object) -> Embedded:
    """Starts the gateway on `store` and opens a session for the seller at `extension` (default:
    the first seller with an extension)."""
    sellers = [s for s in await store.sellers() if s.extension and s.active]
    if extension:
        seller = next((s for s in sellers if s.extension == extension), None)
        if seller is None and role is Role.AGENT:
            known = ", ".join(s.extension or "" for s in sellers) or "none"
            raise NotFound(f"no seller has extension {extension}; the sellers' extensions are {known}",
                           field="extension")
    else:
        seller = sellers[0] if sellers else None
    entry = await pbx_entry(store, override)
    simulated = entry.kind is PbxKind.SIMULATOR
    if simulated:
        from tui_caa.pbx.sim import SimTraffic

        # the agent at this console answers its own calls; simulated sellers answer the others
        at_console = role is Role.AGENT and seller is not None and seller.extension
        human = frozenset({seller.extension}) if at_console else frozenset()
        driver_options.setdefault("traffic", SimTraffic(calls_per_minute=2.0, human_extensions=human))
    driver = await make_driver(entry, store, settings, clock=clock, **driver_options)
    gateway = make_gateway(driver, store, settings, clock=clock)
    await gateway.start()
    principal = Principal(role, extension or (seller.extension if seller else None), seller.name if seller else "")
    session = LocalSession(gateway, principal, seller=seller)
    return Embedded(store, gateway, session, seller, simulated)
