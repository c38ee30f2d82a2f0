"""The CRM on real database servers, for tests: a fresh database per test on MariaDB or PostgreSQL.

`.ci/run` starts both servers and exports an address with the right to create databases:
  TUI_CAA_TEST_CRM_MYSQL  mysql://user:password@host:port/       (databases caa_crm_* allowed)
  TUI_CAA_TEST_CRM_PG     postgresql://user:password@host:port/postgres   (role with CREATEDB)
Without them (a developer's machine) the server cases are skipped, and said so; under CI
(`CI` set) a missing server is a failure, so the server half of the suite can never silently vanish.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

BACKENDS = ("sqlite", "mariadb", "postgresql")
SERVER_ENV = {"mariadb": "TUI_CAA_TEST_CRM_MYSQL", "postgresql": "TUI_CAA_TEST_CRM_PG"}


def server_address(backend: str) -> str:
    """The admin URL of `backend`'s test server; skips the test (fails it under CI) without one."""
    name = SERVER_ENV[backend]
    url = os.environ.get(name)
    if not url:
        message = f"{name} is not set: no {backend} server for the CRM tests (.ci/run starts one)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@asynccontextmanager
async def fresh_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty CRM database of `backend` (as a user writes it: mysql://, postgresql://,
    sqlite:///), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'crm.sqlite3'}"
        return
    admin = make_url(server_address(backend))
    name = f"caa_crm_{secrets.token_hex(6)}"
    if backend == "mariadb":
        import aiomysql

        async def execute(sql: str) -> None:
            conn = await aiomysql.connect(host=admin.host, port=admin.port or 3306, user=admin.username,
                                          password=admin.password or "", autocommit=True)
            try:
                async with conn.cursor() as cursor:
                    await cursor.execute(sql)
            finally:
                conn.close()

        await execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        drop = f"DROP DATABASE IF EXISTS `{name}`"
    else:
        import asyncpg

        async def execute(sql: str) -> None:
            conn = await asyncpg.connect(host=admin.host, port=admin.port or 5432, user=admin.username,
                                         password=admin.password, database=admin.database or "postgres")
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        await execute(f"CREATE DATABASE {name} ENCODING 'UTF8'")
        drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        await execute(drop)
