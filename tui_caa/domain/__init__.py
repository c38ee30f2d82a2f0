"""Pure types of tui-caa: no I/O, no imports from the rest of the project."""

from tui_caa.domain.accounts import Account, AuditEntry, AuthSession, Role
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
