"""The secrets the gateway sends to the PBX, encrypted in the CRM with the site key (sitekey.py):
sealed when a record is saved, opened only when a row becomes a record's SecretStr."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tui_caa.crm import sitekey
from tui_caa.crm.base import StoreBase
from tui_caa.crm.schema import pbx_registry, sellers
from tui_caa.crm.sitekey import SiteKey, SiteKeyError

log = logging.getLogger(__name__)

SECRET_COLUMNS: dict[Table, tuple[str, ...]] = {
    sellers: ("extension_password",),
    pbx_registry: ("secret", "ecr_password", "mysql_password"),
}


class SecretOps(StoreBase):
    _site_key: SiteKey | None = None
    _site_key_checked = False

    def use_site_key(self, key: SiteKey) -> None:
        """Sets the key instead of looking for this machine's (tests, `db rotate-key`)."""
        self._site_key, self._site_key_checked = key, False

    def _reveal(self, table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
        """The row with its secrets in clear; the key is looked for only if one is encrypted (a CRM
        written by an older tui-caa holds them in clear, and is still read)."""
        opened = dict(row)
        for column in SECRET_COLUMNS[table]:
            if sitekey.is_encrypted(opened.get(column)):
                if self._site_key is None:
                    self._site_key = sitekey.load()
                opened[column] = self._site_key.decrypt(opened[column])
        return opened

    async def _seal(self, conn: AsyncConnection, table: Table, values: dict[str, Any]) -> dict[str, Any]:
        """The values to write, with their secrets (already plain text) encrypted."""
        sealed = dict(values)
        for column in SECRET_COLUMNS[table]:
            if sealed.get(column) is not None:
                sealed[column] = (await self._writing_key(conn)).encrypt(sealed[column])
        return sealed

    async def _writing_key(self, conn: AsyncConnection) -> SiteKey:
        """This machine's key, checked once against a secret already in the CRM: a machine with
        another key must not store secrets that the gateway cannot read. With no key anywhere and
        no encrypted secret yet (a new site), a key file is made, as `tui-caa db init` does."""
        sample = None if self._site_key_checked else await _one_encrypted(conn)
        if self._site_key is None:
            found = sitekey.find()
            if found is None:
                if sample is not None:
                    sitekey.load()  # raises: no key, says where it looked and the fix
                found, _ = sitekey.ensure_key_file()
                log.warning("made a new site key %s: keep a copy, the PBX secrets in the CRM "
                            "cannot be read without it", found.path)
            self._site_key = found
        if sample is not None:
            self._site_key.decrypt(sample)  # raises if the CRM's secrets were encrypted with another key
        self._site_key_checked = True
        return self._site_key

    async def rotate_site_key(self, new: SiteKey) -> int:
        """Every secret re-encrypted with `new` in one transaction (values stored in clear by older
        versions too). Returns how many values were. Any value the current key cannot read stops
        it all: nothing is changed."""
        count = 0
        async with self._write() as conn:
            for table, columns in SECRET_COLUMNS.items():
                result = await conn.execute(select(table.c.id, *(table.c[c] for c in columns)))
                for row in result.mappings().all():
                    opened = self._reveal(table, row)
                    values = {c: new.encrypt(opened[c]) for c in columns if opened[c] is not None}
                    if values:
                        await conn.execute(update(table).where(table.c.id == row["id"]).values(**values))
                        count += len(values)
        await self._drop_old_copies()
        self.use_site_key(new)
        self._site_key_checked = True
        return count


    async def _drop_old_copies(self) -> None:
        """SQLite's write-ahead log may still hold the pages as they were (the clear or old-key
        values) until it is checkpointed: it is, and emptied, when no reader holds it."""
        if self.engine.dialect.name != "sqlite":
            return
        async with self._read() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


async def _one_encrypted(conn: AsyncConnection) -> str | None:
    for table, columns in SECRET_COLUMNS.items():
        for column in columns:
            value = (await conn.execute(
                select(table.c[column]).where(table.c[column].like(sitekey.PREFIX + "%")).limit(1)
            )).scalar()
            if value is not None:
                return str(value)
    return None


__all__ = ["SECRET_COLUMNS", "SecretOps", "SiteKeyError"]

