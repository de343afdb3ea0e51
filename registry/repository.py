"""The registry's queries: lists in a caller's reach, lookups by natural key, bulk writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, column, delete, exists, func, select, table, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.countries import Country
from core.telemetry import RollupPending
from registry.models import (
    Building,
    BuildingManager,
    Dwelling,
    DwellingOccupant,
    Meter,
    MeterImport,
    Zone,
)

# Accounts build on the registry, so the registry names the user table without importing its model.
# Ref: https://docs.sqlalchemy.org/en/20/core/selectable.html#sqlalchemy.sql.expression.table
_app_user = table("app_user", column("id"))

# Chunks keep each statement under PostgreSQL's 65535 bind parameters.
_INSERT_CHUNK = 5000


def _in_reach(statement: Select[Any], id_column: Any, in_reach: Select[Any] | None) -> Select[Any]:
    """``in_reach`` is a one-column SELECT of ids the caller may see, or None for all."""
    return statement if in_reach is None else statement.where(id_column.in_(in_reach))


class RegistryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_exists(self, user_id: int) -> bool:
        return bool(await self.session.scalar(select(exists().where(_app_user.c.id == user_id))))

    async def country_exists(self, code: str) -> bool:
        return await self.session.get(Country, code) is not None

    async def zone_code_taken(self, code: str) -> bool:
        return await self.session.scalar(select(Zone.id).where(Zone.code == code)) is not None

    async def zones(self, *, limit: int, offset: int) -> list[Zone]:
        statement = select(Zone).order_by(Zone.id).limit(limit).offset(offset)
        return list(await self.session.scalars(statement))

    async def buildings(
        self, *, in_reach: Select[Any] | None, limit: int, offset: int
    ) -> list[Building]:
        statement = _in_reach(select(Building), Building.id, in_reach)
        return list(
            await self.session.scalars(statement.order_by(Building.id).limit(limit).offset(offset))
        )

    async def dwellings(
        self, *, in_reach: Select[Any] | None, building_id: int | None, limit: int, offset: int
    ) -> list[Dwelling]:
        statement = _in_reach(select(Dwelling), Dwelling.id, in_reach)
        if building_id is not None:
            statement = statement.where(Dwelling.building_id == building_id)
        return list(
            await self.session.scalars(statement.order_by(Dwelling.id).limit(limit).offset(offset))
        )

    async def unknown_dwellings(self, dwelling_ids: set[int]) -> list[int]:
        known = set(
            await self.session.scalars(select(Dwelling.id).where(Dwelling.id.in_(dwelling_ids)))
        )
        return sorted(dwelling_ids - known)

    async def add_import(self, meters: list[dict[str, Any]]) -> int:
        row = MeterImport(meters=meters)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def import_meters(self, import_id: int) -> list[dict[str, Any]] | None:
        return await self.session.scalar(
            select(MeterImport.meters).where(MeterImport.id == import_id)
        )

    async def drop_import(self, import_id: int) -> None:
        await self.session.execute(delete(MeterImport).where(MeterImport.id == import_id))

    async def dwelling_reference_taken(
        self, *, building_id: int, reference: str, dwelling_id: int | None
    ) -> bool:
        clash = await self.session.scalar(
            select(Dwelling.id).where(
                Dwelling.building_id == building_id,
                Dwelling.reference == reference,
                Dwelling.id != (dwelling_id or 0),
            )
        )
        return clash is not None

    async def occupants(self, dwelling_id: int) -> list[DwellingOccupant]:
        return list(
            await self.session.scalars(
                select(DwellingOccupant)
                .where(DwellingOccupant.dwelling_id == dwelling_id)
                .order_by(DwellingOccupant.start_date, DwellingOccupant.id)
            )
        )

    async def meters(self, *, in_reach: Select[Any] | None, limit: int, offset: int) -> list[Meter]:
        statement = _in_reach(select(Meter), Meter.id, in_reach)
        return list(
            await self.session.scalars(statement.order_by(Meter.id).limit(limit).offset(offset))
        )

    async def meter_by_serial(self, serial: str) -> Meter | None:
        return await self.session.scalar(select(Meter).where(Meter.serial == serial))

    async def insert_meters(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert meters whose serial is new; returns how many were."""
        created = 0
        for start in range(0, len(rows), _INSERT_CHUNK):
            statement = (
                insert(Meter)
                .values(rows[start : start + _INSERT_CHUNK])
                .on_conflict_do_nothing(index_elements=[Meter.serial])
                .returning(Meter.id)
            )
            created += len((await self.session.execute(statement)).all())
        return created

    async def remove_meter(self, meter_id: int, *, at: datetime) -> None:
        """Mark the meter removed and queue its rollups from ``at`` (those after it must go)."""
        await self.session.execute(update(Meter).where(Meter.id == meter_id).values(removed_at=at))
        queue = insert(RollupPending).values(meter_id=meter_id, since=at)
        await self.session.execute(
            queue.on_conflict_do_update(
                index_elements=[RollupPending.meter_id],
                set_={"since": func.least(RollupPending.since, queue.excluded.since)},
            )
        )

    async def set_manager(self, *, building_id: int, user_id: int, managed: bool) -> None:
        if managed:
            await self.session.execute(
                insert(BuildingManager)
                .values(building_id=building_id, user_id=user_id)
                .on_conflict_do_nothing()
            )
        else:
            await self.session.execute(
                delete(BuildingManager).where(
                    BuildingManager.building_id == building_id, BuildingManager.user_id == user_id
                )
            )
