"""All SQL of the incident table, on both of its stacks.

``IncidentRepository`` (async session) serves the API: pages of incidents with where they are,
one incident under a row lock. Reach is a condition on ``Incident`` handed in by the caller
(``accounts.scope.meter_held_over``: the meter held while the incident went on), or None for every
incident, so that this package never imports the API.

``IncidentBatchRepository`` (psycopg connection) serves the jobs: the scan's findings applied
set-based (COPY into a temporary table, then a handful of statements, never a query per
incident). Which tamper incidents hold billing is the view ``tamper_hold`` (billing close reads
it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import class_row
from sqlalchemy import ColumnElement, Select, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from accounts.models import User
from analytics.incidents.models import ACTIVE_STATUSES, Incident, IncidentStatus
from registry.models import Building, Dwelling, Meter


@dataclass(frozen=True)
class IncidentFilter:
    meter_id: int | None = None
    building_id: int | None = None
    kind: str | None = None
    live: bool | None = None  # True: open/acknowledged; False: resolved/closed
    status: str | None = None
    severity: str | None = None
    zone_id: int | None = None
    since: datetime | None = None  # overlapping [since, until)
    until: datetime | None = None


@dataclass(frozen=True)
class LocatedIncident:
    """An incident with its meter's serial, dwelling and building."""

    incident: Incident
    serial: str
    dwelling_id: int | None
    building_id: int | None
    zone_id: int | None = None


_Located = Select[Incident, str, int | None, int, int]


class IncidentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _located(self, reach: ColumnElement[bool] | None) -> _Located:
        statement = (
            select(
                Incident, Meter.serial, Meter.dwelling_id, Dwelling.building_id, Building.zone_id
            )
            .join(Meter, Meter.id == Incident.meter_id)
            .outerjoin(Dwelling, Dwelling.id == Meter.dwelling_id)
            .outerjoin(Building, Building.id == Dwelling.building_id)
        )
        if reach is not None:
            statement = statement.where(reach)
        return statement

    async def page(
        self,
        filters: IncidentFilter,
        *,
        reach: ColumnElement[bool] | None,
        limit: int,
        offset: int,
    ) -> tuple[int, list[LocatedIncident]]:
        """Newest first; the total counts every match, not just the page."""
        statement = self._located(reach)
        if filters.meter_id is not None:
            statement = statement.where(Incident.meter_id == filters.meter_id)
        if filters.building_id is not None:
            statement = statement.where(Dwelling.building_id == filters.building_id)
        if filters.zone_id is not None:
            statement = statement.where(Building.zone_id == filters.zone_id)
        if filters.kind is not None:
            statement = statement.where(Incident.kind == filters.kind)
        if filters.status is not None:
            statement = statement.where(Incident.status == filters.status)
        if filters.severity is not None:
            statement = statement.where(Incident.severity == filters.severity)
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

    async def staff(self, roles: Sequence[str]) -> list[tuple[int, str, str, str]]:
        """(id, first name, last name, role) of the active users with one of ``roles``."""
        rows = await self.session.execute(
            select(User.id, User.first_name, User.last_name, User.role)
            .where(User.is_active, User.role.in_(roles))
            .order_by(User.first_name, User.last_name, User.id)
        )
        return [(row[0], row[1], row[2], str(row[3])) for row in rows]

    async def get(
        self, incident_id: int, *, reach: ColumnElement[bool] | None, for_update: bool = False
    ) -> LocatedIncident | None:
        statement = self._located(reach).where(Incident.id == incident_id)
        if for_update:
            # Lock the incident only: a scan updating it waits, and so does a second click.
            statement = statement.with_for_update(of=Incident)
        row = (await self.session.execute(statement)).first()
        return None if row is None else LocatedIncident(*row)


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


class IncidentBatchRepository:
    """The jobs' incident SQL on one psycopg connection, inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

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
        """Incidents of these meters (all when None), by meter, kind and start."""
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

    def live_evidence(self, meter_ids: Sequence[int], kind: str) -> dict[int, dict[str, Any]]:
        """Evidence of the live incident of ``kind`` per meter (what was known at opening)."""
        rows = self.conn.execute(
            "SELECT meter_id, evidence FROM incident WHERE meter_id = ANY(%(ids)s)"
            " AND kind = %(kind)s AND status::text = ANY(%(active)s)",
            {"ids": list(meter_ids), "kind": kind, "active": _ACTIVE},
        ).fetchall()
        return {row[0]: row[1] for row in rows}
