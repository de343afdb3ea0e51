"""All SQL of the analytics package.

Rollups: the set-based refresh (psycopg) and the telemetry reads (SQLAlchemy). The refresh never
loops over meters or readings in Python: one statement claims a batch of the queue and plans it,
one rebuilds the hourly buckets of every claimed meter, one the daily ones.

Anomaly scan (``AnalyticsRepository``): reads of telemetry and rollups as typed rows
(``class_row``), incident upserts set-based (COPY into a temporary table, then a handful of
statements, never a query per incident), and the scan watermark.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import class_row
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from analytics.models import ACTIVE_STATUSES, IncidentStatus


def _local_hour(ts: str, tz: str) -> str:
    """SQL for the instant the local clock hour containing ``ts`` started.

    Subtracting the minutes and seconds past the local hour (rather than truncating the local
    time and converting it back) keeps the two 02:00 hours of a DST fall-back day distinct.
    """
    local = f"(({ts}) AT TIME ZONE {tz})"
    return f"(({ts}) - ({local} - date_trunc('hour', {local})))"


def _meter_tz_joins(default_country: str) -> str:
    """Joins from ``m`` (meter) to what decides its local time zone (``_METER_TZ``): its
    dwelling's zone, else that zone's country, else (no dwelling) the deployment's country,
    given as the bind parameter ``default_country``."""
    return f"""
    LEFT JOIN dwelling d ON d.id = m.dwelling_id
    LEFT JOIN building b ON b.id = d.building_id
    LEFT JOIN zone z ON z.id = b.zone_id
    LEFT JOIN country zc ON zc.code = z.country_code
    LEFT JOIN country dc ON dc.code = {default_country}
"""


_METER_TZ = "coalesce(z.timezone, zc.timezone, dc.timezone, 'UTC')"

# A register decrease is a wrap when the wrapped volume (index + 10**digits - previous) is
# under half the register; anything else is a real negative step (reverse flow, misread).
_CLAIM_AND_PLAN = f"""
CREATE TEMP TABLE rollup_plan ON COMMIT DROP AS
WITH claimed AS (
    DELETE FROM rollup_pending
    WHERE meter_id IN (
        SELECT meter_id FROM rollup_pending
        ORDER BY queued_at, meter_id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    RETURNING meter_id, since
),
located AS (
    SELECT c.meter_id, c.since, m.installed_at, m.removed_at, m.initial_index_l,
           power(10::numeric, m.register_digits)::bigint AS modulus,
           {_METER_TZ} AS tz
    FROM claimed c
    JOIN meter m ON m.id = c.meter_id
    {_meter_tz_joins("%(default_country)s")}
),
anchored AS (
    -- The last reading before the new data: the hour holding it is the first one that changes
    -- (its end boundary is interpolated towards the reading that follows it).
    SELECT l.*, coalesce(a.time, l.installed_at) AS anchor_time
    FROM located l
    LEFT JOIN LATERAL (
        SELECT r.time FROM reading r
        WHERE r.meter_id = l.meter_id AND r.time < l.since AND r.time >= l.installed_at
          AND (l.removed_at IS NULL OR r.time <= l.removed_at)
        ORDER BY r.time DESC LIMIT 1
    ) a ON true
),
started AS (
    SELECT an.*, {_local_hour("an.anchor_time", "an.tz")} AS from_hour FROM anchored an
)
-- Readings are loaded from the last one before ``from_hour`` (to interpolate its start
-- boundary), or from the installation (initial index at installed_at) when there is none.
SELECT s.meter_id, s.tz, s.modulus, s.installed_at, s.removed_at, s.initial_index_l, s.from_hour,
       coalesce(p.time, s.installed_at) AS load_from, p.time IS NULL AS with_install
FROM started s
LEFT JOIN LATERAL (
    SELECT r.time FROM reading r
    WHERE r.meter_id = s.meter_id AND r.time < s.from_hour AND r.time >= s.installed_at
    ORDER BY r.time DESC LIMIT 1
) p ON true
"""

_CLAIMED_COUNT = "SELECT count(*) FROM rollup_plan"

_REFRESH_HOURLY = """
WITH point AS (
    -- One point per instant: actual reads first, then the installation, then estimates.
    SELECT DISTINCT ON (p.meter_id, x.time) p.meter_id, x.time, x.index_l, x.kind
    FROM rollup_plan p
    CROSS JOIN LATERAL (
        SELECT r.time, r.index_l, r.source::text AS kind
        FROM reading r
        WHERE r.meter_id = p.meter_id AND r.time >= p.load_from
          AND (p.removed_at IS NULL OR r.time <= p.removed_at)
        UNION ALL
        SELECT p.installed_at, p.initial_index_l, 'initial' WHERE p.with_install
    ) x
    ORDER BY p.meter_id, x.time,
             array_position(ARRAY['iot', 'manual', 'initial', 'estimated'], x.kind)
),
located AS (
    -- Local hour boundaries are whole hours from from_hour (itself one): plain arithmetic,
    -- no time zone conversion per reading.
    SELECT pt.*, p.modulus, p.from_hour,
           date_bin(interval '1 hour', pt.time, p.from_hour) AS hour
    FROM point pt JOIN rollup_plan p USING (meter_id)
),
step AS (
    SELECT l.*, lag(l.time) OVER w AS prev_time, lag(l.index_l) OVER w AS prev_index,
           lag(l.kind) OVER w AS prev_kind, lag(l.hour) OVER w AS prev_hour
    FROM located l
    WINDOW w AS (PARTITION BY l.meter_id ORDER BY l.time)
),
volume AS (
    SELECT s.*,
        CASE
            WHEN s.prev_index IS NULL THEN 0
            WHEN s.index_l >= s.prev_index THEN s.index_l - s.prev_index
            WHEN s.index_l - s.prev_index + s.modulus < s.modulus / 2
                THEN s.index_l - s.prev_index + s.modulus
            ELSE 0
        END AS vol,
        coalesce(s.index_l < s.prev_index
                 AND s.index_l - s.prev_index + s.modulus >= s.modulus / 2, false) AS negative,
        coalesce('estimated' IN (s.kind, s.prev_kind), false) AS estimated
    FROM step s
),
cumulative AS (
    -- A running total of step volumes: any base works, only differences are stored.
    SELECT v.*, sum(v.vol) OVER (PARTITION BY v.meter_id ORDER BY v.time) AS u FROM volume v
),
knot AS (
    -- Readings, and every local hour boundary strictly between two consecutive points, with the
    -- index there interpolated linearly and rounded once. Flags describe the segment ending here.
    -- (Local hours are taken as 3600 s apart: true of every zone whose offsets are whole hours
    -- or keep the same minutes, i.e. all but Lord Howe's half-hour DST.)
    SELECT c.meter_id, c.from_hour, c.time, c.hour, c.u, c.index_l AS register,
           false AS interpolated, c.kind <> 'initial' AS is_reading,
           c.kind = 'estimated' AS estimated_reading, c.estimated, c.negative
    FROM cumulative c
    UNION ALL
    SELECT c.meter_id, c.from_hour, b.boundary, b.boundary, c.u - c.vol + f.part,
           mod(c.prev_index + f.part, c.modulus), true, false, false, c.estimated, c.negative
    FROM cumulative c
    CROSS JOIN LATERAL generate_series(
        c.prev_hour + interval '1 hour', c.time - interval '1 microsecond', interval '1 hour'
    ) AS b(boundary)
    CROSS JOIN LATERAL (
        SELECT round(c.vol * extract(epoch FROM b.boundary - c.prev_time)
                     / extract(epoch FROM c.time - c.prev_time))::bigint AS part
    ) f
    WHERE c.prev_time IS NOT NULL
),
by_hour AS (
    -- A knot at the very start of an hour ends a segment of the hour before: its flags are
    -- kept apart (edge_*) and handed back to that hour below.
    SELECT meter_id, hour, min(from_hour) AS from_hour,
           first(u, time) AS start_u, first(register, time) AS start_register,
           first(interpolated, time) AS start_interpolated,
           last(u, time) AS last_u, last(register, time) AS last_register,
           count(*) FILTER (WHERE is_reading)::int AS reading_count,
           bool_or(estimated_reading) OR coalesce(bool_or(estimated) FILTER (WHERE time > hour),
                                                  false) AS has_estimate,
           coalesce(bool_or(negative) FILTER (WHERE time > hour), false) AS negative_step,
           coalesce(bool_or(estimated) FILTER (WHERE time = hour), false) AS edge_estimated,
           coalesce(bool_or(negative) FILTER (WHERE time = hour), false) AS edge_negative
    FROM knot GROUP BY meter_id, hour
),
hourly AS (
    -- Hours are consecutive, so the next hour's start is this hour's end (telescoping); the
    -- last hour ends at the last reading.
    SELECT h.meter_id, h.hour, h.from_hour, h.start_u, h.start_register, h.start_interpolated,
           coalesce(lead(h.start_u) OVER w, h.last_u) AS end_u,
           coalesce(lead(h.start_register) OVER w, h.last_register) AS end_register,
           coalesce(lead(h.start_interpolated) OVER w, false) AS end_interpolated,
           h.reading_count,
           h.has_estimate OR coalesce(lead(h.edge_estimated) OVER w, false) AS has_estimate,
           h.negative_step OR coalesce(lead(h.edge_negative) OVER w, false) AS negative_step
    FROM by_hour h
    WINDOW w AS (PARTITION BY h.meter_id ORDER BY h.hour)
),
computed AS (SELECT * FROM hourly WHERE hour >= from_hour),
written AS (
    INSERT INTO meter_hourly AS mh (
        meter_id, hour_start, volume_l, start_index_l, end_index_l, reading_count,
        start_interpolated, end_interpolated, has_estimate, negative_step, updated_at)
    SELECT meter_id, hour, end_u - start_u, start_register, end_register, reading_count,
           start_interpolated, end_interpolated, has_estimate, negative_step, now()
    FROM computed
    ON CONFLICT (meter_id, hour_start) DO UPDATE SET
        volume_l = EXCLUDED.volume_l, start_index_l = EXCLUDED.start_index_l,
        end_index_l = EXCLUDED.end_index_l, reading_count = EXCLUDED.reading_count,
        start_interpolated = EXCLUDED.start_interpolated,
        end_interpolated = EXCLUDED.end_interpolated, has_estimate = EXCLUDED.has_estimate,
        negative_step = EXCLUDED.negative_step, updated_at = EXCLUDED.updated_at
    -- An hour the new data leaves as it was keeps its row (and its updated_at).
    WHERE (mh.volume_l, mh.start_index_l, mh.end_index_l, mh.reading_count,
           mh.start_interpolated, mh.end_interpolated, mh.has_estimate, mh.negative_step)
          IS DISTINCT FROM
          (EXCLUDED.volume_l, EXCLUDED.start_index_l, EXCLUDED.end_index_l,
           EXCLUDED.reading_count, EXCLUDED.start_interpolated, EXCLUDED.end_interpolated,
           EXCLUDED.has_estimate, EXCLUDED.negative_step)
    RETURNING 1
),
removed AS (
    -- Hours that no longer have data (e.g. after the meter's removal was recorded).
    DELETE FROM meter_hourly mh USING rollup_plan p
    WHERE mh.meter_id = p.meter_id AND mh.hour_start >= p.from_hour
      AND NOT EXISTS (
          SELECT 1 FROM computed c WHERE c.meter_id = mh.meter_id AND c.hour = mh.hour_start)
    RETURNING 1
)
SELECT (SELECT count(*) FROM written), (SELECT count(*) FROM removed)
"""

_REFRESH_DAILY = """
WITH span AS (
    SELECT meter_id, tz, (from_hour AT TIME ZONE tz)::date AS from_day FROM rollup_plan
),
daily AS (
    -- Local midnight is a local hour boundary, so a day is exactly the sum of its hours.
    SELECT h.meter_id, (h.hour_start AT TIME ZONE s.tz)::date AS day,
           sum(h.volume_l)::bigint AS volume_l,
           first(h.start_index_l, h.hour_start) AS start_index_l,
           last(h.end_index_l, h.hour_start) AS end_index_l,
           sum(h.reading_count)::int AS reading_count,
           bool_or(h.has_estimate) AS has_estimate,
           first(h.start_interpolated, h.hour_start) AS start_interpolated,
           last(h.end_interpolated, h.hour_start) AS end_interpolated,
           bool_or(h.negative_step) AS negative_step
    FROM span s
    JOIN meter_hourly h
      ON h.meter_id = s.meter_id AND h.hour_start >= (s.from_day::timestamp AT TIME ZONE s.tz)
    GROUP BY h.meter_id, (h.hour_start AT TIME ZONE s.tz)::date
),
written AS (
    INSERT INTO meter_daily AS md (
        meter_id, day, volume_l, start_index_l, end_index_l, reading_count, has_estimate,
        start_interpolated, end_interpolated, negative_step, updated_at)
    SELECT meter_id, day, volume_l, start_index_l, end_index_l, reading_count, has_estimate,
           start_interpolated, end_interpolated, negative_step, now()
    FROM daily
    ON CONFLICT (meter_id, day) DO UPDATE SET
        volume_l = EXCLUDED.volume_l, start_index_l = EXCLUDED.start_index_l,
        end_index_l = EXCLUDED.end_index_l, reading_count = EXCLUDED.reading_count,
        has_estimate = EXCLUDED.has_estimate, start_interpolated = EXCLUDED.start_interpolated,
        end_interpolated = EXCLUDED.end_interpolated, negative_step = EXCLUDED.negative_step,
        updated_at = EXCLUDED.updated_at
    WHERE (md.volume_l, md.start_index_l, md.end_index_l, md.reading_count, md.has_estimate,
           md.start_interpolated, md.end_interpolated, md.negative_step)
          IS DISTINCT FROM
          (EXCLUDED.volume_l, EXCLUDED.start_index_l, EXCLUDED.end_index_l,
           EXCLUDED.reading_count, EXCLUDED.has_estimate, EXCLUDED.start_interpolated,
           EXCLUDED.end_interpolated, EXCLUDED.negative_step)
    RETURNING 1
),
removed AS (
    DELETE FROM meter_daily md USING span s
    WHERE md.meter_id = s.meter_id AND md.day >= s.from_day
      AND NOT EXISTS (SELECT 1 FROM daily d WHERE d.meter_id = md.meter_id AND d.day = md.day)
    RETURNING 1
)
SELECT (SELECT count(*) FROM written), (SELECT count(*) FROM removed)
"""


@dataclass(frozen=True)
class WriteCounts:
    written: int
    removed: int


class RollupRepository:
    """The refresh's SQL, on one psycopg connection inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def claim(self, *, limit: int, default_country: str, work_mem: str) -> int:
        """Take up to ``limit`` meters off the queue (skipping those another refresher holds)
        into this transaction's ``rollup_plan``; returns how many known meters were claimed."""
        # The planner cannot size generate_series per segment and overestimates the refresh a
        # thousandfold, which triggers JIT compilation costing more than the query itself.
        self.conn.execute("SET LOCAL jit = off")
        self.conn.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
        self.conn.execute("DROP TABLE IF EXISTS pg_temp.rollup_plan")
        self.conn.execute(_CLAIM_AND_PLAN, {"limit": limit, "default_country": default_country})
        self.conn.execute("ANALYZE rollup_plan")
        row = self.conn.execute(_CLAIMED_COUNT).fetchone()
        return int(row[0]) if row else 0

    def refresh_hourly(self) -> WriteCounts:
        return self._counts(_REFRESH_HOURLY)

    def refresh_daily(self) -> WriteCounts:
        return self._counts(_REFRESH_DAILY)

    def _counts(self, query: str) -> WriteCounts:
        row = self.conn.execute(query).fetchone()
        assert row is not None
        return WriteCounts(written=int(row[0]), removed=int(row[1]))


# A meter is silent when nothing arrived for twice its reporting interval, or never.
_SILENT = (
    "(s.last_received_at IS NULL OR s.last_received_at < CAST(:now AS timestamptz)"
    " - 2 * m.reporting_interval_s * interval '1 second')"
)
_BUCKET_COLUMNS = (
    "volume_l, start_index_l, end_index_l, reading_count, start_interpolated,"
    " end_interpolated, has_estimate, negative_step"
)


class TelemetryRepository:
    """Reads for the telemetry API and the fleet gauges, on the request's session.

    Fleet-wide figures come from ``meter_state``, ``rollup_pending`` and ``quarantine``; only
    the recent-rate count touches ``reading``, and only its newest chunk.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def meter_timezone(self, *, meter_id: int, default_country: str) -> str | None:
        """The meter's local time zone, or None when there is no such meter."""
        row = await self.session.execute(
            text(
                f"SELECT {_METER_TZ} FROM meter m {_meter_tz_joins(':default_country')}"
                " WHERE m.id = :meter_id"
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
    ) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            text(
                "SELECT time, source::text AS source, index_l, flow_lph, battery_pct, signal_dbm,"
                " alarms, received_at FROM reading"
                " WHERE meter_id = :meter_id"
                " AND (CAST(:start AS timestamptz) IS NULL OR time >= :start)"
                " AND (CAST(:end AS timestamptz) IS NULL OR time < :end)"
                " AND (CAST(:source AS text) IS NULL OR source::text = :source)"
                " ORDER BY time DESC, reading.source LIMIT :limit"
            ),
            {"meter_id": meter_id, "start": start, "end": end, "source": source, "limit": limit},
        )
        return [dict(row) for row in rows.mappings()]

    async def hourly(
        self, *, meter_id: int, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            text(
                f"SELECT hour_start AS start, {_BUCKET_COLUMNS} FROM meter_hourly"
                " WHERE meter_id = :meter_id AND hour_start >= :start AND hour_start < :end"
                " ORDER BY hour_start"
            ),
            {"meter_id": meter_id, "start": start, "end": end},
        )
        return [dict(row) for row in rows.mappings()]

    async def daily(
        self, *, meter_id: int, timezone: str, start: datetime, end: datetime
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
                " ORDER BY day"
            ),
            {"meter_id": meter_id, "tz": timezone, "start": start, "end": end},
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
                f"   WHERE m.removed_at IS NULL AND NOT ({_SILENT})) AS meters_reporting,"
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
                f" readings_total, {_SILENT} AS silent"
                " FROM meter m LEFT JOIN meter_state s ON s.meter_id = m.id"
                " WHERE m.removed_at IS NULL"
                f" ORDER BY {_SILENT} DESC, s.last_received_at ASC NULLS FIRST, m.id"
                " LIMIT :limit OFFSET :offset"
            ),
            {"now": now, "limit": limit, "offset": offset},
        )
        return int(total or 0), [dict(row) for row in rows.mappings()]


@dataclass(frozen=True)
class MeterContext:
    meter_id: int
    reporting_interval_s: int
    occupied: bool
    occupants: int | None
    dwelling_type: str | None
    timezone: str


@dataclass(frozen=True)
class HourEnds:
    """One meter's register index at hour ends (hours since the epoch, ascending), each as
    big-endian int8s packed in bytes (``numpy.frombuffer(..., ">i8")``)."""

    meter_id: int
    hour_end: bytes
    index_l: bytes


@dataclass(frozen=True)
class ReadingRow:
    meter_id: int
    time: datetime
    index_l: int
    flow_lph: float | None
    alarms: int


@dataclass(frozen=True)
class DailyVolume:
    meter_id: int
    day: date
    volume_l: int
    occupants: int | None


@dataclass(frozen=True)
class ReportingState:
    meter_id: int
    last_received_at: datetime
    reporting_interval_s: int


@dataclass(frozen=True)
class FindingRow:
    """A detection attached to its meter, as written to the incident table."""

    meter_id: int
    kind: str
    severity: str
    started_at: datetime
    ended_at: datetime | None
    last_seen_at: datetime
    evidence: dict[str, Any]
    from_window_start: bool = False


@dataclass(frozen=True)
class Scope:
    """Meters and kinds a scan evaluated: their live incidents without a finding are over."""

    meter_ids: Sequence[int]
    kinds: Sequence[str]


@dataclass(frozen=True)
class UpsertCounts:
    opened: int
    updated: int
    resolved: int


@dataclass(frozen=True)
class IncidentRow:
    id: int
    meter_id: int
    kind: str
    severity: str
    status: str
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    evidence: dict[str, Any]
    updated_at: datetime


_ACTIVE = [s.value for s in ACTIVE_STATUSES]


class AnalyticsRepository:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def lock_scan(self, name: str) -> None:
        """Serialise scans until the transaction ends: two at once would race to open the same
        incident (the unique index would then fail one of them)."""
        self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('analytics_scan:' || %s))", (name,)
        )

    def tune(self, *, work_mem: str) -> None:
        """Session settings for this transaction's big reads: the hourly read groups millions
        of (meter, hour) pairs, which spill to disk under the default 4 MB; and the planner's
        cost estimates would trigger JIT compilation that costs more than the query."""
        self.conn.execute("SET LOCAL jit = off")
        self.conn.execute("SELECT set_config('work_mem', %s, true)", [work_mem])

    def touched_meters(self, since: datetime) -> list[int]:
        """Meters with data received, or daily rollups rewritten, after ``since``."""
        rows = self.conn.execute(
            "SELECT meter_id FROM meter_state WHERE last_received_at > %(since)s"
            " UNION SELECT meter_id FROM meter_daily WHERE updated_at > %(since)s"
            " ORDER BY 1",
            {"since": since},
        ).fetchall()
        return [row[0] for row in rows]

    def active_meters(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT id FROM meter WHERE removed_at IS NULL ORDER BY id"
        ).fetchall()
        return [row[0] for row in rows]

    def meter_contexts(self, meter_ids: Sequence[int]) -> list[MeterContext]:
        """Each meter's reporting interval, dwelling and local time zone (zone, else country)."""
        with self.conn.cursor(row_factory=class_row(MeterContext)) as cur:
            return cur.execute(
                """
                SELECT m.id AS meter_id, m.reporting_interval_s,
                       coalesce(d.occupancy = 'occupied', false) AS occupied, d.occupants,
                       d.dwelling_type::text AS dwelling_type,
                       coalesce(z.timezone, c.timezone, 'UTC') AS timezone
                FROM meter m
                LEFT JOIN dwelling d ON d.id = m.dwelling_id
                LEFT JOIN building b ON b.id = d.building_id
                LEFT JOIN zone z ON z.id = b.zone_id
                LEFT JOIN country c ON c.code = z.country_code
                WHERE m.id = ANY(%(ids)s)
                ORDER BY m.id
                """,
                {"ids": list(meter_ids)},
            ).fetchall()

    def hour_end_indexes(
        self, meter_ids: Sequence[int], *, since: datetime, until: datetime
    ) -> list[HourEnds]:
        """Each meter's register index at the end of each UTC hour in ``[since, until)`` that
        has an actual reading (the last one at or before the hour's end, inside the hour).

        Estimates are left out: detectors judge what meters measured. No time zone work and no
        grid here (the caller lays the hours on each zone's calendar once for all its meters):
        this is the scan's biggest read, a thousand hours per meter.
        """
        with self.conn.cursor(row_factory=class_row(HourEnds), binary=True) as cur:
            return cur.execute(
                """
                WITH ends AS (
                    -- A reading at exactly 10:00 closes the 09:00 hour, hence the microsecond.
                    SELECT meter_id,
                           extract(epoch FROM time_bucket(
                               '1 hour', time - interval '1 microsecond'))::bigint / 3600 + 1
                               AS hour_end,
                           last(index_l, time) AS index_l
                    FROM reading
                    WHERE meter_id = ANY(%(ids)s)
                      AND time > %(since)s - interval '1 hour' AND time <= %(until)s
                      AND source <> 'estimated'
                    GROUP BY 1, 2
                )
                -- Big-endian int8s packed in a bytea: numpy reads them in one call, where an
                -- int8[] would become a thousand Python ints per meter.
                SELECT meter_id,
                       string_agg(int8send(hour_end), ''::bytea ORDER BY hour_end) AS hour_end,
                       string_agg(int8send(index_l), ''::bytea ORDER BY hour_end) AS index_l
                FROM ends
                GROUP BY meter_id
                ORDER BY meter_id
                """,
                {"ids": list(meter_ids), "since": since, "until": until},
            ).fetchall()

    def readings(
        self, meter_ids: Sequence[int], *, since: datetime, until: datetime
    ) -> list[ReadingRow]:
        """Actual readings in ``[since, until)`` of the meters with something for the reading
        detectors to judge there (an alarm bit, negative flow, a step back); the latest source
        wins where several share a time. Most meters have none: their rows stay in the
        database instead of becoming Python objects."""
        with self.conn.cursor(row_factory=class_row(ReadingRow)) as cur:
            return cur.execute(
                """
                WITH w AS (
                    SELECT DISTINCT ON (meter_id, time) meter_id, time, index_l, flow_lph, alarms
                    FROM reading
                    WHERE meter_id = ANY(%(ids)s) AND time >= %(since)s AND time < %(until)s
                      AND source <> 'estimated'
                    ORDER BY meter_id, time, received_at DESC
                ), flagged AS (
                    SELECT DISTINCT meter_id FROM (
                        SELECT meter_id, alarms, flow_lph,
                               index_l < lag(index_l) OVER (PARTITION BY meter_id ORDER BY time)
                                   AS back
                        FROM w
                    ) x
                    WHERE alarms <> 0 OR flow_lph < 0 OR back
                )
                SELECT w.* FROM w JOIN flagged USING (meter_id) ORDER BY meter_id, time
                """,
                {"ids": list(meter_ids), "since": since, "until": until},
            ).fetchall()

    def daily_volumes(
        self, meter_ids: Sequence[int], *, since: date, until: date
    ) -> list[DailyVolume]:
        """Daily rollups in ``[since, until)`` with the dwelling's occupants."""
        with self.conn.cursor(row_factory=class_row(DailyVolume)) as cur:
            return cur.execute(
                """
                SELECT md.meter_id, md.day, md.volume_l, d.occupants
                FROM meter_daily md
                JOIN meter m ON m.id = md.meter_id
                LEFT JOIN dwelling d ON d.id = m.dwelling_id
                WHERE md.meter_id = ANY(%(ids)s) AND md.day >= %(since)s AND md.day < %(until)s
                ORDER BY md.meter_id, md.day
                """,
                {"ids": list(meter_ids), "since": since, "until": until},
            ).fetchall()

    def peer_daily_volumes(
        self, dwelling_type: str, *, since: date, until: date, max_meters: int
    ) -> list[DailyVolume]:
        """Daily rollups of up to ``max_meters`` occupied dwellings of one type.

        The sample is a fixed hash order, not random(): re-running a scan must see the same peers
        so that it finds the same anomalies (idempotence).
        """
        with self.conn.cursor(row_factory=class_row(DailyVolume)) as cur:
            return cur.execute(
                """
                WITH peers AS (
                    SELECT m.id, d.occupants
                    FROM meter m JOIN dwelling d ON d.id = m.dwelling_id
                    WHERE d.dwelling_type = %(type)s AND d.occupancy = 'occupied'
                      AND m.removed_at IS NULL
                    ORDER BY md5(m.id::text)
                    LIMIT %(max)s
                )
                SELECT md.meter_id, md.day, md.volume_l, peers.occupants
                FROM meter_daily md JOIN peers ON peers.id = md.meter_id
                WHERE md.day >= %(since)s AND md.day < %(until)s
                ORDER BY md.meter_id, md.day
                """,
                {"type": dwelling_type, "since": since, "until": until, "max": max_meters},
            ).fetchall()

    def reporting_states(self, meter_ids: Sequence[int] | None) -> list[ReportingState]:
        """The time of each active connected meter's newest reading (its installation if none).

        The reading's own time, not its arrival: a backlog delivered late after a week offline
        still leaves a week without data, and a scan judging an earlier instant (``now``) must
        not see data stamped after it as a sign of life. Mechanical and electronic meters are
        read by hand on rounds: never "silent"."""
        with self.conn.cursor(row_factory=class_row(ReportingState)) as cur:
            return cur.execute(
                """
                SELECT m.id AS meter_id,
                       coalesce(s.last_time, m.installed_at) AS last_received_at,
                       m.reporting_interval_s
                FROM meter m LEFT JOIN meter_state s ON s.meter_id = m.id
                WHERE m.removed_at IS NULL AND m.kind = 'iot'
                  AND (%(ids)s::int[] IS NULL OR m.id = ANY(%(ids)s::int[]))
                ORDER BY m.id
                """,
                {"ids": None if meter_ids is None else list(meter_ids)},
            ).fetchall()

    def watermark(self, name: str) -> datetime | None:
        row = self.conn.execute(
            "SELECT watermark FROM analytics_scan WHERE name = %s", (name,)
        ).fetchone()
        return None if row is None else row[0]

    def set_watermark(self, name: str, watermark: datetime) -> None:
        self.conn.execute(
            "INSERT INTO analytics_scan (name, watermark) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET watermark = excluded.watermark,"
            " finished_at = now()",
            (name, watermark),
        )

    def apply_findings(
        self, findings: Iterable[FindingRow], scopes: Sequence[Scope], *, now: datetime
    ) -> UpsertCounts:
        """Open, update and resolve incidents from a scan's findings, set-based and idempotent.

        A finding continues an incident of the same meter and kind when their time spans
        overlap (a live incident spans up to its last sighting), or when it was already there at
        the window's start and the incident is live (the window moved on since the last scan):
        re-scanning updates that incident instead of opening another. Live incidents in
        ``scopes`` that no finding continues are resolved. Rows change only when something did,
        so a re-run leaves ``updated_at`` alone.
        """
        cur = self.conn.cursor()
        cur.execute("DROP TABLE IF EXISTS pg_temp.scan_finding")
        cur.execute(
            """
            CREATE TEMP TABLE scan_finding (
                n serial, meter_id int, kind text, severity incident_severity,
                started_at timestamptz, ended_at timestamptz, last_seen_at timestamptz,
                evidence jsonb, from_window_start boolean, incident_id bigint)
            """
        )
        with cur.copy(
            "COPY scan_finding (meter_id, kind, severity, started_at, ended_at, last_seen_at,"
            " evidence, from_window_start) FROM STDIN"
        ) as copy:
            for f in findings:
                copy.write_row(
                    (
                        f.meter_id,
                        f.kind,
                        f.severity,
                        f.started_at,
                        f.ended_at,
                        f.last_seen_at,
                        orjson.dumps(f.evidence).decode(),
                        f.from_window_start,
                    )
                )
        cur.execute(
            """
            UPDATE scan_finding f SET incident_id = (
                SELECT i.id FROM incident i
                WHERE i.meter_id = f.meter_id AND i.kind = f.kind
                  AND ((i.started_at <= coalesce(f.ended_at, f.last_seen_at)
                        AND f.started_at <= coalesce(i.ended_at, i.last_seen_at))
                       OR (f.from_window_start AND i.status::text = ANY(%(active)s)))
                ORDER BY i.started_at DESC LIMIT 1)
            """,
            {"active": _ACTIVE},
        )
        params = {"active": _ACTIVE, "resolved": IncidentStatus.RESOLVED.value, "now": now}
        cur.execute(
            """
            WITH latest AS (
                SELECT DISTINCT ON (incident_id) *
                FROM scan_finding WHERE incident_id IS NOT NULL
                ORDER BY incident_id, started_at DESC
            ), target AS (
                SELECT f.incident_id, f.severity, f.evidence,
                       -- A resolved or closed incident keeps its end: no flapping back to live.
                       coalesce(f.ended_at, CASE WHEN i.status::text = ANY(%(active)s)
                                                 THEN NULL ELSE i.ended_at END) AS ended_at,
                       greatest(i.last_seen_at, f.last_seen_at) AS last_seen_at,
                       CASE WHEN f.ended_at IS NOT NULL AND i.status::text = ANY(%(active)s)
                            THEN %(resolved)s::incident_status ELSE i.status END AS status
                FROM latest f JOIN incident i ON i.id = f.incident_id
            )
            UPDATE incident i
            SET severity = t.severity, evidence = t.evidence, ended_at = t.ended_at,
                last_seen_at = t.last_seen_at, status = t.status, updated_at = %(now)s
            FROM target t
            WHERE i.id = t.incident_id
              AND (i.severity, i.evidence, i.ended_at, i.last_seen_at, i.status)
                  IS DISTINCT FROM (t.severity, t.evidence, t.ended_at, t.last_seen_at, t.status)
            """,
            params,
        )
        updated = cur.rowcount
        resolved = 0
        for scope in scopes:
            cur.execute(
                """
                UPDATE incident i
                SET status = %(resolved)s, ended_at = %(now)s, updated_at = %(now)s
                WHERE i.meter_id = ANY(%(ids)s) AND i.kind = ANY(%(kinds)s)
                  AND i.status::text = ANY(%(active)s)
                  AND NOT EXISTS (SELECT 1 FROM scan_finding f WHERE f.incident_id = i.id)
                """,
                {**params, "ids": list(scope.meter_ids), "kinds": list(scope.kinds)},
            )
            resolved += cur.rowcount
        cur.execute(
            """
            INSERT INTO incident (meter_id, kind, severity, status, started_at, last_seen_at,
                                  ended_at, evidence, opened_at, updated_at)
            SELECT meter_id, kind, severity,
                   CASE WHEN ended_at IS NULL THEN 'open' ELSE %(resolved)s END::incident_status,
                   started_at, last_seen_at, ended_at, evidence, %(now)s, %(now)s
            FROM scan_finding WHERE incident_id IS NULL
            ORDER BY meter_id, kind, started_at
            """,
            params,
        )
        opened = cur.rowcount
        cur.execute("DROP TABLE scan_finding")
        return UpsertCounts(opened=opened, updated=updated, resolved=resolved)

    def incidents(
        self, meter_ids: Sequence[int] | None = None, *, active_only: bool = False
    ) -> list[IncidentRow]:
        with self.conn.cursor(row_factory=class_row(IncidentRow)) as cur:
            return cur.execute(
                """
                SELECT id, meter_id, kind, severity::text, status::text, started_at, last_seen_at,
                       ended_at, evidence, updated_at
                FROM incident
                WHERE (%(ids)s::int[] IS NULL OR meter_id = ANY(%(ids)s::int[]))
                  AND (NOT %(active_only)s OR status::text = ANY(%(active)s))
                ORDER BY meter_id, kind, started_at
                """,
                {
                    "ids": None if meter_ids is None else list(meter_ids),
                    "active_only": active_only,
                    "active": _ACTIVE,
                },
            ).fetchall()

    def claim_unnotified(
        self, *, severities: Sequence[str], opened_before: datetime, limit: int
    ) -> list[IncidentRow]:
        """Live incidents nobody was told about yet, opened before ``opened_before``, marked
        notified in the same statement so that two alert jobs never send the same SMS."""
        with self.conn.cursor(row_factory=class_row(IncidentRow)) as cur:
            return cur.execute(
                """
                WITH due AS (
                    SELECT id FROM incident
                    WHERE notified_at IS NULL AND status::text = ANY(%(active)s)
                      AND severity::text = ANY(%(severities)s) AND opened_at <= %(before)s
                    ORDER BY opened_at
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE incident i SET notified_at = now()
                FROM due WHERE i.id = due.id
                RETURNING i.id, i.meter_id, i.kind, i.severity::text, i.status::text,
                          i.started_at, i.last_seen_at, i.ended_at, i.evidence, i.updated_at
                """,
                {
                    "active": _ACTIVE,
                    "severities": list(severities),
                    "before": opened_before,
                    "limit": limit,
                },
            ).fetchall()

    def live_evidence(self, meter_ids: Sequence[int], kind: str) -> dict[int, dict[str, Any]]:
        """Evidence of the live incident of ``kind`` per meter (what was known at opening)."""
        rows = self.conn.execute(
            "SELECT meter_id, evidence FROM incident WHERE meter_id = ANY(%(ids)s)"
            " AND kind = %(kind)s AND status::text = ANY(%(active)s)",
            {"ids": list(meter_ids), "kind": kind, "active": _ACTIVE},
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def meters_on_hold(self, meter_ids: Sequence[int]) -> list[int]:
        """Meters whose register must not be billed: a live tamper incident."""
        rows = self.conn.execute(
            "SELECT DISTINCT meter_id FROM incident WHERE meter_id = ANY(%(ids)s)"
            " AND kind = 'tamper' AND status::text = ANY(%(active)s) ORDER BY 1",
            {"ids": list(meter_ids), "active": _ACTIVE},
        ).fetchall()
        return [row[0] for row in rows]
