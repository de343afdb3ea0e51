"""All of the field work's SQL, on the request's session (the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest.field.decisions import KnownReading
from ingest.field.models import FaultStatus, IdempotencyKey, ManualReading, MeterFault

# Derived estimates are not evidence against what a technician saw.
_EVIDENCE = "source IN ('iot', 'manual')"

# Device incidents a visit can settle (analytics.incidents.models.IncidentKind); consumption
# anomalies (leak, burst, abnormal) are the customer's business, not the meter's.
ROUND_INCIDENT_KINDS = ("stuck", "silent", "tamper", "dry", "low_battery")

_ROUND = f"""
WITH candidate AS (
    SELECT m.id, m.serial, m.kind::text AS kind, m.unit::text AS unit, m.register_digits,
           d.id AS dwelling_id, d.reference AS dwelling_reference,
           b.id AS building_id, b.name AS building_name, b.address AS building_address,
           tz.timezone, s.last_received_at
    FROM meter m
    JOIN meter_timezone(:default_country) tz ON tz.meter_id = m.id
    LEFT JOIN dwelling d ON d.id = m.dwelling_id
    LEFT JOIN building b ON b.id = d.building_id
    LEFT JOIN meter_state s ON s.meter_id = m.id
    WHERE m.removed_at IS NULL AND m.installed_at <= now()
      AND (CAST(:all_meters AS boolean) OR m.id IN (SELECT unnest(CAST(:meter_ids AS int[]))))
),
judged AS (
    SELECT cnd.*,
           date_trunc('day', now() AT TIME ZONE cnd.timezone) AT TIME ZONE cnd.timezone
               AS today_start,
           last.time AS last_reading_at, last.index_l AS last_index_l,
           last.source::text AS last_source,
           (SELECT count(*) FROM meter_fault f
             WHERE f.meter_id = cnd.id AND f.status = 'open') AS open_faults,
           (SELECT coalesce(array_agg(i.kind ORDER BY i.kind), '{{}}') FROM incident i
             WHERE i.meter_id = cnd.id AND i.status IN ('open', 'acknowledged')
               AND i.kind IN {ROUND_INCIDENT_KINDS!r}) AS incidents
    FROM candidate cnd
    LEFT JOIN LATERAL (
        SELECT r.time, r.index_l, r.source FROM reading r
        WHERE r.meter_id = cnd.id AND r.{_EVIDENCE}
        ORDER BY r.time DESC LIMIT 1
    ) last ON true
),
flagged AS (
    SELECT j.*,
           EXISTS (SELECT 1 FROM reading r WHERE r.meter_id = j.id AND r.source = 'manual'
                    AND r.time >= j.today_start) AS read_today,
           (SELECT max(r.time) FROM reading r WHERE r.meter_id = j.id AND r.{_EVIDENCE}
             AND r.time < j.today_start) AS read_before_today,
           EXISTS (SELECT 1 FROM meter_fault f WHERE f.meter_id = j.id
                    AND f.reported_at >= j.today_start) AS fault_reported_today
    FROM judged j
)
SELECT * FROM (
    SELECT f.*,
           (f.open_faults > 0 OR cardinality(f.incidents) > 0) AS needs_fault_visit,
           (f.kind = 'iot' AND (f.last_received_at IS NULL
               OR f.last_received_at < now() - make_interval(hours => :silent_hours)))
               AS is_silent,
           (f.kind <> 'iot' AND (f.read_before_today IS NULL
               OR f.read_before_today < f.today_start - make_interval(days => :due_days)))
               AS is_due
    FROM flagged f
) x
WHERE needs_fault_visit OR is_silent OR is_due OR read_today OR fault_reported_today
ORDER BY NOT (needs_fault_visit OR is_silent), building_name NULLS LAST, dwelling_reference,
         serial
LIMIT :limit
"""


@dataclass(frozen=True)
class RoundRow:
    id: int
    serial: str
    kind: str
    unit: str
    register_digits: int
    dwelling_id: int | None
    dwelling_reference: str | None
    building_id: int | None
    building_name: str | None
    building_address: str | None
    timezone: str
    last_reading_at: datetime | None
    last_index_l: int | None
    last_source: str | None
    last_received_at: datetime | None
    open_faults: int
    incidents: list[str]
    read_today: bool
    fault_reported_today: bool
    needs_fault_visit: bool
    is_silent: bool
    is_due: bool


class FieldRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_key(
        self, *, key: str, user_id: int, endpoint: str, request_hash: str
    ) -> IdempotencyKey | None:
        """Take ``key`` for this request; None when it is already taken. A concurrent request
        with the same key waits here until the first one commits, then sees it taken."""
        claimed = await self.session.scalar(
            insert(IdempotencyKey)
            .values(
                key=key,
                user_id=user_id,
                endpoint=endpoint,
                request_hash=request_hash,
                status_code=0,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(IdempotencyKey.key)
        )
        if claimed is not None:
            return None
        return await self.session.get(IdempotencyKey, key)

    async def settle_key(self, *, key: str, status_code: int, response: dict[str, Any]) -> None:
        await self.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(status_code=status_code, response=response)
        )

    async def _one(self, query: str, params: dict[str, Any]) -> KnownReading | None:
        row = (await self.session.execute(text(query), params)).first()
        return None if row is None else KnownReading(row.time, row.index_l, row.source)

    async def same_time_manual(self, *, meter_id: int, time: datetime) -> KnownReading | None:
        return await self._one(
            "SELECT time, index_l, source::text AS source FROM reading"
            " WHERE meter_id = :m AND time = :t AND source = 'manual'",
            {"m": meter_id, "t": time},
        )

    async def previous(self, *, meter_id: int, time: datetime) -> KnownReading | None:
        return await self._one(
            "SELECT time, index_l, source::text AS source FROM reading"
            f" WHERE meter_id = :m AND time < :t AND {_EVIDENCE} ORDER BY time DESC LIMIT 1",
            {"m": meter_id, "t": time},
        )

    async def following(self, *, meter_id: int, time: datetime) -> KnownReading | None:
        return await self._one(
            "SELECT time, index_l, source::text AS source FROM reading"
            f" WHERE meter_id = :m AND time > :t AND {_EVIDENCE} ORDER BY time LIMIT 1",
            {"m": meter_id, "t": time},
        )

    async def nearest_meter_reading(
        self, *, meter_id: int, time: datetime, window_s: int
    ) -> KnownReading | None:
        return await self._one(
            "SELECT time, index_l, source::text AS source FROM reading"
            " WHERE meter_id = :m AND source = 'iot'"
            " AND time BETWEEN CAST(:t AS timestamptz) - make_interval(secs => :w)"
            " AND CAST(:t AS timestamptz) + make_interval(secs => :w)"
            " ORDER BY abs(extract(epoch FROM time - CAST(:t AS timestamptz))) LIMIT 1",
            {"m": meter_id, "t": time, "w": window_s},
        )

    async def insert_manual_reading(
        self,
        *,
        meter_id: int,
        time: datetime,
        index_l: int,
        read_by: int,
        note: str,
        photo_id: int | None,
        outcome: str,
    ) -> None:
        """The reading row, its field details, and the rollup queue entry, together."""
        params = {"m": meter_id, "t": time, "i": index_l}
        await self.session.execute(
            text(
                "INSERT INTO reading (meter_id, time, source, index_l)"
                " VALUES (:m, :t, 'manual', :i)"
            ),
            params,
        )
        # A hand-read meter has no other data: its volumes come from these rows.
        await self.session.execute(
            text(
                "INSERT INTO rollup_pending AS p (meter_id, since, queued_at)"
                " VALUES (:m, :t, now()) ON CONFLICT (meter_id) DO UPDATE SET"
                " since = least(p.since, excluded.since), queued_at = excluded.queued_at"
            ),
            params,
        )
        self.session.add(
            ManualReading(
                meter_id=meter_id,
                time=time,
                read_by=read_by,
                note=note,
                photo_id=photo_id,
                outcome=outcome,
            )
        )
        await self.session.flush()

    async def round_rows(
        self,
        *,
        meter_ids: Sequence[int] | None,
        default_country: str,
        silent_hours: int,
        due_days: int,
        limit: int,
    ) -> list[RoundRow]:
        rows = await self.session.execute(
            text(_ROUND),
            {
                "all_meters": meter_ids is None,
                "meter_ids": list(meter_ids or []),
                "default_country": default_country,
                "silent_hours": silent_hours,
                "due_days": due_days,
                "limit": limit,
            },
        )
        return [RoundRow(**{k: getattr(r, k) for k in RoundRow.__dataclass_fields__}) for r in rows]

    async def open_faults(self, meter_ids: Sequence[int]) -> list[MeterFault]:
        if not meter_ids:
            return []
        statement = (
            select(MeterFault)
            .where(MeterFault.meter_id.in_(meter_ids), MeterFault.status == FaultStatus.OPEN)
            .order_by(MeterFault.reported_at.desc())
        )
        return list(await self.session.scalars(statement))
