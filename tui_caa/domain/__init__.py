"""Pure types of tui-caa: no I/O, no imports from the rest of the project."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_caa.domain.accounts import Account, AuditEntry, AuthSession
    from tui_caa.domain.crm import (
        Appointment,
        Contact,
        ContactOutcome,
        Customer,
        CustomerSaved,
        DuplicateWarning,
        Phone,
        PhoneChange,
        PhoneSlot,
        Seller,
        TrafficSource,
        Vehicle,
    )
    from tui_caa.domain.documents import DocumentKind, format_document, parse_document
    from tui_caa.domain.errors import (
        Conflict,
        DomainError,
        InvalidCredentials,
        InvalidInput,
        LockedField,
        NotFound,
        SessionExpired,
    )
    from tui_caa.domain.lookup import (
        CustomerMatch,
        HistoryCursor,
        HistoryFilter,
        HistoryPage,
        HistoryRow,
        LifecycleEntry,
        LifecycleKind,
        PhoneLookup,
    )
    from tui_caa.domain.pbx import PbxKind, PbxRegistryEntry
    from tui_caa.domain.roles import Role
    from tui_caa.domain.telephony import (
        ALL_CAPABILITIES,
        MISSED_DISPOSITIONS,
        CallRecord,
        CallState,
        Capability,
        Direction,
        Disposition,
        ExtensionState,
    )
    from tui_caa.domain.vehicles import format_plate, normalize_plate, normalize_vin

_HOME = {  # name -> the module that defines it
    **dict.fromkeys(('Account', 'AuditEntry', 'AuthSession'), 'accounts'),
    **dict.fromkeys(('Role',), 'roles'),
    **dict.fromkeys(('Appointment', 'Contact', 'ContactOutcome', 'Customer', 'CustomerSaved', 'DuplicateWarning', 'Phone', 'PhoneChange', 'PhoneSlot', 'Seller', 'TrafficSource', 'Vehicle'), 'crm'),
    **dict.fromkeys(('DocumentKind', 'format_document', 'parse_document'), 'documents'),
    **dict.fromkeys(('Conflict', 'DomainError', 'InvalidCredentials', 'InvalidInput', 'LockedField', 'NotFound', 'SessionExpired'), 'errors'),
    **dict.fromkeys(('CustomerMatch', 'HistoryCursor', 'HistoryFilter', 'HistoryPage', 'HistoryRow', 'LifecycleEntry', 'LifecycleKind', 'PhoneLookup'), 'lookup'),
    **dict.fromkeys(('PbxKind', 'PbxRegistryEntry'), 'pbx'),
    **dict.fromkeys(('ALL_CAPABILITIES', 'CallRecord', 'CallState', 'Capability', 'Direction', 'Disposition', 'ExtensionState', 'MISSED_DISPOSITIONS'), 'telephony'),
    **dict.fromkeys(('format_plate', 'normalize_plate', 'normalize_vin'), 'vehicles'),
}

__all__ = [
    "ALL_CAPABILITIES", "MISSED_DISPOSITIONS", "Account", "Appointment", "AuditEntry", "AuthSession",
    "CallRecord", "CallState", "Capability", "Conflict", "Contact", "ContactOutcome", "Customer",
    "CustomerMatch", "CustomerSaved", "DuplicateWarning",
    "Direction", "Disposition", "DocumentKind", "DomainError", "ExtensionState", "HistoryCursor",
    "HistoryFilter", "HistoryPage", "HistoryRow", "InvalidCredentials", "InvalidInput", "LifecycleEntry",
    "LifecycleKind", "LockedField", "NotFound", "PbxKind", "PbxRegistryEntry", "Phone",
    "PhoneChange", "PhoneLookup", "PhoneSlot", "Role", "Seller", "SessionExpired", "TrafficSource", "Vehicle",
    "format_document", "format_plate", "normalize_plate", "normalize_vin", "parse_document",
]


def __getattr__(name: str) -> Any:
    """Each module of the domain is loaded when one of its names is first asked for: the console's
    first frame needs a few of them, not the CRM's and the accounts' models (issue 16)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
