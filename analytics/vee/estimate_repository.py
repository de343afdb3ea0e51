"""All SQL of the estimation (VEE's second E), on the tables ``VeeRepository.stage`` built.

Two statements replace superseded estimates and fill gaps, one extends the estimates of silent
meters. Each change of the ``reading`` table is recorded in ``audit_log`` by the same
statement's data, and the rollups of the meters it touched are queued.
"""

from __future__ import annotations

from typing import Any

import psycopg

from analytics.vee.repository import SYSTEM_ACTOR

# Estimates an actual reading supersedes: those between it and the actual reading before it,
# and those after the newest actual reading (extrapolated from an older one).
_SUPERSEDED = """
CREATE TEMP TABLE vee_superseded ON COMMIT DROP AS
WITH removed AS (
    DELETE FROM reading r
    USING vee_step s
    WHERE r.meter_id = s.meter_id AND r.source = 'estimated'
      AND r.time > s.prev_time AND (r.time <= s.time OR s.newest)
      -- Only estimates made before this reading arrived: re-judging it keeps the current ones.
      AND r.received_at < s.received_at
    RETURNING r.meter_id, r.time
)
SELECT meter_id, min(time) AS first_time, max(time) AS last_time, count(*) AS readings
FROM removed GROUP BY meter_id
"""

# Estimated readings on the meter's reporting grid inside each new gap. Short gaps: linear.
# Long gaps: the gap's volume shared out in proportion to the meter's mean volume in each local
# hour of the day (its own profile), or linearly where it has none.
_FILL_GAPS = """
CREATE TEMP TABLE vee_estimate ON COMMIT DROP AS
WITH gap AS (
    SELECT s.meter_id, s.prev_time, s.time, s.prev_index, s.used_l, s.modulus, s.tz,
           s.reporting_interval_s, s.elapsed_s > %(short_gap_s)s AS long_gap
    FROM vee_step s
    WHERE s.kind = 'iot' AND s.used_l IS NOT NULL
      AND s.elapsed_s > %(gap_intervals)s * s.reporting_interval_s
),
profile AS (
    SELECT h.meter_id, extract(hour FROM h.hour_start AT TIME ZONE g.tz)::int AS hour,
           avg(h.volume_l)::float8 AS mean_l
    FROM (SELECT DISTINCT meter_id, tz FROM gap WHERE long_gap) g
    JOIN meter_hourly h ON h.meter_id = g.meter_id
    WHERE h.hour_start >= %(usual_from_ts)s AND NOT h.has_estimate AND h.reading_count > 0
    GROUP BY 1, 2
),
slot AS (
    -- Estimates at each reporting instant strictly inside the gap, then the closing reading;
    -- each ends a segment that starts at the point before it.
    SELECT g.*, t.at, coalesce(lag(t.at) OVER w, g.prev_time) AS seg_start
    FROM gap g CROSS JOIN LATERAL (
        SELECT x FROM generate_series(
            g.prev_time + g.reporting_interval_s * interval '1 second',
            g.time - interval '1 microsecond',
            g.reporting_interval_s * interval '1 second') AS x
        UNION ALL SELECT g.time
    ) AS t(at)
    WINDOW w AS (PARTITION BY g.meter_id, g.prev_time ORDER BY t.at)
),
weighted AS (
    SELECT s.*, extract(epoch FROM s.at - s.seg_start)::float8 AS seconds,
           extract(epoch FROM s.at - s.seg_start)::float8
               * CASE WHEN s.long_gap THEN coalesce(p.mean_l, 0) ELSE 1 END AS weight
    FROM slot s
    LEFT JOIN profile p ON p.meter_id = s.meter_id
         AND p.hour = extract(hour FROM (s.seg_start AT TIME ZONE s.tz))::int
),
shared AS (
    SELECT w.*,
           sum(w.weight) OVER g AS total_weight,
           sum(w.weight) OVER (g ORDER BY w.at) AS cum_weight,
           sum(w.seconds) OVER g AS total_s,
           sum(w.seconds) OVER (g ORDER BY w.at) AS cum_s
    FROM weighted w
    WINDOW g AS (PARTITION BY w.meter_id, w.prev_time)
)
SELECT meter_id, at,
       mod(prev_index + round(used_l * CASE WHEN total_weight > 0 THEN cum_weight / total_weight
                                           ELSE cum_s / total_s END)::bigint, modulus) AS index_l,
       CASE WHEN long_gap AND total_weight > 0 THEN 'profile' ELSE 'linear' END AS method,
       prev_time
FROM shared
WHERE at < time
"""

# Silent meters: estimates from the last actual reading on, every reporting interval up to now
# (at most ``max_estimate_days``), at the meter's mean volume for each local hour of the day.
_EXTEND_SILENT = """
INSERT INTO vee_estimate (meter_id, at, index_l, method, prev_time)
WITH silent AS (
    SELECT s.meter_id, s.last_time, s.last_index_l, m.reporting_interval_s, m.tz, m.modulus
    FROM meter_state s JOIN vee_meter m USING (meter_id)
    WHERE m.kind = 'iot'
      AND s.last_time < %(now)s - greatest(%(gap_intervals)s * m.reporting_interval_s,
                                           %(short_gap_s)s) * interval '1 second'
),
profile AS (
    SELECT h.meter_id, extract(hour FROM h.hour_start AT TIME ZONE s.tz)::int AS hour,
           avg(h.volume_l)::float8 AS mean_l
    FROM silent s JOIN meter_hourly h ON h.meter_id = s.meter_id
    WHERE h.hour_start >= s.last_time - %(usual_span)s AND h.hour_start < s.last_time
      AND NOT h.has_estimate AND h.reading_count > 0
    GROUP BY 1, 2
),
slot AS (
    SELECT s.*, t.at, coalesce(p.mean_l, 0) * s.reporting_interval_s / 3600.0 AS step_l
    FROM silent s CROSS JOIN LATERAL generate_series(
        s.last_time + s.reporting_interval_s * interval '1 second',
        least(%(now)s, s.last_time + %(max_span)s), s.reporting_interval_s * interval '1 second'
    ) AS t(at)
    LEFT JOIN profile p ON p.meter_id = s.meter_id
         AND p.hour = extract(hour FROM ((t.at - s.reporting_interval_s * interval '1 second')
                                         AT TIME ZONE s.tz))::int
)
SELECT meter_id, at,
       mod(last_index_l + round(sum(step_l) OVER (PARTITION BY meter_id ORDER BY at))::bigint,
           modulus),
       'silent', last_time
FROM slot
"""

_WRITE_ESTIMATES = """
WITH written AS (
    INSERT INTO reading (meter_id, time, source, index_l, alarms, received_at)
    SELECT meter_id, at, 'estimated', index_l, 0, now() FROM vee_estimate
    ON CONFLICT (meter_id, time, source) DO NOTHING
    RETURNING meter_id, time
),
per_meter AS (
    SELECT meter_id, min(time) AS first_time, max(time) AS last_time, count(*) AS readings
    FROM written GROUP BY meter_id
),
audited AS (
    INSERT INTO audit_log (action, target_type, target_id, detail)
    SELECT 'vee.estimated', 'meter', p.meter_id::text,
           jsonb_build_object('by', %(actor)s::text, 'readings', p.readings,
                              'from', p.first_time, 'to', p.last_time,
                              'method', (SELECT min(e.method) FROM vee_estimate e
                                         WHERE e.meter_id = p.meter_id),
                              'why', 'gap in the actual readings')
    FROM per_meter p
    RETURNING 1
),
queued AS (
    INSERT INTO rollup_pending AS q (meter_id, since, queued_at)
    SELECT meter_id, first_time, now() FROM per_meter
    ON CONFLICT (meter_id) DO UPDATE SET
        since = least(q.since, excluded.since), queued_at = excluded.queued_at
    RETURNING 1
)
SELECT (SELECT coalesce(sum(readings), 0) FROM per_meter), (SELECT count(*) FROM audited),
       (SELECT count(*) FROM queued)
"""

_AUDIT_SUPERSEDED = """
WITH audited AS (
    INSERT INTO audit_log (action, target_type, target_id, detail)
    SELECT 'vee.estimates_replaced', 'meter', meter_id::text,
           jsonb_build_object('by', %(actor)s::text, 'readings', readings, 'from', first_time,
                              'to', last_time, 'why', 'an actual reading arrived')
    FROM vee_superseded
    RETURNING 1
)
INSERT INTO rollup_pending AS q (meter_id, since, queued_at)
SELECT meter_id, first_time, now() FROM vee_superseded
ON CONFLICT (meter_id) DO UPDATE SET
    since = least(q.since, excluded.since), queued_at = excluded.queued_at
"""


class EstimateRepository:
    """The estimation's SQL on the run's psycopg connection, inside its transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def replace_superseded(self) -> int:
        """Delete the estimates the judged readings supersede, audited; returns how many."""
        self.conn.execute(_SUPERSEDED)
        self.conn.execute(_AUDIT_SUPERSEDED, {"actor": SYSTEM_ACTOR})
        row = self.conn.execute("SELECT coalesce(sum(readings), 0) FROM vee_superseded").fetchone()
        return int(row[0]) if row else 0

    def estimate(self, params: dict[str, Any]) -> tuple[int, int]:
        """Estimate the new gaps and extend silent meters; returns (readings, meters)."""
        self.conn.execute(_FILL_GAPS, params)
        self.conn.execute(_EXTEND_SILENT, params)
        row = self.conn.execute(_WRITE_ESTIMATES, {**params, "actor": SYSTEM_ACTOR}).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)
