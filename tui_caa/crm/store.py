"""The CRM store: one object with every operation the gateway and console need."""

from __future__ import annotations

from tui_caa.crm.accounts import AccountOps
from tui_caa.crm.activity import ActivityOps
from tui_caa.crm.calls import CallOps
from tui_caa.crm.customers import CustomerOps
from tui_caa.crm.database import open_database
from tui_caa.crm.lookup import LookupOps
from tui_caa.crm.setup import SetupOps
from tui_caa.crm.sitekey import SiteKey
from tui_caa.phones import CallerIdRules


class CrmStore(LookupOps, CustomerOps, ActivityOps, CallOps, SetupOps, AccountOps):
    """Async, on any SQLAlchemy backend. Every method takes and returns domain records."""

    async def close(self) -> None:
        await self.engine.dispose()


async def open_store(url: str, rules: CallerIdRules | None = None, *, site_key: SiteKey | None = None) -> CrmStore:
    """Opens (and migrates) the database at `url`. Secrets are encrypted with `site_key`, by default
    this machine's (sitekey.py), looked for when a secret is first read or written."""
    store = CrmStore(await open_database(url), rules)
    if site_key is not None:
        store.use_site_key(site_key)
    return store
