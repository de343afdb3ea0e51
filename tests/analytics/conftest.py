"""Arrange meters and readings the way the registry and the ingest leave them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
import pytest

from analytics.rollups.service import RefreshResult, refresh_pending
from tests.analytics.arrange import ScanFleet

_serials = itertools.count(1)


class Fleet:
    """Writes meters, readings and queue rows with plain SQL, as the ingest would."""

    def __init__(self, db: psycopg.Connection) -> None:
        self.db = db

    def meter(
        self,
        *,
        installed_at: datetime,
        country: str | None = "PG",
        zone_timezone: str | None = None,
        register_digits: int = 9,
        initial_index_l: int = 0,
        removed_at: datetime | None = None,
        dwelling_id: int | None = None,
        reporting_interval_s: int = 3600,
    ) -> int:
        """A meter; in a dwelling of ``country`` (or of no dwelling when country is None)."""
        n = next(_serials)
        if dwelling_id is None and country is not None:
            dwelling_id = self.dwelling(country=country, zone_timezone=zone_timezone)
        row = self.db.execute(
            "INSERT INTO meter (serial, kind, register_digits, dwelling_id, installed_at,"
            " removed_at, initial_index_l, reporting_interval_s)"
            " VALUES (%s, 'iot', %s, %s, %s, %s, %s, %s) RETURNING id",
            [
                f"T-{n:06d}",
                register_digits,
                dwelling_id,
                installed_at,
                removed_at,
                initial_index_l,
                reporting_interval_s,
            ],
        ).fetchone()
        assert row is not None
        return int(row[0])

    def dwelling(self, *, country: str, zone_timezone: str | None = None) -> int:
        n = next(_serials)
        row = self.db.execute(
            "WITH z AS (INSERT INTO zone (country_code, code, name, timezone)"
            "  VALUES (%s, %s, 'zone', %s) RETURNING id),"
            " b AS (INSERT INTO building (zone_id, name) SELECT id, 'b' FROM z RETURNING id)"
            " INSERT INTO dwelling (building_id, reference, dwelling_type)"
            " SELECT id, 'D1', 'apartment' FROM b RETURNING id",
            [country, f"Z{n}", zone_timezone],
        ).fetchone()
        assert row is not None
        return int(row[0])

    def readings(self, meter_id: int, rows: Iterable[tuple[Any, ...]]) -> None:
        """Store (time, index[, source]) readings and queue the meter, in one transaction."""
        rows = [(row[0], row[1], row[2] if len(row) > 2 else "iot") for row in rows]
        with self.db.transaction(), self.db.cursor() as cur:
            with cur.copy("COPY reading (meter_id, time, index_l, source) FROM STDIN") as copy:
                for time, index_l, source in rows:
                    copy.write_row((meter_id, time, index_l, source))
            cur.execute(
                "INSERT INTO rollup_pending (meter_id, since) VALUES (%s, %s)"
                " ON CONFLICT (meter_id) DO UPDATE"
                " SET since = least(rollup_pending.since, EXCLUDED.since)",
                [meter_id, min(t for t, _, _ in rows)],
            )

    def refresh(self, *, limit: int = 1000, default_country: str = "PG") -> RefreshResult:
        with self.db.transaction():
            return refresh_pending(self.db, limit=limit, default_country=default_country)

    def hourly(self, meter_id: int) -> list[tuple[Any, ...]]:
        return self.db.execute(
            "SELECT hour_start, volume_l, start_index_l, end_index_l, reading_count,"
            " start_interpolated, end_interpolated, has_estimate, negative_step, updated_at"
            " FROM meter_hourly WHERE meter_id = %s ORDER BY hour_start",
            [meter_id],
        ).fetchall()

    def daily(self, meter_id: int) -> list[tuple[Any, ...]]:
        return self.db.execute(
            "SELECT day, volume_l, start_index_l, end_index_l, reading_count,"
            " start_interpolated, end_interpolated, has_estimate, negative_step, updated_at"
            " FROM meter_daily WHERE meter_id = %s ORDER BY day",
            [meter_id],
        ).fetchall()


@pytest.fixture
def fleet(db: psycopg.Connection) -> Fleet:
    return Fleet(db)


@pytest.fixture
def scan_fleet(db: psycopg.Connection) -> ScanFleet:
    return ScanFleet(db)
