"""Secret columns wide enough for values encrypted with the site key.

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (table, column, width before): the width is written out, not imported, so that this revision
# stays what it was when later revisions change the schema again
_COLUMNS = (
    ("sellers", "extension_password", 128),
    ("pbx_registry", "secret", 255),
    ("pbx_registry", "ecr_password", 255),
    ("pbx_registry", "mysql_password", 255),
)


def upgrade() -> None:
    for table, column, width in _COLUMNS:
        # batch mode: SQLite cannot ALTER a column's type, so Alembic copies the table
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(width), type_=sa.String(1024),
                               existing_nullable=True)


def downgrade() -> None:
    for table, column, width in _COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(1024), type_=sa.String(width),
                               existing_nullable=True)
