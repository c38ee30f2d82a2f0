"""Opening the CRM database: engine per backend, migrations on start, readable connection errors."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidRequestError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tui_caa import locations
from tui_caa.domain.errors import DatabaseUnavailable

_MIGRATIONS = Path(__file__).parent / "migrations"
_EXAMPLES = "sqlite+aiosqlite:///path/crm.sqlite3, mysql+aiomysql://user@host/crm, mssql+aioodbc://user@dsn"


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


# a URL without a driver gets the async one the CRM store runs on (plain `sqlite:///x.db` is what
# most people write; SQLAlchemy would pick a blocking driver and fail deep inside with a traceback)
ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "mssql": "mssql+aioodbc",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
_INSTALL = {  # the driver's module -> how to get it
    "aiosqlite": "pip install aiosqlite",
    "aiomysql": "pip install aiomysql",
    "asyncpg": "pip install asyncpg",
    "aioodbc": "pip install aioodbc, and apt-get install unixodbc plus the SQL Server ODBC driver",
    "pyodbc": "apt-get install unixodbc plus the SQL Server ODBC driver",
}


def async_url(url: str) -> str:
    """`url` with the async driver filled in when it names none: sqlite:// -> sqlite+aiosqlite://."""
    scheme, sep, rest = url.partition("://")
    if not sep or "+" in scheme:
        return url
    driver = ASYNC_DRIVERS.get(scheme.lower())
    if driver == "postgresql+asyncpg" and importlib.util.find_spec("asyncpg") is None:
        raise DatabaseUnavailable(
            f"database URL '{safe_url(url)}': PostgreSQL as the CRM needs the async driver asyncpg, which is "
            "not installed; pip install asyncpg, then use postgresql+asyncpg://user@host/crm",
            field="database.url",
        )
    return f"{driver}://{rest}" if driver else url


def _async_form(url: str) -> str:
    """For a blocking driver named in the URL (mysql+mysqldb://): the async form of its database."""
    scheme = url.partition("://")[0].split("+")[0].lower()
    driver = ASYNC_DRIVERS.get(scheme)
    if driver is None:
        return f"use one of the async forms: {_EXAMPLES}"
    return f"the CRM needs an async driver: use {driver}://… ({_INSTALL[driver.split('+')[1]]})"


def create_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        return create_async_engine(url, pool_pre_ping=True, pool_recycle=3600)
    except ImportError as exc:  # the URL names a driver that is not installed (or its system library)
        module = (exc.name or "").split(".")[0] or str(exc)
        fix = _INSTALL.get(module) or _async_form(url)
        if "libodbc" in str(exc):
            fix = "apt-get install unixodbc plus the database's ODBC driver"
        raise DatabaseUnavailable(
            f"database URL '{safe_url(url)}' needs the driver {module}, which is not installed; {fix}",
            field="database.url",
        ) from None
    except InvalidRequestError:  # a blocking driver named explicitly (mysql+pymysql://)
        raise DatabaseUnavailable(
            f"database URL '{safe_url(url)}' names a driver that is not async; {_async_form(url)}",
            field="database.url",
        ) from None
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseUnavailable(
            f"database URL '{safe_url(url)}' is not usable: {exc}. Examples: {_EXAMPLES}",
            field="database.url",
        ) from None


def _sqlite_engine(url: str) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        folder = Path(database).expanduser().parent
        try:
            locations.private_dir(folder)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"CRM database {database} is unavailable: cannot create its folder {folder} "
                f"({exc.strerror}); fix the path in database.url",
                field="database.url",
            ) from exc
        _private_file(Path(database).expanduser())
    engine = create_async_engine(url, connect_args={"timeout": 15})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets the console read while the gateway writes call records
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # a secret replaced (a new site key, a changed password) is overwritten on disk, not left
        # in a free page of the file for anyone holding a copy of it
        cursor.execute("PRAGMA secure_delete=ON")
        # reads straight from the OS page cache, and a larger private cache: the screen pop
        # touches a few random pages of a large file on every ring
        cursor.execute("PRAGMA mmap_size=1073741824")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    return engine


def _private_file(path: Path) -> None:
    """A new database file is made 0600 before SQLite opens it (SQLite gives its -wal and -shm the
    main file's mode), an older one loses the group and others' bits it may have."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, locations.PRIVATE_FILE))
    except FileExistsError:
        locations.tighten_database(path)
    except OSError:
        pass  # SQLite's own error says it better


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


@dataclass(frozen=True)
class SchemaRevision:
    """Where a database's schema stands against the migrations this tui-caa carries."""

    current: tuple[str, ...]  # empty: no schema yet
    head: tuple[str, ...]
    unknown: tuple[str, ...]  # revisions a newer tui-caa wrote

    @property
    def pending(self) -> bool:
        return set(self.current) != set(self.head)


def _revision(connection: Connection) -> SchemaRevision:
    current = tuple(MigrationContext.configure(connection).get_current_heads())
    script = ScriptDirectory.from_config(_alembic_config(connection))
    return SchemaRevision(current, tuple(script.get_heads()),
                          tuple(rev for rev in current if not _known(script, rev)))


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _pending(connection: Connection) -> bool:
    return _revision(connection).pending


async def schema_revision(engine: AsyncEngine) -> SchemaRevision:
    """The schema's revision and the newest one, read only: nothing is created or migrated."""
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_revision)
    except (DBAPIError, OSError) as exc:
        raise unavailable(engine, exc) from exc


def existing_database(url: str) -> AsyncEngine:
    """An engine on a database that must exist already: a missing SQLite file is an error here, not
    a new empty database (a check must not create what it checks)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return create_engine(url)  # which says what a usable URL looks like
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not Path(database).expanduser().is_file():
            raise DatabaseUnavailable(
                f"CRM database {database} does not exist: `tui-caa db init` creates it "
                "(or fix database.url)", field="database.url")
    return create_engine(url)


async def migrate(engine: AsyncEngine) -> bool:
    """Brings the schema to the newest revision, keeping all data. Returns True if it changed."""
    try:
        async with engine.begin() as connection:
            if not await connection.run_sync(_pending):
                return False
            await connection.run_sync(_upgrade)
            return True
    except (DBAPIError, OSError) as exc:
        raise unavailable(engine, exc) from exc


def unavailable(engine: AsyncEngine, exc: BaseException) -> DatabaseUnavailable:
    reason = getattr(exc, "orig", None) or exc
    return DatabaseUnavailable(
        f"CRM database {safe_url(engine.url.render_as_string(hide_password=False))} "
        f"is unavailable: {reason}"
    )


async def open_database(url: str) -> AsyncEngine:
    """An engine on a database that is reachable and migrated to the newest schema."""
    engine = create_engine(url)
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine
