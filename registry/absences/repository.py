"""All SQL of declared absences (async, on the request's session)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.absences.models import AbsenceSource, DwellingAbsence


class AbsenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def dwelling_timezone(self, *, dwelling_id: int, default_country: str) -> str | None:
        """The dwelling's local time zone (its zone's, else its country's, else the
        deployment's), or None when there is no such dwelling."""
        value = await self.session.scalar(
            text(
                "SELECT coalesce(z.timezone, zc.timezone, dc.timezone, 'UTC')"
                " FROM dwelling d JOIN building b ON b.id = d.building_id"
                " JOIN zone z ON z.id = b.zone_id"
                " LEFT JOIN country zc ON zc.code = z.country_code"
                " LEFT JOIN country dc ON dc.code = :default_country"
                " WHERE d.id = :dwelling_id"
            ),
            {"dwelling_id": dwelling_id, "default_country": default_country},
        )
        return None if value is None else str(value)

    async def add(
        self,
        *,
        dwelling_id: int,
        from_date: date,
        to_date: date,
        source: AbsenceSource,
        declared_by: int,
    ) -> DwellingAbsence:
        absence = DwellingAbsence(
            dwelling_id=dwelling_id,
            from_date=from_date,
            to_date=to_date,
            source=source,
            declared_by=declared_by,
        )
        self.session.add(absence)
        await self.session.flush()
        await self.session.refresh(absence)
        return absence

    async def listed(self, *, dwelling_id: int, ending_from: date) -> list[DwellingAbsence]:
        """The dwelling's live absences that end on or after ``ending_from``, soonest first."""
        statement = (
            select(DwellingAbsence)
            .where(
                DwellingAbsence.dwelling_id == dwelling_id,
                DwellingAbsence.cancelled_at.is_(None),
                DwellingAbsence.to_date >= ending_from,
            )
            .order_by(DwellingAbsence.from_date, DwellingAbsence.id)
        )
        return list(await self.session.scalars(statement))

    async def cancel(
        self, *, dwelling_id: int, absence_id: int, now: datetime
    ) -> DwellingAbsence | None:
        """Mark an absence cancelled (a cancelled one keeps its first cancellation time, so a
        repeated DELETE answers the same); None when the dwelling has no such absence."""
        statement = (
            update(DwellingAbsence)
            .where(DwellingAbsence.id == absence_id, DwellingAbsence.dwelling_id == dwelling_id)
            .values(cancelled_at=func.coalesce(DwellingAbsence.cancelled_at, now))
            .returning(DwellingAbsence)
        )
        return (await self.session.scalars(statement)).one_or_none()
