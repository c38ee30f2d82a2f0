"""The CRM store (SQLAlchemy async Core): customers, calls, contacts, setup. No textual here."""

from tui_caa.crm.customers import CustomerSaved, DuplicateWarning
from tui_caa.crm.database import DatabaseUnavailable
from tui_caa.crm.store import CrmStore, open_store

__all__ = ["CrmStore", "CustomerSaved", "DatabaseUnavailable", "DuplicateWarning", "open_store"]
