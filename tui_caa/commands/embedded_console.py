"""The embedded default's console, on screen before its CRM and gateway (issue 16).

The app is built around a `DeferredSession` and drawn first; after that first frame the CRM store
is opened (migrated; the demo made on a first start), then the PBX driver and the in-process
gateway, and the console's session is attached. The imports of the CRM stack happen then too."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tui_caa.config import Settings
from tui_caa.protocol.deferred import DeferredSession
from tui_caa.protocol.principal import Principal, Role
from tui_caa.protocol.session import Session

if TYPE_CHECKING:
    from tui_caa.gateway.embedded import Embedded

DEMO_CREATED = ("Primeira execução: CRM de demonstração criado", "First start: demo CRM created")


class EmbeddedConsole:
    def __init__(self, settings: Settings, *, role: Role, extension: str | None, **app_options: object) -> None:
        self.settings = settings
        self.role = role
        self.extension = extension
        from tui_caa.ui.app import CaaApp  # only tui_caa.ui imports textual (tests/test_layering.py)

        self.session = DeferredSession(Principal(role, extension, ""), self._open, rules=settings.caller_id)
        self.app = CaaApp(self.session, role=role, **app_options)  # type: ignore[arg-type]
        self.embedded: Embedded | None = None
        self.created = False  # the demo CRM was made by this start
        self.failure: BaseException | None = None  # raised again once the console has closed

    async def _open(self) -> Session:
        from tui_caa.commands.db import open_demo_ready_store
        from tui_caa.gateway.embedded import start_embedded

        try:
            store, self.created = await open_demo_ready_store(self.settings)
            try:
                self.embedded = await start_embedded(store, self.settings, role=self.role, extension=self.extension)
            except BaseException:
                await store.close()
                raise
        except Exception as exc:
            self.failure = exc  # e.g. no seller has --extension: said once the screen is gone
            self.app.exit(return_code=1)
            raise
        self.app.simulated = self.embedded.simulated
        self.app.clock = self.embedded.gateway.clock
        if self.created:
            from tui_caa.ui.i18n import Catalog

            self.app.notify(Catalog({"demo_created": DEMO_CREATED})("demo_created"), timeout=8)
        return self.embedded.session

    async def close(self, timeout: float) -> bool:
        """Stops an opening still under way, then the gateway and the store; False: took too long."""
        try:
            await asyncio.wait_for(self.session.cancel_opening(), timeout)
            if self.embedded is not None:  # a query cut short by the exit must not keep the process alive
                await asyncio.wait_for(self.embedded.close(), timeout)
        except TimeoutError:
            return False
        return True
