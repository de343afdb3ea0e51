"""All SQL of the telemetry reads: a meter's readings and volumes, and the fleet's ingest gauges.

Volumes are read from the rollups, labelled with the time zone the refresh cuts days with (the
SQL function ``meter_timezone``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# A monthly round plus two weeks' slack: a meter read by hand this recently is looked after.
HAND_READ_DAYS = 45

# Nothing arrived from the meter for twice its reporting interval, or never.
_QUIET = (
    "(s.last_received_at IS NULL OR s.last_received_at < CAST(:now AS timestamptz)"
    " - 2 * m.reporting_interval_s * interval '1 second')"
)
# A technician stored a reading of it within HAND_READ_DAYS (manual readings do not touch
# meter_state: they are not the meter talking).
_HAND_READ = (
    "EXISTS (SELECT 1 FROM reading hr WHERE hr.meter_id = m.id AND hr.source = 'manual'"
    f" AND hr.time >= CAST(:now AS timestamptz) - interval '{HAND_READ_DAYS} days')"
)
# Silent: quiet, and not read by hand lately either.
_SILENT = f"({_QUIET} AND NOT {_HAND_READ})"
_BUCKET_COLUMNS = (
    "volume_l, start_index_l, end_index_l, reading_count, start_interpolated,"
    " end_interpolated, has_estimate, negative_step"
)


# The instants a caller holds the meter's data (``accounts.scope.meter_windows``): each
# ``[from, until)``, a None bound open; None for no restriction.
Windows = list[tuple[datetime | None, datetime | None]] | None


def _held(column: str) -> str:
    """SQL: ``column`` falls in one of the windows bound as ``:held_from``/``:held_until``."""
    return (
        " AND (CAST(:held_from AS timestamptz[]) IS NULL OR EXISTS (SELECT 1 FROM unnest("
        "CAST(:held_from AS timestamptz[]), CAST(:held_until AS timestamptz[])) w(f, u)"
        f" WHERE (w.f IS NULL OR {column} >= w.f) AND (w.u IS NULL OR {column} < w.u)))"
    )


def _windows(windows: Windows) -> dict[str, Any]:
    if windows is None:
        return {"held_from": None, "held_until": None}
    return {"held_from": [w[0] for w in windows], "held_until": [w[1] for w in windows]}


class TelemetryRepository:
    """Reads for the telemetry API and the fleet gauges, on the request's session.

    Fleet-wide figures come from ``meter_state``, ``rollup_pending`` and ``quarantine``; only
    the recent-rate count touches ``reading``, and only its newest chunk.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def meter_timezone(self, *, meter_id: int, default_country: str) -> str | None:
        """The meter's local time zone, or None when there is no such meter: Python's one way to
        the rule SQL joins call (``meter_timezone``)."""
        row = await self.session.execute(
            text(
                "SELECT timezone FROM meter_timezone(:default_country) WHERE meter_id = :meter_id"
            ),
            {"meter_id": meter_id, "default_country": default_country},
        )
        value = row.scalar_one_or_none()
        return None if value is None else str(value)

    async def pending_since(self, *, meter_id: int) -> datetime | None:
        """From when the meter's rollups wait for a refresh, if they do."""
        value = await self.session.scalar(
            text("SELECT since FROM rollup_pending WHERE meter_id = :meter_id"),
            {"meter_id": meter_id},
        )
        return value if isinstance(value, datetime) else None

    async def readings(
        self,
        *,
        meter_id: int,
        start: datetime | None,
        end: datetime | None,
        source: str | None,
        limit: int,
        windows: Windows,
    ) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            text(
                "SELECT time, source::text AS source, index_l, flow_lph, battery_pct, signal_dbm,"
                " alarms, received_at FROM reading"
                " WHERE meter_id = :meter_id"
                " AND (CAST(:start AS timestamptz) IS NULL OR time >= :start)"
                " AND (CAST(:end AS timestamptz) IS NULL OR time < :end)"
                " AND (CAST(:source AS text) IS NULL OR source::text = :source)"
                f"{_held('time')}"
                " ORDER BY time DESC, reading.source LIMIT :limit"
            ),
            {
                "meter_id": meter_id,
                "start": start,
                "end": end,
                "source": source,
                "limit": limit,
                **_windows(windows),
            },
        )
        return [dict(row) for row in rows.mappings()]

    async def hourly(
        self, *, meter_id: int, start: datetime, end: datetime, windows: Windows
    ) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            text(
                f"SELECT hour_start AS start, {_BUCKET_COLUMNS} FROM meter_hourly"
                " WHERE meter_id = :meter_id AND hour_start >= :start AND hour_start < :end"
                f"{_held('hour_start')}"
                " ORDER BY hour_start"
            ),
            {"meter_id": meter_id, "start": start, "end": end, **_windows(windows)},
        )
        return [dict(row) for row in rows.mappings()]

    async def daily(
        self, *, meter_id: int, timezone: str, start: datetime, end: datetime, windows: Windows
    ) -> list[dict[str, Any]]:
        """Days whose local midnight falls in [start, end)."""
        rows = await self.session.execute(
            text(
                f"SELECT day, {_BUCKET_COLUMNS} FROM meter_daily"
                " WHERE meter_id = :meter_id"
                # The date bounds let the primary key narrow the scan; the instants decide.
                " AND day BETWEEN (CAST(:start AS timestamptz) AT TIME ZONE :tz)::date"
                " AND (CAST(:end AS timestamptz) AT TIME ZONE :tz)::date"
                " AND (day::timestamp AT TIME ZONE :tz) >= :start"
                " AND (day::timestamp AT TIME ZONE :tz) < :end"
                f"{_held('(day::timestamp AT TIME ZONE :tz)')}"
                " ORDER BY day"
            ),
            {
                "meter_id": meter_id,
                "tz": timezone,
                "start": start,
                "end": end,
                **_windows(windows),
            },
        )
        return [dict(row) for row in rows.mappings()]

    async def recent_reading_counts(self, *, now: datetime) -> dict[str, Any]:
        """Readings stored in the last minute and five minutes (by arrival time).

        Only readings stamped within the last day are counted, which keeps the scan on the
        newest chunk; a backlog of older readings arriving now is not in the rate.
        """
        row = await self.session.execute(
            text(
                "SELECT count(*) FILTER (WHERE received_at >= CAST(:now AS timestamptz)"
                "   - interval '1 minute') AS last_minute,"
                " count(*) AS last_5_minutes FROM reading"
                " WHERE time >= CAST(:now AS timestamptz) - interval '1 day'"
                " AND received_at >= CAST(:now AS timestamptz) - interval '5 minutes'"
            ),
            {"now": now},
        )
        return dict(row.mappings().one())

    async def fleet(self, *, now: datetime) -> dict[str, Any]:
        """Meter counts (reporting/silent), newest device time, rollup queue: cheap tables only."""
        row = await self.session.execute(
            text(
                "SELECT"
                " (SELECT count(*) FROM meter m WHERE m.removed_at IS NULL) AS meters_active,"
                " (SELECT count(*) FROM meter m JOIN meter_state s ON s.meter_id = m.id"
                f"   WHERE m.removed_at IS NULL AND NOT {_QUIET}) AS meters_reporting,"
                " (SELECT count(*) FROM meter m LEFT JOIN meter_state s ON s.meter_id = m.id"
                f"   WHERE m.removed_at IS NULL AND {_QUIET} AND {_HAND_READ})"
                " AS meters_hand_read,"
                " (SELECT max(last_time) FROM meter_state) AS newest_reading_at,"
                " (SELECT count(*) FROM rollup_pending) AS rollup_queue_depth,"
                " (SELECT min(queued_at) FROM rollup_pending) AS rollup_oldest_queued_at"
            ),
            {"now": now},
        )
        return dict(row.mappings().one())

    async def quarantine_counts(self) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            text(
                "SELECT reason, status::text AS status, count(*) AS count FROM quarantine"
                " GROUP BY reason, quarantine.status ORDER BY reason, quarantine.status"
            )
        )
        return [dict(row) for row in rows.mappings()]

    async def meter_statuses(
        self, *, now: datetime, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """Active meters, silent first (longest silent first), then by last arrival."""
        total = await self.session.scalar(
            text("SELECT count(*) FROM meter WHERE removed_at IS NULL")
        )
        rows = await self.session.execute(
            text(
                "SELECT m.id AS meter_id, m.serial, m.reporting_interval_s,"
                " s.last_time AS last_reading_at, s.last_index_l,"
                " s.last_received_at AS last_seen_at, coalesce(s.readings_total, 0) AS"
                f" readings_total, {_SILENT} AS silent, {_QUIET} AND {_HAND_READ} AS hand_read,"
                " (SELECT max(r.time) FROM reading r WHERE r.meter_id = m.id"
                "   AND r.source = 'manual') AS last_manual_at"
                " FROM meter m LEFT JOIN meter_state s ON s.meter_id = m.id"
                " WHERE m.removed_at IS NULL"
                f" ORDER BY {_SILENT} DESC, s.last_received_at ASC NULLS FIRST, m.id"
                " LIMIT :limit OFFSET :offset"
            ),
            {"now": now, "limit": limit, "offset": offset},
        )
        return int(total or 0), [dict(row) for row in rows.mappings()]
