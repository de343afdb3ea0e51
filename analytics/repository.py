"""All analytics SQL: reads of telemetry and rollups, incident upserts, the scan watermark.

Reads come back as typed rows (``class_row``); writes are set-based (COPY into a temporary table,
then a handful of statements), never a query per incident.

Hourly volumes are derived from ``reading`` here (index differences at hour ends); when the
rollups package's ``meter_hourly`` lands, :meth:`AnalyticsRepository.hourly_volumes` is the one
query to point at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import class_row

from analytics.models import ACTIVE_STATUSES, IncidentStatus


@dataclass(frozen=True)
class MeterContext:
    meter_id: int
    reporting_interval_s: int
    occupied: bool
    occupants: int | None
    dwelling_type: str | None
    timezone: str


@dataclass(frozen=True)
class HourlyWindow:
    """One meter's consecutive hours from ``first_hour``: volumes (None where unknown), local
    day (days since 1970-01-01) and local hour of each. Arrays, not a row per hour: a scan
    reads a thousand hours per meter and per-row objects would dominate its time."""

    meter_id: int
    first_hour: datetime
    volume_l: list[float | None]
    local_day: list[int]
    local_hour: list[int]


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

    def hourly_volumes(
        self, timezones: Mapping[int, str], *, since: datetime, until: datetime
    ) -> list[HourlyWindow]:
        """Each meter's UTC hours in ``[since, until)``, contiguous, with the local day and hour
        in the meter's time zone (``timezones``: meter id to IANA name).

        The volume of hour ``h`` is the last index at or before ``h+1`` minus the last index at or
        before ``h``; it is NULL where either end is missing (a gap is not zero use) or the
        register went back (backflow and wraps are the backflow detector's business).
        """
        with self.conn.cursor(row_factory=class_row(HourlyWindow)) as cur:
            return cur.execute(
                """
                WITH ctx AS (
                    SELECT * FROM unnest(%(ids)s::int[], %(tzs)s::text[]) AS ctx(meter_id, tz)
                ), ends AS (
                    -- A reading at exactly 10:00 closes the 09:00 hour, hence the microsecond.
                    SELECT meter_id,
                           time_bucket('1 hour', time - interval '1 microsecond')
                               + interval '1 hour' AS hour_end,
                           last(index_l, time) AS index_l
                    FROM reading
                    WHERE meter_id = ANY(%(ids)s)
                      AND time > %(since)s - interval '1 hour' AND time <= %(until)s
                    GROUP BY 1, 2
                ), vol AS (
                    SELECT meter_id, hour_end - interval '1 hour' AS hour_start,
                           CASE WHEN lag(hour_end) OVER w = hour_end - interval '1 hour'
                                 AND index_l >= lag(index_l) OVER w
                                THEN (index_l - lag(index_l) OVER w)::float8 END AS volume_l
                    FROM ends
                    WINDOW w AS (PARTITION BY meter_id ORDER BY hour_end)
                ), grid AS (
                    SELECT ctx.meter_id, ctx.tz, g.hour_start
                    FROM ctx, generate_series(
                        %(since)s::timestamptz, %(until)s::timestamptz - interval '1 hour',
                        interval '1 hour') AS g(hour_start)
                )
                SELECT grid.meter_id, min(grid.hour_start) AS first_hour,
                       array_agg(vol.volume_l ORDER BY grid.hour_start) AS volume_l,
                       array_agg((grid.hour_start AT TIME ZONE grid.tz)::date - date '1970-01-01'
                                 ORDER BY grid.hour_start) AS local_day,
                       array_agg(extract(hour FROM grid.hour_start AT TIME ZONE grid.tz)::int
                                 ORDER BY grid.hour_start) AS local_hour
                FROM grid
                LEFT JOIN vol USING (meter_id, hour_start)
                GROUP BY grid.meter_id
                ORDER BY grid.meter_id
                """,
                {
                    "ids": list(timezones),
                    "tzs": list(timezones.values()),
                    "since": since,
                    "until": until,
                },
            ).fetchall()

    def readings(
        self, meter_ids: Sequence[int], *, since: datetime, until: datetime
    ) -> list[ReadingRow]:
        """Raw readings in ``[since, until)``: the latest source wins where several share a time."""
        with self.conn.cursor(row_factory=class_row(ReadingRow)) as cur:
            return cur.execute(
                """
                SELECT DISTINCT ON (meter_id, time) meter_id, time, index_l, flow_lph, alarms
                FROM reading
                WHERE meter_id = ANY(%(ids)s) AND time >= %(since)s AND time < %(until)s
                ORDER BY meter_id, time, received_at DESC
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
        """When each active connected meter last delivered data (its installation if never).

        Mechanical and electronic meters are read by hand on rounds: never "silent"."""
        with self.conn.cursor(row_factory=class_row(ReportingState)) as cur:
            return cur.execute(
                """
                SELECT m.id AS meter_id,
                       coalesce(s.last_received_at, m.installed_at) AS last_received_at,
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
