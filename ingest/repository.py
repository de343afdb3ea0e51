"""All of the ingest's SQL, on one psycopg async connection whose transaction the caller owns.

Readings go through a per-connection temporary staging table: binary COPY in, then one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` whose RETURNING rows also feed ``meter_state``
and ``rollup_pending`` in the same statement, so the three stay consistent and set-based. The
same statement finds the conflicting duplicates (a stored or earlier time with another index) and
leaves their messages out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, AsyncCursor, errors, sql
from psycopg.rows import class_row

STAGE_TABLE = "ingest_stage"
STAGE_COLUMNS = (
    "meter_id", "time", "index_l", "flow_lph", "battery_pct", "signal_dbm", "alarms", "position"
)  # fmt: skip
STAGE_TYPES = ("int4", "timestamptz", "int8", "float8", "int2", "int2", "int2", "int4")
FRESH_TABLE = "ingest_fresh"
READING_COLUMNS = (
    "meter_id", "time", "source", "index_l", "flow_lph", "battery_pct", "signal_dbm", "alarms"
)  # fmt: skip
READING_TYPES = ("int4", "timestamptz", "text", "int8", "float8", "int2", "int2", "int2")

# Staged row: (meter_id, time, index_l, flow_lph, battery_pct, signal_dbm, alarms, position of
# its message in the batch).
StageRow = tuple[int, datetime, int, float | None, int | None, int | None, int, int]
# A staged reading left out with its message: (message position, time, its index, the index
# stored, or staged earlier, at that time).
Conflict = tuple[int, datetime, int, int]
# A row of the reading table: (meter_id, time, source, index_l, flow_lph, battery_pct,
# signal_dbm, alarms).
ReadingTableRow = tuple[int, datetime, str, int, float | None, int | None, int | None, int]
# Per meter, what a batch's fresh readings add: (meter_id, first time, last time, last index,
# readings).
FreshMeter = tuple[int, datetime, datetime, int, int]
# Quarantined message: (topic, payload, reason, detail, serial).
QuarantineRow = tuple[str, bytes, str, str, str | None]

_INSERT_READINGS = f"""
WITH conflicts AS (
    -- A staged reading whose (meter, time) is stored with another index, or staged earlier in
    -- the batch with another one when none is stored: its whole message stays out.
    SELECT DISTINCT ON (st.position)
        st.position, st.time, st.index_l, coalesce(r.index_l, e.index_l) AS other_index_l
    FROM {STAGE_TABLE} st
    LEFT JOIN reading r ON r.meter_id = st.meter_id AND r.time = st.time
    LEFT JOIN {STAGE_TABLE} e ON r.meter_id IS NULL
        AND e.meter_id = st.meter_id AND e.time = st.time
        AND e.position <= st.position AND e.index_l <> st.index_l
    WHERE r.index_l <> st.index_l OR e.meter_id IS NOT NULL
    ORDER BY st.position, st.time
),
inserted AS (
    INSERT INTO reading
        (meter_id, time, source, index_l, flow_lph, battery_pct, signal_dbm, alarms)
    SELECT meter_id, time, 'iot', index_l, flow_lph, battery_pct, signal_dbm, alarms
    FROM {STAGE_TABLE} st
    WHERE NOT EXISTS (SELECT FROM conflicts c WHERE c.position = st.position)
    ON CONFLICT DO NOTHING
    RETURNING meter_id, time, index_l
),
changes AS (
    SELECT meter_id, time AS first_time, time AS last_time, index_l AS last_index_l, 1 AS stored
    FROM inserted
    UNION ALL
    SELECT meter_id, first_time, last_time, last_index_l, stored FROM {FRESH_TABLE}
),
per_meter AS (
    SELECT DISTINCT ON (meter_id)
        meter_id, last_time, last_index_l,
        sum(stored) OVER w AS stored, min(first_time) OVER w AS first_time
    FROM changes
    WINDOW w AS (PARTITION BY meter_id)
    ORDER BY meter_id, last_time DESC
),
state AS (
    INSERT INTO meter_state AS s
        (meter_id, last_time, last_index_l, last_received_at, readings_total)
    SELECT meter_id, last_time, last_index_l, now(), stored FROM per_meter
    ON CONFLICT (meter_id) DO UPDATE SET
        -- A late reading counts and marks the meter as heard from, but never moves it back.
        last_time = greatest(s.last_time, excluded.last_time),
        last_index_l = CASE WHEN excluded.last_time > s.last_time
            THEN excluded.last_index_l ELSE s.last_index_l END,
        last_received_at = excluded.last_received_at,
        readings_total = s.readings_total + excluded.readings_total
),
pending AS (
    -- A meter already queued from an earlier time is left alone (no write): its queued_at
    -- keeps saying how long it has waited.
    INSERT INTO rollup_pending AS p (meter_id, since, queued_at)
    SELECT meter_id, first_time, now() FROM per_meter
    ON CONFLICT (meter_id) DO UPDATE SET since = excluded.since
    WHERE excluded.since < p.since
)
SELECT (SELECT count(*) FROM inserted), c.position, c.time, c.index_l, c.other_index_l
FROM (VALUES (1)) AS one LEFT JOIN conflicts c ON true
"""


@dataclass(frozen=True, slots=True)
class Written:
    """What ``write_readings`` did: readings staged, newly stored, and the conflicting ones."""

    staged: int
    stored: int
    conflicts: list[Conflict]


@dataclass(frozen=True, slots=True)
class MeterRef:
    id: int
    serial: str
    register_digits: int


# (meter id, register digits, installed at, removed at, latest reading's time and index), times
# as epoch seconds: None when the meter is in service, or has no reading yet.
MeterCheck = tuple[int, int, float, float | None, float | None, int | None]
# The stored readings around a probed time: before (epoch, index), after (epoch, index, alarms),
# Nones where there is none, and whether one is stored at that very time.
Neighbours = tuple[float | None, int | None, float | None, int | None, int | None, bool]


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    id: int
    received_at: datetime
    topic: str
    payload: bytes
    reason: str
    detail: str
    serial: str | None
    status: str
    resolved_at: datetime | None


class IngestRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn

    async def create_stage(self) -> None:
        """The connection's staging tables; emptied at every commit, so each batch starts clean."""
        await self.conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} ("
            "meter_id int4, time timestamptz, index_l int8, flow_lph float8,"
            " battery_pct int2, signal_dbm int2, alarms int2, position int4)"
            " ON COMMIT DELETE ROWS"
        )
        await self.conn.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {FRESH_TABLE} ("
            "meter_id int4, first_time timestamptz, last_time timestamptz, last_index_l int8,"
            " stored int8) ON COMMIT DELETE ROWS"
        )

    async def meters_by_serial(self, serials: Sequence[str]) -> list[MeterRef]:
        async with self.conn.cursor(row_factory=class_row(MeterRef)) as cur:
            await cur.execute(
                "SELECT id, serial, register_digits FROM meter WHERE serial = ANY(%s)",
                [list(serials)],
            )
            return await cur.fetchall()

    async def meter_checks(self, meter_ids: Sequence[int]) -> list[MeterCheck]:
        """What judging a batch needs of each meter: register, service dates, latest reading."""
        async with self.conn.cursor() as cur:
            await cur.execute(
                "SELECT m.id, m.register_digits, extract(epoch FROM m.installed_at)::float8,"
                " extract(epoch FROM m.removed_at)::float8,"
                " extract(epoch FROM s.last_time)::float8, s.last_index_l"
                " FROM meter m LEFT JOIN meter_state s ON s.meter_id = m.id"
                " WHERE m.id = ANY(%s::int4[])",
                [_array(map(str, meter_ids))],
            )
            return await cur.fetchall()

    async def neighbours(self, probes: Sequence[tuple[int, datetime]]) -> list[Neighbours]:
        """The stored readings just before, at, and just after each (meter, time), in order."""
        async with self.conn.cursor() as cur:
            await cur.execute(
                """
                SELECT extract(epoch FROM b.time)::float8, b.index_l,
                       extract(epoch FROM a.time)::float8, a.index_l, a.alarms,
                       EXISTS (
                           SELECT FROM reading r WHERE r.meter_id = p.meter_id AND r.time = t.time
                       )
                FROM unnest(%s::int4[], %s::timestamptz[])
                    WITH ORDINALITY AS p (meter_id, time, n)
                CROSS JOIN LATERAL (SELECT p.time) t
                LEFT JOIN LATERAL (
                    SELECT time, index_l FROM reading r
                    WHERE r.meter_id = p.meter_id AND r.time < t.time
                    ORDER BY r.time DESC LIMIT 1
                ) b ON true
                LEFT JOIN LATERAL (
                    SELECT time, index_l, alarms FROM reading r
                    WHERE r.meter_id = p.meter_id AND r.time > t.time
                    ORDER BY r.time LIMIT 1
                ) a ON true
                ORDER BY p.n
                """,
                [
                    _array([str(meter) for meter, _ in probes]),
                    _array([stamp.isoformat() for _, stamp in probes]),
                ],
            )
            return await cur.fetchall()

    async def write_readings(
        self,
        fresh: Sequence[ReadingTableRow],
        fresh_positions: Sequence[int],
        fresh_meters: Sequence[FreshMeter],
        others: Sequence[StageRow],
    ) -> Written:
        """Store readings: how many were staged and stored, and the conflicting duplicates.

        ``fresh`` readings (of the messages at ``fresh_positions``) are later than anything
        stored for their meter and unique in the batch, so they cannot conflict: they are
        copied straight into the hypertable (COPY is about twice as fast as INSERT ... ON
        CONFLICT there), with ``fresh_meters`` summing them up per meter. ``others`` (late, or
        possibly delivered twice) go through the staging table, where the messages with a
        conflicting reading are left out and the rest meet ``ON CONFLICT DO NOTHING``. Should a
        fresh reading conflict after all (a concurrent writer for the same meter), the copy is
        rolled back to its savepoint and those readings take the staging path too.
        """
        async with self.conn.cursor() as cur:
            if fresh:
                try:
                    async with self.conn.transaction():
                        await _copy(cur, "reading", READING_COLUMNS, READING_TYPES, fresh)
                        await _copy(
                            cur,
                            FRESH_TABLE,
                            ("meter_id", "first_time", "last_time", "last_index_l", "stored"),
                            ("int4", "timestamptz", "timestamptz", "int8", "int8"),
                            fresh_meters,
                        )
                except errors.UniqueViolation:
                    moved = [
                        (r[0], r[1], *r[3:], position)
                        for r, position in zip(fresh, fresh_positions, strict=True)
                    ]
                    others = [*moved, *others]
                    fresh = ()
            if others:
                await _copy(cur, STAGE_TABLE, STAGE_COLUMNS, STAGE_TYPES, others)
            if not fresh and not others:
                return Written(0, 0, [])
            await cur.execute(_INSERT_READINGS)
            rows = await cur.fetchall()
        inserted = int(rows[0][0])
        conflicts = [row[1:] for row in rows if row[1] is not None]
        return Written(len(fresh) + len(others), len(fresh) + inserted, conflicts)

    async def quarantine(self, rows: Sequence[QuarantineRow]) -> None:
        if not rows:
            return
        async with self.conn.cursor() as cur:
            async with cur.copy(
                "COPY quarantine (topic, payload, reason, detail, serial) FROM STDIN"
                " (FORMAT BINARY)"
            ) as copy:
                copy.set_types(("text", "bytea", "varchar", "text", "varchar"))
                for row in rows:
                    await copy.write_row(row)

    async def quarantined(
        self,
        *,
        ids: Sequence[int] | None = None,
        reasons: Sequence[str] | None = None,
        status: str | None = "open",
        serial: str | None = None,
        limit: int = 100,
        offset: int = 0,
        lock: bool = False,
    ) -> list[QuarantinedMessage]:
        """Quarantined messages, oldest first; ``lock`` holds them against a concurrent run."""
        where, params = _filters(ids=ids, reasons=reasons, status=status, serial=serial)
        query = sql.SQL(
            "SELECT id, received_at, topic, payload, reason, detail, serial, status::text,"
            " resolved_at FROM quarantine {} ORDER BY id LIMIT %s OFFSET %s{}"
        ).format(where, sql.SQL(" FOR UPDATE SKIP LOCKED" if lock else ""))
        async with self.conn.cursor(row_factory=class_row(QuarantinedMessage)) as cur:
            await cur.execute(query, [*params, limit, offset])
            return await cur.fetchall()

    async def count_by_reason(
        self, *, status: str | None = "open", serial: str | None = None
    ) -> dict[str, int]:
        where, params = _filters(ids=None, reasons=None, status=status, serial=serial)
        query = sql.SQL("SELECT reason, count(*) FROM quarantine {} GROUP BY reason").format(where)
        async with self.conn.cursor() as cur:
            await cur.execute(query, params)
            return {reason: int(n) for reason, n in await cur.fetchall()}

    async def mark_reprocessed(self, ids: Sequence[int]) -> None:
        if ids:
            await self.conn.execute(
                "UPDATE quarantine SET status = 'reprocessed', resolved_at = now()"
                " WHERE id = ANY(%s)",
                [list(ids)],
            )

    async def mark_discarded(self, ids: Sequence[int]) -> int:
        cur = await self.conn.execute(
            "UPDATE quarantine SET status = 'discarded', resolved_at = now()"
            " WHERE id = ANY(%s) AND status = 'open'",
            [list(ids)],
        )
        return cur.rowcount

    async def requarantine(self, updates: Sequence[tuple[int, str, str]]) -> None:
        """Keep messages open with the reason found this time: (id, reason, detail)."""
        if updates:
            async with self.conn.cursor() as cur:
                await cur.executemany(
                    "UPDATE quarantine SET reason = %s, detail = %s WHERE id = %s",
                    [(reason, detail, id_) for id_, reason, detail in updates],
                )


async def _copy(
    cur: AsyncCursor[Any],
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    async with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        write = copy.write_row
        for row in rows:
            await write(row)


def _array(items: Iterable[str]) -> str:
    """A PostgreSQL array literal: one text parameter, much cheaper to send than a list."""
    return "{" + ",".join(items) + "}"


def _filters(
    *,
    ids: Sequence[int] | None,
    reasons: Sequence[str] | None,
    status: str | None,
    serial: str | None,
) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    if ids is not None:
        clauses.append(sql.SQL("id = ANY(%s)"))
        params.append(list(ids))
    if reasons:
        clauses.append(sql.SQL("reason = ANY(%s)"))
        params.append(list(reasons))
    if status is not None:
        clauses.append(sql.SQL("status = %s::quarantine_status"))
        params.append(status)
    if serial is not None:
        clauses.append(sql.SQL("serial = %s"))
        params.append(serial)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(clauses), params
