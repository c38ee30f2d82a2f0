"""The first CRM schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from tui_caa.crm.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )
    op.create_table(
        "sellers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("extension", sa.String(16), nullable=True),
        sa.Column("extension_password", sa.String(128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sellers"),
        sa.UniqueConstraint("extension", name="uq_sellers_extension"),
    )
    op.create_table(
        "pbx_registry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("address", sa.String(255)),
        sa.Column("port", sa.Integer()),
        sa.Column("account", sa.String(64)),
        sa.Column("route", sa.String(64)),
        sa.Column("login", sa.String(255)),
        sa.Column("secret", sa.String(255)),
        sa.Column("ecr_address", sa.String(255)),
        sa.Column("ecr_port", sa.Integer()),
        sa.Column("ecr_user", sa.String(128)),
        sa.Column("ecr_password", sa.String(255)),
        sa.Column("mysql_host", sa.String(255)),
        sa.Column("mysql_port", sa.Integer()),
        sa.Column("mysql_user", sa.String(128)),
        sa.Column("mysql_password", sa.String(255)),
        sa.Column("mysql_database", sa.String(128)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pbx_registry"),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("name_folded", sa.String(120), nullable=False),
        sa.Column("document", sa.String(14)),
        sa.Column("email", sa.String(255)),
        sa.Column("birth_date", sa.Date()),
        sa.Column("city", sa.String(80)),
        sa.Column("state", sa.String(2)),
        sa.Column("notes", sa.Text()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
    )
    op.create_index("ix_customers_name_folded", "customers", ["name_folded"])
    op.create_index("ix_customers_document", "customers", ["document"])
    op.create_table(
        "customer_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(16), nullable=False),
        sa.Column("raw", sa.String(40), nullable=False),
        sa.Column("e164", sa.String(20), nullable=False),
        sa.Column("near_key", sa.String(12)),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_customer_phones_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_customer_phones"),
        sa.UniqueConstraint("customer_id", "slot", name="uq_customer_phones_customer_id_slot"),
    )
    op.create_index("ix_customer_phones_e164", "customer_phones", ["e164"])
    op.create_index("ix_customer_phones_near_key", "customer_phones", ["near_key"])
    op.create_table(
        "phone_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(16), nullable=False),
        sa.Column("old_raw", sa.String(40)),
        sa.Column("old_e164", sa.String(20)),
        sa.Column("new_raw", sa.String(40), nullable=False),
        sa.Column("new_e164", sa.String(20)),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("seller_id", sa.Integer()),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_phone_changes_customer_id_customers"),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], name="fk_phone_changes_seller_id_sellers"),
        sa.PrimaryKeyConstraint("id", name="pk_phone_changes"),
    )
    op.create_index("ix_phone_changes_customer_id", "phone_changes", ["customer_id"])
    op.create_table(
        "vehicles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(8)),
        sa.Column("model", sa.String(80), nullable=False),
        sa.Column("year", sa.Integer()),
        sa.Column("vin", sa.String(17)),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_vehicles_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_vehicles"),
    )
    op.create_index("ix_vehicles_customer_id", "vehicles", ["customer_id"])
    op.create_index("ix_vehicles_plate", "vehicles", ["plate"])
    op.create_table(
        "traffic_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("ddr_raw", sa.String(40)),
        sa.Column("ddr_e164", sa.String(20)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_traffic_sources"),
        sa.UniqueConstraint("ddr_e164", name="uq_traffic_sources_ddr_e164"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.Integer()),
        sa.Column("traffic_source_id", sa.Integer()),
        sa.Column("traffic_source_locked", sa.Boolean(), nullable=False),
        sa.Column("call_id", sa.String(128)),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("next_contact_at", UtcDateTime()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_contacts_customer_id_customers"),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], name="fk_contacts_seller_id_sellers"),
        sa.ForeignKeyConstraint(["traffic_source_id"], ["traffic_sources.id"],
                                name="fk_contacts_traffic_source_id_traffic_sources"),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
    )
    op.create_index("ix_contacts_call_id", "contacts", ["call_id"])
    op.create_index("ix_contacts_customer_id_created_at", "contacts", ["customer_id", "created_at"])
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer()),
        sa.Column("seller_id", sa.Integer()),
        sa.Column("scheduled_at", UtcDateTime(), nullable=False),
        sa.Column("service", sa.String(120), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name="fk_appointments_customer_id_customers"),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"], ondelete="SET NULL",
                                name="fk_appointments_vehicle_id_vehicles"),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], name="fk_appointments_seller_id_sellers"),
        sa.PrimaryKeyConstraint("id", name="pk_appointments"),
    )
    op.create_index("ix_appointments_customer_id_scheduled_at", "appointments",
                    ["customer_id", "scheduled_at"])
    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pbx_call_id", sa.String(128), nullable=False),
        sa.Column("extension", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("remote_raw", sa.String(64), nullable=False),
        sa.Column("remote_e164", sa.String(20)),
        sa.Column("ddr_raw", sa.String(64)),
        sa.Column("ddr_e164", sa.String(20)),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("answered_at", UtcDateTime()),
        sa.Column("ended_at", UtcDateTime()),
        sa.Column("talk_seconds", sa.Integer(), nullable=False),
        sa.Column("missed", sa.Boolean(), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("recording_ref", sa.String(512)),
        sa.Column("contact_id", sa.Integer()),
        sa.Column("customer_id", sa.Integer()),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL",
                                name="fk_call_records_contact_id_contacts"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="SET NULL",
                                name="fk_call_records_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_call_records"),
        sa.UniqueConstraint("pbx_call_id", "extension", name="uq_call_records_pbx_call_id_extension"),
    )
    op.create_index("ix_call_records_customer_id", "call_records", ["customer_id"])
    op.create_index("ix_call_records_extension_started_at_id", "call_records",
                    ["extension", "started_at", "id"])


def downgrade() -> None:
    for table in ("call_records", "appointments", "contacts", "traffic_sources", "vehicles",
                  "phone_changes", "customer_phones", "customers", "pbx_registry", "sellers",
                  "settings"):
        op.drop_table(table)
