"""All SQL of validation and editing (VEE's V and E), set-based over the meters of a run.

One statement stages the readings a run judges (each with the previous actual reading of its
meter, found by the primary key even when it lies before the window), one writes the flags; a
person's review of a flag is audited with the values before and after. The estimates are
written by ``analytics.vee.estimate_repository`` from the same staged tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from wire.alarms import Alarm

# Who the audit log names for the run's own changes.
SYSTEM_ACTOR = "vee"
# The run's row in ``analytics_scan`` (its watermark) and its advisory lock.
VEE_SCAN = "vee"

# Each meter's context: register modulus, occupancy, local time zone (``meter_timezone``), and
# its usual day (mean of recent daily rollups without estimates).
_METERS = """
CREATE TEMP TABLE vee_meter ON COMMIT DROP AS
SELECT m.id AS meter_id, m.reporting_interval_s, m.kind::text AS kind,
       power(10::numeric, m.register_digits)::bigint AS modulus,
       coalesce(d.occupancy = 'occupied', false) AS occupied,
       tz.timezone AS tz,
       (SELECT avg(md.volume_l)::float8 FROM meter_daily md
        WHERE md.meter_id = m.id AND md.day >= %(usual_from)s AND NOT md.has_estimate) AS usual_l
FROM meter m
JOIN meter_timezone(%(default_country)s) tz ON tz.meter_id = m.id
LEFT JOIN dwelling d ON d.id = m.dwelling_id
WHERE m.id = ANY(%(ids)s) AND m.removed_at IS NULL
"""

# Actual readings (iot, manual) in the window, plus the last one before it per meter; each with
# its predecessor and the volume between them (a wrap counts as the wrapped volume, any other
# step back as NULL). Only steps whose reading arrived after ``received_after`` are judged.
_STEPS = """
CREATE TEMP TABLE vee_step ON COMMIT DROP AS
WITH point AS (
    SELECT r.meter_id, r.time, r.source, r.index_l, r.flow_lph, r.alarms, r.received_at
    FROM reading r JOIN vee_meter m USING (meter_id)
    WHERE r.time >= %(from)s AND r.time <= %(now)s AND r.source <> 'estimated'
    UNION ALL
    SELECT m.meter_id, a.time, a.source, a.index_l, a.flow_lph, a.alarms, a.received_at
    FROM vee_meter m CROSS JOIN LATERAL (
        SELECT r.time, r.source, r.index_l, r.flow_lph, r.alarms, r.received_at FROM reading r
        WHERE r.meter_id = m.meter_id AND r.time < %(from)s AND r.source <> 'estimated'
        ORDER BY r.time DESC LIMIT 1
    ) a
),
step AS (
    SELECT p.*, lag(p.time) OVER w AS prev_time, lag(p.index_l) OVER w AS prev_index,
           lead(p.time) OVER w IS NULL AS newest
    FROM point p
    WINDOW w AS (PARTITION BY p.meter_id ORDER BY p.time, p.source)
)
SELECT s.*, m.modulus, m.reporting_interval_s, m.kind, m.usual_l, m.tz,
       CASE WHEN s.index_l >= s.prev_index THEN s.index_l - s.prev_index
            WHEN s.index_l - s.prev_index + m.modulus < m.modulus / 2
                THEN s.index_l - s.prev_index + m.modulus
       END AS used_l,
       extract(epoch FROM s.time - s.prev_time)::float8 AS elapsed_s
FROM step s JOIN vee_meter m USING (meter_id)
WHERE s.prev_time IS NOT NULL AND s.received_at > %(received_after)s
"""

_FLAGS = f"""
INSERT INTO reading_flag (meter_id, at, rule, source, status, raw_index_l, validated_index_l,
                          used_l, detail)
SELECT meter_id, time, 'rollover', source, 'accepted', index_l, index_l, used_l,
       jsonb_build_object('previous_index_l', prev_index, 'register_modulus', modulus)
FROM vee_step WHERE index_l < prev_index AND used_l IS NOT NULL
UNION ALL
-- A step back the meter explains (reverse flow alarm or negative flow) is physical: accepted
-- as backflow; otherwise a misread or a swapped register until someone looks.
SELECT meter_id, time, 'negative_step', source,
       CASE WHEN alarms & {int(Alarm.BACKFLOW)} <> 0 OR flow_lph < 0 THEN 'accepted'
            ELSE 'suspect' END,
       index_l, index_l, index_l - prev_index,
       jsonb_build_object('previous_index_l', prev_index, 'reverse_l', prev_index - index_l,
                          'backflow_alarm', alarms & {int(Alarm.BACKFLOW)} <> 0)
FROM vee_step WHERE index_l < prev_index AND used_l IS NULL
UNION ALL
SELECT meter_id, time, 'spike', source, 'suspect', index_l, index_l, used_l,
       jsonb_build_object('usual_daily_l', round(usual_l), 'elapsed_h', round(elapsed_s / 3600),
                          'ratio', round((used_l / (usual_l * ceil(elapsed_s / 86400)))::numeric,
                                         1))
FROM vee_step
WHERE usual_l > 0 AND used_l >= %(spike_min_l)s
  AND used_l > %(spike_ratio)s * usual_l * greatest(ceil(elapsed_s / 86400), 1)
UNION ALL
SELECT meter_id, time, 'gap', source, 'estimated', index_l, index_l, used_l,
       jsonb_build_object('previous_reading_at', prev_time, 'gap_s', round(elapsed_s),
                          'reporting_interval_s', reporting_interval_s,
                          'method', CASE WHEN elapsed_s <= %(short_gap_s)s THEN 'linear'
                                         ELSE 'profile' END)
FROM vee_step
WHERE kind = 'iot' AND elapsed_s > %(gap_intervals)s * reporting_interval_s
ON CONFLICT (meter_id, at, rule) DO NOTHING
"""

# Runs of zero days in occupied dwellings that used to consume: each day of a run of at least
# ``zero_days`` is flagged at its local midnight.
_ZERO_DAYS = """
WITH day AS (
    SELECT md.meter_id, md.day, md.volume_l = 0 AS zero, m.tz, m.usual_l
    FROM meter_daily md JOIN vee_meter m USING (meter_id)
    WHERE m.occupied AND m.usual_l >= %(min_usual_l)s AND md.day >= %(first_day)s
),
island AS (
    SELECT d.*, d.day - (row_number() OVER (PARTITION BY d.meter_id, d.zero ORDER BY d.day))::int
                AS island
    FROM day d
),
run AS (
    SELECT i.*, count(*) OVER (PARTITION BY i.meter_id, i.island) AS days
    FROM island i WHERE i.zero
)
INSERT INTO reading_flag (meter_id, at, rule, status, used_l, detail)
SELECT meter_id, day::timestamp AT TIME ZONE tz, 'zero_occupied', 'suspect', 0,
       jsonb_build_object('day', day, 'zero_days', days, 'usual_daily_l', round(usual_l))
FROM run WHERE days >= %(zero_days)s
ON CONFLICT (meter_id, at, rule) DO NOTHING
"""


@dataclass(frozen=True)
class FlagRow:
    meter_id: int
    at: datetime
    rule: str
    source: str | None
    status: str
    raw_index_l: int | None
    validated_index_l: int | None
    used_l: int | None
    detail: dict[str, Any]


class VeeRepository:
    """The VEE's SQL on one psycopg connection, inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def lock(self) -> None:
        """Serialise runs until the transaction ends (the scan's lock, under the VEE's name)."""
        self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('analytics_scan:' || %s))", (VEE_SCAN,)
        )

    def watermark(self) -> datetime | None:
        row = self.conn.execute(
            "SELECT watermark FROM analytics_scan WHERE name = %s", (VEE_SCAN,)
        ).fetchone()
        return None if row is None else row[0]

    def set_watermark(self, watermark: datetime) -> None:
        self.conn.execute(
            "INSERT INTO analytics_scan (name, watermark) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET watermark = excluded.watermark,"
            " finished_at = now()",
            (VEE_SCAN, watermark),
        )

    def touched_meters(self, received_after: datetime | None) -> list[int]:
        """Meters with data received after the instant (every active meter when None)."""
        if received_after is None:
            query = "SELECT id FROM meter WHERE removed_at IS NULL ORDER BY id"
            return [row[0] for row in self.conn.execute(query).fetchall()]
        rows = self.conn.execute(
            "SELECT meter_id FROM meter_state WHERE last_received_at > %s ORDER BY 1",
            (received_after,),
        ).fetchall()
        return [row[0] for row in rows]

    def received_until(self) -> datetime | None:
        """When the newest data arrived (the next run judges what arrives after)."""
        row = self.conn.execute("SELECT max(last_received_at) FROM meter_state").fetchone()
        return None if row is None else row[0]

    def silent_meters(self, *, before: datetime) -> list[int]:
        """Connected meters whose newest actual reading is older than ``before``."""
        rows = self.conn.execute(
            "SELECT s.meter_id FROM meter_state s JOIN meter m ON m.id = s.meter_id"
            " WHERE m.kind = 'iot' AND m.removed_at IS NULL AND s.last_time < %s ORDER BY 1",
            (before,),
        ).fetchall()
        return [row[0] for row in rows]

    def stage(
        self,
        meter_ids: Sequence[int],
        *,
        window_from: datetime,
        now: datetime,
        received_after: datetime,
        usual_from: datetime,
        default_country: str,
    ) -> int:
        """Stage the meters and the steps to judge; returns the number of steps."""
        self.conn.execute("SET LOCAL jit = off")
        for table in ("vee_meter", "vee_step", "vee_superseded", "vee_estimate"):
            self.conn.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
        self.conn.execute(
            _METERS,
            {
                "ids": list(meter_ids),
                "usual_from": usual_from.date(),
                "default_country": default_country,
            },
        )
        self.conn.execute(
            _STEPS, {"from": window_from, "now": now, "received_after": received_after}
        )
        self.conn.execute("ANALYZE vee_step")
        row = self.conn.execute("SELECT count(*) FROM vee_step").fetchone()
        return int(row[0]) if row else 0

    def write_flags(self, params: dict[str, Any]) -> int:
        return self.conn.execute(_FLAGS, params).rowcount

    def flag_zero_days(self, params: dict[str, Any]) -> int:
        return self.conn.execute(_ZERO_DAYS, params).rowcount

    def flags(self, meter_ids: Sequence[int], *, rule: str | None = None) -> list[FlagRow]:
        with self.conn.cursor(row_factory=class_row(FlagRow)) as cur:
            return cur.execute(
                "SELECT meter_id, at, rule, source::text AS source, status, raw_index_l,"
                " validated_index_l, used_l, detail FROM reading_flag"
                " WHERE meter_id = ANY(%(ids)s) AND (%(rule)s::text IS NULL OR rule = %(rule)s)"
                " ORDER BY meter_id, at, rule",
                {"ids": list(meter_ids), "rule": rule},
            ).fetchall()

    def review(
        self,
        *,
        meter_id: int,
        at: datetime,
        rule: str,
        status: str,
        validated_index_l: int | None,
        actor_id: int | None,
        reason: str,
    ) -> bool:
        """Set a flag's status and validated index; the before and after go to the audit log."""
        key = {"meter": meter_id, "at": at, "rule": rule}
        old = self.conn.execute(
            "SELECT status, validated_index_l FROM reading_flag"
            " WHERE meter_id = %(meter)s AND at = %(at)s AND rule = %(rule)s FOR UPDATE",
            key,
        ).fetchone()
        if old is None:
            return False
        self.conn.execute(
            "UPDATE reading_flag SET status = %(status)s, validated_index_l = %(validated)s,"
            " reviewed_by = %(actor)s, reviewed_at = now()"
            " WHERE meter_id = %(meter)s AND at = %(at)s AND rule = %(rule)s",
            {**key, "status": status, "validated": validated_index_l, "actor": actor_id},
        )
        detail = {
            "at": at.isoformat(),
            "rule": rule,
            "before": {"status": old[0], "validated_index_l": old[1]},
            "after": {"status": status, "validated_index_l": validated_index_l},
            "why": reason,
        }
        self.conn.execute(
            "INSERT INTO audit_log (action, actor_id, target_type, target_id, detail)"
            " VALUES ('vee.edited', %s, 'meter', %s, %s)",
            (actor_id, str(meter_id), Jsonb(detail)),
        )
        return True
