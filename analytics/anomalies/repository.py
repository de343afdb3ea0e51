"""All SQL of the anomaly scan's reads, on one psycopg connection inside the scan's transaction.

Telemetry and rollups come back as typed rows (``class_row``), a batch of meters per query; the
incidents the scan finds are written by ``analytics.incidents.repository.IncidentBatchRepository``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import class_row


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
class Silence:
    """A closed gap between two actual readings of a meter."""

    meter_id: int
    last_time: datetime
    next_time: datetime
    reporting_interval_s: int


@dataclass(frozen=True)
class Partition:
    """The meters whose id hashes to ``partition`` modulo ``partitions``."""

    partition: int
    partitions: int

    @property
    def label(self) -> str:
        return f"{self.partition}/{self.partitions}"

    @property
    def params(self) -> dict[str, int]:
        return {"partition": self.partition, "partitions": self.partitions}


# The whole fleet as one partition (the CLI's scan, tests).
WHOLE = Partition(0, 1)
# hashint4 spreads consecutive ids; the mask keeps the modulo non-negative.
_IN_PARTITION = "(hashint4({id}) & 2147483647) %% %(partitions)s = %(partition)s"


@dataclass(frozen=True)
class ReportingState:
    meter_id: int
    last_heard_at: datetime
    reporting_interval_s: int


class ScanRepository:
    """The scan's reads, its serialising lock and its watermark; also the daily volumes the
    forecast reads."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def lock_partition(self, partition: Partition) -> None:
        """Serialise a partition's transactions until this one ends: two at once would race to
        open the same incident (the unique index would then fail one of them). Partitions hold
        disjoint meters and never wait on each other."""
        self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"analytics_scan:{partition.label}",)
        )

    def tune(self, *, work_mem: str) -> None:
        """Session settings for this transaction's big reads: the hourly read groups millions
        of (meter, hour) pairs, which spill to disk under the default 4 MB; and the planner's
        cost estimates would trigger JIT compilation that costs more than the query."""
        self.conn.execute("SET LOCAL jit = off")
        self.conn.execute("SELECT set_config('work_mem', %s, true)", [work_mem])

    def touched_meters(self, since: datetime, partition: Partition = WHOLE) -> list[int]:
        """The partition's meters with data received, or daily rollups rewritten, after
        ``since``."""
        rows = self.conn.execute(
            "SELECT meter_id FROM ("
            " SELECT meter_id FROM meter_state WHERE last_received_at > %(since)s"
            " UNION SELECT meter_id FROM meter_daily WHERE updated_at > %(since)s) t"
            f" WHERE {_IN_PARTITION.format(id='meter_id')} ORDER BY 1",
            {"since": since, **partition.params},
        ).fetchall()
        return [row[0] for row in rows]

    def active_meters(self, partition: Partition = WHOLE) -> list[int]:
        rows = self.conn.execute(
            "SELECT id FROM meter WHERE removed_at IS NULL"
            f" AND {_IN_PARTITION.format(id='id')} ORDER BY id",
            partition.params,
        ).fetchall()
        return [row[0] for row in rows]

    def known_meters(self, meter_ids: Sequence[int]) -> list[int]:
        rows = self.conn.execute(
            "SELECT id FROM meter WHERE id = ANY(%(ids)s) ORDER BY id", {"ids": list(meter_ids)}
        ).fetchall()
        return [row[0] for row in rows]

    def meter_contexts(
        self, meter_ids: Sequence[int], *, default_country: str
    ) -> list[MeterContext]:
        """Each meter's reporting interval, dwelling and local time zone (``meter_timezone``)."""
        with self.conn.cursor(row_factory=class_row(MeterContext)) as cur:
            return cur.execute(
                """
                SELECT m.id AS meter_id, m.reporting_interval_s,
                       coalesce(d.occupancy = 'occupied', false) AS occupied, d.occupants,
                       d.dwelling_type::text AS dwelling_type, tz.timezone
                FROM meter m
                JOIN meter_timezone(%(default_country)s) tz ON tz.meter_id = m.id
                LEFT JOIN dwelling d ON d.id = m.dwelling_id
                WHERE m.id = ANY(%(ids)s)
                ORDER BY m.id
                """,
                {"ids": list(meter_ids), "default_country": default_country},
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

    def reporting_states(
        self, meter_ids: Sequence[int] | None, *, now: datetime, partition: Partition = WHOLE
    ) -> list[ReportingState]:
        """Each active connected meter's last sign of life as of ``now`` (of the partition, or
        exactly ``meter_ids``).

        Its newest reading's own time, or its newest arrival when later: a meter delivering
        data now (a backlog, a fleet replaying history) is talking, and the gap in its data is
        the VEE's to estimate. A scan judging a past instant (replay, backfill) sees neither
        readings nor arrivals after it: then the newest reading up to ``now`` counts. A meter
        never heard from counts from its installation or its registration, whichever is later:
        a fleet just registered is not silent before it could report. Mechanical and
        electronic meters are read by hand on rounds: never "silent"."""
        with self.conn.cursor(row_factory=class_row(ReportingState)) as cur:
            return cur.execute(
                f"""
                SELECT m.id AS meter_id,
                       CASE
                           WHEN s.last_time <= %(now)s AND s.last_received_at <= %(now)s
                               THEN greatest(s.last_time, s.last_received_at)
                           ELSE coalesce(
                               (SELECT max(r.time) FROM reading r
                                WHERE r.meter_id = m.id AND r.time <= %(now)s
                                  AND r.source <> 'estimated'),
                               greatest(m.installed_at, m.created_at))
                       END AS last_heard_at,
                       m.reporting_interval_s
                FROM meter m LEFT JOIN meter_state s ON s.meter_id = m.id
                WHERE m.removed_at IS NULL AND m.kind = 'iot'
                  AND (%(ids)s::int[] IS NULL OR m.id = ANY(%(ids)s::int[]))
                  AND (%(ids)s::int[] IS NOT NULL OR {_IN_PARTITION.format(id="m.id")})
                ORDER BY m.id
                """,
                {
                    "ids": None if meter_ids is None else list(meter_ids),
                    "now": now,
                    **partition.params,
                },
            ).fetchall()

    def silences(
        self, meter_ids: Sequence[int], *, since: datetime, until: datetime, min_gap_s: int
    ) -> list[Silence]:
        """Gaps over ``min_gap_s`` between consecutive actual readings of connected meters that
        closed in ``(since, until]``, however long ago they opened (the reading before
        ``since`` is looked up): a silence that began and ended between two scans."""
        with self.conn.cursor(row_factory=class_row(Silence)) as cur:
            return cur.execute(
                """
                WITH ids AS (
                    SELECT m.id AS meter_id, m.reporting_interval_s FROM meter m
                    WHERE m.id = ANY(%(ids)s) AND m.kind = 'iot'
                ), w AS (
                    SELECT r.meter_id, r.time FROM reading r
                    WHERE r.meter_id IN (SELECT meter_id FROM ids)
                      AND r.time > %(since)s AND r.time <= %(until)s
                      AND r.source <> 'estimated'
                    UNION ALL
                    SELECT ids.meter_id, b.time FROM ids CROSS JOIN LATERAL (
                        SELECT r.time FROM reading r
                        WHERE r.meter_id = ids.meter_id AND r.time <= %(since)s
                          AND r.source <> 'estimated'
                        ORDER BY r.time DESC LIMIT 1) b
                ), g AS (
                    SELECT meter_id, lag(time) OVER (PARTITION BY meter_id ORDER BY time)
                               AS last_time,
                           time AS next_time
                    FROM w
                )
                SELECT g.meter_id, g.last_time, g.next_time, ids.reporting_interval_s
                FROM g JOIN ids USING (meter_id)
                WHERE g.next_time - g.last_time > make_interval(secs => %(min_gap_s)s)
                ORDER BY 1, 2
                """,
                {"ids": list(meter_ids), "since": since, "until": until, "min_gap_s": min_gap_s},
            ).fetchall()

    def watermarks(self, partition: Partition) -> dict[str, datetime]:
        """Per detector, how far in event time it has judged the partition's meters. A
        partition not scanned yet under this partitioning (the count changed) starts from
        the oldest watermark of the detector under any other: nothing is skipped."""
        rows = self.conn.execute(
            """
            SELECT * FROM (SELECT detector,
                   coalesce(max(watermark) FILTER (
                                WHERE partitions = %(partitions)s AND partition = %(partition)s),
                            min(watermark) FILTER (WHERE partitions <> %(partitions)s))
                       AS watermark
            FROM analytics_watermark GROUP BY detector) w
            WHERE watermark IS NOT NULL
            """,
            partition.params,
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def set_watermarks(self, partition: Partition, watermarks: dict[str, datetime]) -> None:
        """Move the partition's watermarks forward (never back: a replay of the past leaves
        them where a later scan put them)."""
        self.conn.cursor().executemany(
            """
            INSERT INTO analytics_watermark (detector, partitions, partition, watermark)
            VALUES (%(detector)s, %(partitions)s, %(partition)s, %(watermark)s)
            ON CONFLICT (detector, partitions, partition) DO UPDATE
            SET watermark = greatest(analytics_watermark.watermark, excluded.watermark),
                updated_at = now()
            """,
            [
                {"detector": detector, "watermark": watermark, **partition.params}
                for detector, watermark in watermarks.items()
            ],
        )
