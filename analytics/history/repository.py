"""All SQL of the history reads: points per minute, hour or day for the meters of a scope.

Each read is one grouped statement over a bounded time range: minutes from ``reading`` (the
last hour only: its newest chunk), hours from ``meter_hourly`` (a hypertable, so only the
window's chunks are read), days from ``meter_daily`` through its ``(day, meter_id)`` index.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.history.schemas import ScopeKind

# The meters of a scope, located where they are installed now (a fleet: every meter).
_SCOPED = """
scoped AS (
    SELECT m.id FROM meter m
    LEFT JOIN dwelling d ON d.id = m.dwelling_id
    LEFT JOIN building b ON b.id = d.building_id
    WHERE (CAST(:meter_id AS int) IS NULL OR m.id = CAST(:meter_id AS int))
      AND (CAST(:building_id AS int) IS NULL OR d.building_id = CAST(:building_id AS int))
      AND (CAST(:zone_id AS int) IS NULL OR b.zone_id = CAST(:zone_id AS int))
)"""

# Interpolated boundaries are how every rollup is cut, not a doubt about the volume: only an
# estimate or a negative step counted as zero marks a point as not exactly measured.
_ESTIMATED = "coalesce(bool_or(x.has_estimate OR x.negative_step), false) AS estimated"

_MINUTES = f"""
WITH {_SCOPED}
SELECT date_bin(interval '1 minute', r.time, CAST(:start AS timestamptz)) AS start,
       NULL::date AS local_date, count(*) AS readings, count(DISTINCT r.meter_id) AS meters,
       NULL::bigint AS volume_l, false AS estimated
FROM reading r
WHERE r.time >= :start AND r.time < :end AND r.meter_id IN (SELECT id FROM scoped)
GROUP BY 1 ORDER BY 1
"""

_HOURS = f"""
WITH {_SCOPED}
SELECT x.hour_start AS start, NULL::date AS local_date, sum(x.reading_count)::bigint AS readings,
       count(*) FILTER (WHERE x.reading_count > 0) AS meters, sum(x.volume_l)::bigint AS volume_l,
       {_ESTIMATED}
FROM meter_hourly x
WHERE x.hour_start >= :start AND x.hour_start < :end AND x.meter_id IN (SELECT id FROM scoped)
GROUP BY x.hour_start ORDER BY x.hour_start
"""

_DAYS = f"""
WITH {_SCOPED}
SELECT (x.day::timestamp AT TIME ZONE :tz) AS start, x.day AS local_date,
       sum(x.reading_count)::bigint AS readings,
       count(*) FILTER (WHERE x.reading_count > 0) AS meters, sum(x.volume_l)::bigint AS volume_l,
       {_ESTIMATED}
FROM meter_daily x
WHERE x.day BETWEEN :first AND :last AND x.meter_id IN (SELECT id FROM scoped)
GROUP BY x.day ORDER BY x.day
"""

_TIMEZONE = {
    ScopeKind.FLEET: "SELECT timezone FROM country WHERE code = :default_country",
    ScopeKind.ZONE: "SELECT coalesce(z.timezone, c.timezone) FROM zone z"
    " JOIN country c ON c.code = z.country_code WHERE z.id = :id",
    ScopeKind.BUILDING: "SELECT coalesce(z.timezone, c.timezone) FROM building b"
    " JOIN zone z ON z.id = b.zone_id JOIN country c ON c.code = z.country_code"
    " WHERE b.id = :id",
    ScopeKind.METER: "SELECT timezone FROM meter_timezone(:default_country) WHERE meter_id = :id",
}


def _scope_params(kind: ScopeKind, scope_id: int | None) -> dict[str, Any]:
    return {
        "zone_id": scope_id if kind is ScopeKind.ZONE else None,
        "building_id": scope_id if kind is ScopeKind.BUILDING else None,
        "meter_id": scope_id if kind is ScopeKind.METER else None,
    }


class HistoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def timezone(
        self, kind: ScopeKind, scope_id: int | None, *, default_country: str
    ) -> str | None:
        """The scope's time zone, or None when the zone, building or meter does not exist."""
        value = await self.session.scalar(
            text(_TIMEZONE[kind]), {"id": scope_id, "default_country": default_country}
        )
        return None if value is None else str(value)

    async def minutes(
        self, kind: ScopeKind, scope_id: int | None, *, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        return await self._rows(
            _MINUTES, {"start": start, "end": end, **_scope_params(kind, scope_id)}
        )

    async def hours(
        self, kind: ScopeKind, scope_id: int | None, *, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        return await self._rows(
            _HOURS, {"start": start, "end": end, **_scope_params(kind, scope_id)}
        )

    async def days(
        self, kind: ScopeKind, scope_id: int | None, *, first: date, last: date, timezone: str
    ) -> list[dict[str, Any]]:
        """Local days ``first`` to ``last`` included (each meter's days are its own local days)."""
        params = {"first": first, "last": last, "tz": timezone, **_scope_params(kind, scope_id)}
        return await self._rows(_DAYS, params)

    async def _rows(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows = await self.session.execute(text(query), params)
        return [dict(row) for row in rows.mappings()]
