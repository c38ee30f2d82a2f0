"""The Alembic revisions build exactly the schema that `tui_caa/crm/schema.py` describes."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tui_caa.crm.database import create_engine, migrate
from tui_caa.crm.schema import metadata


async def test_migrations_match_the_schema(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")
    assert await migrate(engine) is True
    assert await migrate(engine) is False  # second start: nothing to do

    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    assert tables == set(metadata.tables) | {"alembic_version"}
