"""SQL of the incident API (``analytics.incidents``): pages of incidents with where they are,
one incident under a row lock, its SMS deliveries, and customers' muted categories.

Reach is a subquery of meter ids handed in by the caller (``api.auth.scope.meter_ids``), or None
for every meter, so that this package never imports the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.models import ACTIVE_STATUSES, AlertDelivery, AlertMute, Incident
from core.models import Dwelling, Meter


@dataclass(frozen=True)
class IncidentFilter:
    meter_id: int | None = None
    building_id: int | None = None
    kind: str | None = None
    live: bool | None = None  # True: open/acknowledged; False: resolved/closed
    since: datetime | None = None  # overlapping [since, until)
    until: datetime | None = None


@dataclass(frozen=True)
class LocatedIncident:
    """An incident with its meter's serial, dwelling and building."""

    incident: Incident
    serial: str
    dwelling_id: int | None
    building_id: int | None


_Located = Select[Incident, str, int | None, int]


class IncidentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _located(self, meter_scope: Select[Any] | None) -> _Located:
        statement = (
            select(Incident, Meter.serial, Meter.dwelling_id, Dwelling.building_id)
            .join(Meter, Meter.id == Incident.meter_id)
            .outerjoin(Dwelling, Dwelling.id == Meter.dwelling_id)
        )
        if meter_scope is not None:
            statement = statement.where(Incident.meter_id.in_(meter_scope))
        return statement

    async def page(
        self,
        filters: IncidentFilter,
        *,
        meter_scope: Select[Any] | None,
        limit: int,
        offset: int,
    ) -> tuple[int, list[LocatedIncident]]:
        """Newest first; the total counts every match, not just the page."""
        statement = self._located(meter_scope)
        if filters.meter_id is not None:
            statement = statement.where(Incident.meter_id == filters.meter_id)
        if filters.building_id is not None:
            statement = statement.where(Dwelling.building_id == filters.building_id)
        if filters.kind is not None:
            statement = statement.where(Incident.kind == filters.kind)
        if filters.live is not None:
            live = Incident.status.in_(ACTIVE_STATUSES)
            statement = statement.where(live if filters.live else ~live)
        if filters.until is not None:
            statement = statement.where(Incident.started_at < filters.until)
        if filters.since is not None:
            statement = statement.where(
                func.coalesce(Incident.ended_at, literal("infinity").cast(Incident.ended_at.type))
                >= filters.since
            )
        total = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = await self.session.execute(
            statement.order_by(Incident.started_at.desc(), Incident.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return int(total or 0), [LocatedIncident(*row) for row in rows]

    async def get(
        self, incident_id: int, *, meter_scope: Select[Any] | None, for_update: bool = False
    ) -> LocatedIncident | None:
        statement = self._located(meter_scope).where(Incident.id == incident_id)
        if for_update:
            # Lock the incident only: a scan updating it waits, and so does a second click.
            statement = statement.with_for_update(of=Incident)
        row = (await self.session.execute(statement)).first()
        return None if row is None else LocatedIncident(*row)

    async def deliveries(self, incident_id: int) -> Sequence[AlertDelivery]:
        return (
            await self.session.scalars(
                select(AlertDelivery)
                .where(AlertDelivery.incident_id == incident_id)
                .order_by(AlertDelivery.id)
            )
        ).all()

    async def mutes(self, user_id: int) -> list[str]:
        rows = await self.session.scalars(
            select(AlertMute.category)
            .where(AlertMute.user_id == user_id)
            .order_by(AlertMute.category)
        )
        return list(rows)

    async def replace_mutes(self, user_id: int, categories: Sequence[str]) -> None:
        await self.session.execute(delete(AlertMute).where(AlertMute.user_id == user_id))
        if categories:
            await self.session.execute(
                insert(AlertMute), [{"user_id": user_id, "category": c} for c in categories]
            )
