"""All SQL of the rollups: the set-based refresh of ``meter_hourly`` and ``meter_daily``.

The refresh never loops over meters or readings in Python: one statement claims a batch of the
queue and plans it, one rebuilds the hourly buckets of every claimed meter, one the daily ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg


def _local_hour(ts: str, tz: str) -> str:
    """SQL for the instant the local clock hour containing ``ts`` started.

    Subtracting the minutes and seconds past the local hour (rather than truncating the local
    time and converting it back) keeps the two 02:00 hours of a DST fall-back day distinct.
    """
    local = f"(({ts}) AT TIME ZONE {tz})"
    return f"(({ts}) - ({local} - date_trunc('hour', {local})))"


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
    -- Hours and days are cut in the meter's local time zone (the one rule: ``meter_timezone``).
    SELECT c.meter_id, c.since, m.installed_at, m.removed_at, m.initial_index_l,
           power(10::numeric, m.register_digits)::bigint AS modulus,
           tz.timezone AS tz
    FROM claimed c
    JOIN meter m ON m.id = c.meter_id
    JOIN meter_timezone(%(default_country)s) tz ON tz.meter_id = m.id
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

    def oldest_pending(self) -> datetime | None:
        """The earliest reading time the queue has not rolled up yet (rows a refresher holds
        count too: they wait behind its lock)."""
        row = self.conn.execute("SELECT min(since) FROM rollup_pending").fetchone()
        return None if row is None else row[0]

    def oldest_queued_at(self) -> datetime | None:
        """When the longest-waiting meter was queued: every reading received before it is in
        the rollups (or in a refresh committing now)."""
        row = self.conn.execute("SELECT min(queued_at) FROM rollup_pending").fetchone()
        return None if row is None else row[0]

    def drop_reading_chunks(self, older_than: datetime) -> list[str]:
        """``drop_chunks`` of raw readings: whole chunks that end before ``older_than``, through
        the owner's function (migration 0023): the runtime role does not own ``reading``."""
        rows = self.conn.execute("SELECT drop_reading_chunks(%s)", [older_than]).fetchall()
        return [str(row[0]) for row in rows]
