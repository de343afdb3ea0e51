"""The days each meter's dwelling was away, set-based in SQL over declared absences and the
daily rollups, a batch of meters per query (psycopg, inside the scan's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import class_row

# Inferred vacancy is gaps-and-islands over meter_daily: a day is low when it uses less than
# the larger of the absent-day floor and a fraction of the meter's busy day (the 90th percentile
# of its present days: a median would sink to the vacancy's own level once the dwelling has been
# empty for half the window); consecutive low days (day minus row_number constant) of at least
# ``min_days`` are a vacancy. A missing rollup breaks the run: a gap is not known to be low.
_AWAY = """
WITH days AS (
    SELECT meter_id, day, volume_l FROM meter_daily
    WHERE meter_id = ANY(%(ids)s) AND day >= %(since)s AND day < %(until)s
), busy AS (
    SELECT meter_id,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY volume_l)
               FILTER (WHERE volume_l >= %(absent_l)s) AS busy_l
    FROM days GROUP BY meter_id
), low AS (
    SELECT d.meter_id, d.day,
           d.day - (row_number() OVER (PARTITION BY d.meter_id ORDER BY d.day))::int AS island
    FROM days d LEFT JOIN busy b USING (meter_id)
    WHERE d.volume_l < greatest(%(absent_l)s, %(step)s * coalesce(b.busy_l, 0))
), vacant AS (
    SELECT meter_id, day FROM (
        SELECT meter_id, day, count(*) OVER (PARTITION BY meter_id, island) AS run FROM low
    ) r
    WHERE run >= %(min_days)s
), declared AS (
    SELECT m.id AS meter_id, g::date AS day
    FROM meter m
    JOIN dwelling_absence a ON a.dwelling_id = m.dwelling_id AND a.cancelled_at IS NULL
    CROSS JOIN generate_series(greatest(a.from_date, %(since)s),
                               least(a.to_date, %(until)s - 1), interval '1 day') g
    WHERE m.id = ANY(%(ids)s) AND a.to_date >= %(since)s AND a.from_date < %(until)s
)
SELECT meter_id, day, bool_or(declared) AS declared
FROM (SELECT meter_id, day, true AS declared FROM declared
      UNION ALL SELECT meter_id, day, false FROM vacant) x
GROUP BY meter_id, day
ORDER BY meter_id, day
"""


@dataclass(frozen=True)
class AwayDay:
    """A local day the meter's dwelling was away: ``declared`` by its people, else inferred."""

    meter_id: int
    day: date
    declared: bool


class OccupancyRepository:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def away_days(
        self,
        meter_ids: Sequence[int],
        *,
        since: date,
        until: date,
        absent_day_l: float,
        step_ratio: float,
        min_days: int,
    ) -> list[AwayDay]:
        """Days in ``[since, until)`` inside a live declared absence or an inferred vacancy."""
        with self.conn.cursor(row_factory=class_row(AwayDay)) as cur:
            return cur.execute(
                _AWAY,
                {
                    "ids": list(meter_ids),
                    "since": since,
                    "until": until,
                    "absent_l": absent_day_l,
                    "step": step_ratio,
                    "min_days": min_days,
                },
            ).fetchall()
