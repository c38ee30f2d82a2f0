"""The CRM tables, as SQLAlchemy Core metadata. Portable on purpose: SQLite, MariaDB and SQL Server.

Changes to this file need an Alembic revision in `migrations/versions/`; a test compares the two.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (every backend can), hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the CRM store; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


# Secrets the gateway sends to the PBX are stored encrypted with the site key (`enc1:` + a Fernet
# token): a 128-character value of 4-byte UTF-8 characters becomes about 780 characters.
SECRET_WIDTH = 1024

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

sellers = Table(
    "sellers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(120), nullable=False),
    Column("extension", String(16), nullable=True, unique=True),
    Column("extension_password", String(SECRET_WIDTH), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
)

pbx_registry = Table(
    "pbx_registry",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(80), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("address", String(255)),
    Column("port", Integer),
    Column("account", String(64)),
    Column("route", String(64)),
    Column("login", String(255)),
    Column("secret", String(SECRET_WIDTH)),
    Column("ecr_address", String(255)),
    Column("ecr_port", Integer),
    Column("ecr_user", String(128)),
    Column("ecr_password", String(SECRET_WIDTH)),
    Column("mysql_host", String(255)),
    Column("mysql_port", Integer),
    Column("mysql_user", String(128)),
    Column("mysql_password", String(SECRET_WIDTH)),
    Column("mysql_database", String(128)),
    Column("active", Boolean, nullable=False, default=False),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(120), nullable=False),
    # lower case without accents, so that "joao" finds "João"
    Column("name_folded", String(120), nullable=False, index=True),
    Column("document", String(14), index=True),
    Column("email", String(255)),
    Column("birth_date", Date),
    Column("city", String(80)),
    Column("state", String(2)),
    Column("notes", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

customer_phones = Table(
    "customer_phones",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("slot", String(16), nullable=False),
    Column("raw", String(40), nullable=False),
    Column("e164", String(20), nullable=False, index=True),
    # DDD + last 8 digits: finds the same line written with or without the ninth digit
    Column("near_key", String(12), index=True),
    UniqueConstraint("customer_id", "slot"),
)

phone_changes = Table(
    "phone_changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("slot", String(16), nullable=False),
    Column("old_raw", String(40)),
    Column("old_e164", String(20)),
    Column("new_raw", String(40), nullable=False),
    Column("new_e164", String(20)),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("seller_id", Integer, ForeignKey("sellers.id")),
)

vehicles = Table(
    "vehicles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("plate", String(8), index=True),
    Column("model", String(80), nullable=False),
    Column("year", Integer),
    Column("vin", String(17)),
)

traffic_sources = Table(
    "traffic_sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(120), nullable=False),
    Column("ddr_raw", String(40)),
    Column("ddr_e164", String(20), unique=True),
    Column("active", Boolean, nullable=False, default=True),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("seller_id", Integer, ForeignKey("sellers.id")),
    Column("traffic_source_id", Integer, ForeignKey("traffic_sources.id")),
    Column("traffic_source_locked", Boolean, nullable=False, default=False),
    Column("call_id", String(128), index=True),
    Column("outcome", String(32), nullable=False),
    Column("notes", Text, nullable=False, default=""),
    Column("next_contact_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "customer_id", "created_at"),
)

appointments = Table(
    "appointments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("vehicle_id", Integer, ForeignKey("vehicles.id", ondelete="SET NULL")),
    Column("seller_id", Integer, ForeignKey("sellers.id")),
    Column("scheduled_at", UtcDateTime, nullable=False),
    Column("service", String(120), nullable=False),
    Column("notes", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Index(None, "customer_id", "scheduled_at"),
)

call_records = Table(
    "call_records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pbx_call_id", String(128), nullable=False),
    Column("extension", String(16), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("remote_raw", String(64), nullable=False, default=""),
    Column("remote_e164", String(20)),
    Column("ddr_raw", String(64)),
    Column("ddr_e164", String(20)),
    Column("started_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime),
    Column("ended_at", UtcDateTime),
    Column("talk_seconds", Integer, nullable=False, default=0),
    Column("missed", Boolean, nullable=False, default=False),
    Column("disposition", String(16), nullable=False),
    Column("recording_ref", String(512)),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("customer_id", Integer, ForeignKey("customers.id", ondelete="SET NULL"), index=True),
    # one call id is one record per extension (a transferred call is seen by two extensions)
    UniqueConstraint("pbx_call_id", "extension"),
    Index(None, "extension", "started_at", "id"),
)

# ---- gateway logins (issue 10): accounts, their login sessions, and the audit trail ----

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("extension", String(16), nullable=True),
    Column("seller_id", Integer, ForeignKey("sellers.id", ondelete="SET NULL"), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True),
    # sha256 of the token: a copy of the database logs no one in
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),  # the purge
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("address", String(64)),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("login", String(64)),
    Column("address", String(64)),
    Column("detail", String(500), nullable=False, default=""),
    Index(None, "login", "at"),
)
