"""The CRM store: one object with every operation the gateway and console need."""

from __future__ import annotations

from tui_caa.crm.accounts import AccountOps
from tui_caa.crm.activity import ActivityOps
from tui_caa.crm.calls import CallOps
from tui_caa.crm.customers import CustomerOps
from tui_caa.crm.database import open_database
from tui_caa.crm.lookup import LookupOps
from tui_caa.crm.setup import SetupOps
from tui_caa.phones import CallerIdRules


class CrmStore(LookupOps, CustomerOps, ActivityOps, CallOps, SetupOps, AccountOps):
    """Async, on any SQLAlchemy backend. Every method takes and returns domain records."""

    async def close(self) -> None:
        await self.engine.dispose()


async def open_store(url: str, rules: CallerIdRules | None = None) -> CrmStore:
    """Opens (and migrates) the database at `url`."""
    return CrmStore(await open_database(url), rules)
