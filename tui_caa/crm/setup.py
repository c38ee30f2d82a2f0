"""What an administrator sets up: sellers and extensions, traffic sources and DDRs, the PBX
registry and the module switch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tui_caa.crm import rows
from tui_caa.crm.schema import customers, pbx_registry, sellers, settings, traffic_sources
from tui_caa.crm.secrets import SecretOps
from tui_caa.domain import Conflict, NotFound, PbxRegistryEntry, Seller, TrafficSource
from tui_caa.phones import display

TELEPHONY_ENABLED = "telephony_enabled"


class SetupOps(SecretOps):
    async def record_counts(self) -> dict[str, int]:
        """How many customers, sellers, traffic sources and PBX entries there are (0 everywhere:
        a new, empty CRM)."""
        tables = {"customers": customers, "sellers": sellers, "traffic_sources": traffic_sources,
                  "pbx_registry_entries": pbx_registry}
        async with self._read() as conn:
            return {name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                    for name, table in tables.items()}

    # ---- module switch ("Utilizar serviços de integração com centrais telefônicas") ----
    async def telephony_enabled(self) -> bool:
        async with self._read() as conn:
            value = (await conn.execute(select(settings.c.value).where(settings.c.key == TELEPHONY_ENABLED))).scalar()
        return value == "1"

    async def set_telephony_enabled(self, enabled: bool) -> None:
        async with self._write() as conn:
            found = await conn.execute(
                update(settings).where(settings.c.key == TELEPHONY_ENABLED).values(value="1" if enabled else "0")
            )
            if found.rowcount == 0:
                await conn.execute(insert(settings).values(key=TELEPHONY_ENABLED, value="1" if enabled else "0"))

    # ---- sellers ----
    async def save_seller(self, seller: Seller) -> Seller:
        values = seller.model_dump(exclude={"id"})
        values["extension_password"] = rows.secret_value(seller.extension_password)
        async with self._write() as conn:
            if seller.extension is not None:
                owner = (await conn.execute(
                    select(sellers.c.id, sellers.c.name).where(sellers.c.extension == seller.extension)
                )).first()
                if owner is not None and owner[0] != seller.id:
                    raise Conflict(
                        f"extension {seller.extension} already belongs to {owner[1]}; free it first",
                        field="extension",
                    )
            seller_id = await _upsert(conn, sellers, seller.id, await self._seal(conn, sellers, values), "seller")
        return seller.model_copy(update={"id": seller_id})

    async def sellers(self) -> list[Seller]:
        async with self._read() as conn:
            result = await conn.execute(select(sellers).order_by(sellers.c.extension, sellers.c.id))
            return [rows.seller(self._reveal(sellers, row)) for row in result.mappings()]

    async def seller_by_extension(self, extension: str) -> Seller:
        async with self._read() as conn:
            row = (await conn.execute(select(sellers).where(sellers.c.extension == extension))).mappings().first()
        if row is None:
            raise NotFound(f"no seller has extension {extension}", field="extension")
        return rows.seller(self._reveal(sellers, row))

    # ---- traffic sources ----
    async def save_traffic_source(self, source: TrafficSource) -> TrafficSource:
        """The DDR is normalised and may belong to one traffic source only."""
        ddr_e164 = self._phone(source.ddr_raw, "ddr").e164 if source.ddr_raw else None
        source = source.model_copy(update={"ddr_e164": ddr_e164})
        async with self._write() as conn:
            if ddr_e164 is not None:
                owner = (await conn.execute(
                    select(traffic_sources.c.id, traffic_sources.c.name).where(traffic_sources.c.ddr_e164 == ddr_e164)
                )).first()
                if owner is not None and owner[0] != source.id:
                    raise Conflict(
                        f"DDR {display(ddr_e164)} is already the DDR of traffic source '{owner[1]}'",
                        field="ddr",
                    )
            source_id = await _upsert(conn, traffic_sources, source.id, source.model_dump(exclude={"id"}), "traffic source")
        return source.model_copy(update={"id": source_id})

    async def traffic_sources(self) -> list[TrafficSource]:
        async with self._read() as conn:
            result = await conn.execute(select(traffic_sources).order_by(traffic_sources.c.name))
            return [rows.traffic_source(row) for row in result.mappings()]

    async def traffic_source_for_ddr(self, ddr: str) -> TrafficSource | None:
        """The traffic source whose DDR is this number, if any (None for an unknown DDR)."""
        ddr_e164 = self._phone(ddr, "ddr").e164
        async with self._read() as conn:
            row = (await conn.execute(
                select(traffic_sources).where(traffic_sources.c.ddr_e164 == ddr_e164)
            )).mappings().first()
        return None if row is None else rows.traffic_source(row)

    # ---- PBX registry ("Centrais Telefônicas") ----
    async def save_pbx(self, entry: PbxRegistryEntry) -> PbxRegistryEntry:
        """Saves an entry; making it active deactivates any other, as a site has one active PBX."""
        values = entry.model_dump(exclude={"id"})
        for secret in ("secret", "ecr_password", "mysql_password"):
            values[secret] = rows.secret_value(getattr(entry, secret))
        async with self._write() as conn:
            if entry.active:
                await conn.execute(update(pbx_registry).where(pbx_registry.c.active.is_(True)).values(active=False))
            values = await self._seal(conn, pbx_registry, values)
            entry_id = await _upsert(conn, pbx_registry, entry.id, values, "PBX registry entry")
        return entry.model_copy(update={"id": entry_id})

    async def pbx_entries(self) -> list[PbxRegistryEntry]:
        async with self._read() as conn:
            result = await conn.execute(select(pbx_registry).order_by(pbx_registry.c.id))
            return [rows.pbx_entry(self._reveal(pbx_registry, row)) for row in result.mappings()]

    async def active_pbx(self) -> PbxRegistryEntry | None:
        async with self._read() as conn:
            row = (await conn.execute(select(pbx_registry).where(pbx_registry.c.active.is_(True)))).mappings().first()
        return None if row is None else rows.pbx_entry(self._reveal(pbx_registry, row))


async def _upsert(conn: AsyncConnection, table: Any, row_id: int | None, values: dict[str, Any], what: str) -> int:
    if row_id is None:
        return (await conn.execute(insert(table).values(**values))).inserted_primary_key[0]
    result = await conn.execute(update(table).where(table.c.id == row_id).values(**values))
    if result.rowcount == 0:
        raise NotFound(f"{what} {row_id} does not exist", field="id")
    return row_id
