"""Alembic environment: always run programmatically by `tui_caa.crm.database.migrate`, which hands
over an open connection (so the same code serves SQLite, MariaDB and SQL Server)."""

from alembic import context

from tui_caa.crm.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite can only ALTER tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
