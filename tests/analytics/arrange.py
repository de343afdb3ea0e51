"""Arrange helpers for the anomaly scan tests: dwellings of one PNG zone, their meters and
hourly readings, written straight into the tables (the ``scan_fleet`` fixture)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg

NOW = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
# Port Moresby is UTC+10 all year: local midnight is 14:00 UTC the day before.
TZ_OFFSET = timedelta(hours=10)


class ScanFleet:
    """Meters in one PNG zone, and their readings, written straight into the tables."""

    def __init__(self, db: psycopg.Connection) -> None:
        self.db = db
        self.db.execute(
            "INSERT INTO zone (country_code, code, name) VALUES ('PG', 'NCD', 'Port Moresby')"
        )
        self.db.execute(
            "INSERT INTO building (zone_id, name) SELECT id, 'Block A' FROM zone WHERE code = 'NCD'"
        )
        self.count = 0

    def meter(
        self,
        *,
        occupancy: str = "occupied",
        dwelling_type: str = "apartment",
        occupants: int | None = 3,
        interval_s: int = 3600,
        installed_at: datetime = datetime(2026, 1, 1, tzinfo=UTC),
        on_dwelling: bool = True,
    ) -> int:
        """A meter on a new dwelling of the zone (or on none: ``on_dwelling=False``)."""
        self.count += 1
        dwelling = None
        if on_dwelling:
            row = self.db.execute(
                "INSERT INTO dwelling (building_id, reference, dwelling_type, occupancy,"
                " occupants) SELECT id, %s, %s, %s, %s FROM building RETURNING id",
                (f"D{self.count}", dwelling_type, occupancy, occupants),
            ).fetchone()
            assert row is not None
            dwelling = row[0]
        meter = self.db.execute(
            "INSERT INTO meter (serial, kind, dwelling_id, installed_at, reporting_interval_s)"
            " VALUES (%s, 'iot', %s, %s, %s) RETURNING id",
            (f"WB-{self.count:06d}", dwelling, installed_at, interval_s),
        ).fetchone()
        assert meter is not None
        return int(meter[0])

    def readings(
        self,
        meter_id: int,
        *,
        start: datetime,
        hourly_l: Sequence[float],
        start_index: int = 1000,
        alarms: Sequence[int] | None = None,
        flows: Sequence[float | None] | None = None,
        received_at: datetime | None = None,
        resume: bool = False,
    ) -> int:
        """Hourly readings: one at ``start`` then one per hour after each volume; returns the
        last index. ``resume`` continues a series whose reading at ``start`` exists. Keeps
        ``meter_state`` as ingest would."""
        index = np.concatenate(([start_index], start_index + np.cumsum(hourly_l))).astype(int)
        times = [start + timedelta(hours=i) for i in range(len(index))]
        received = received_at or times[-1]
        with self.db.cursor().copy(
            "COPY reading (meter_id, time, source, index_l, flow_lph, alarms, received_at)"
            " FROM STDIN"
        ) as copy:
            for i, (time, value) in enumerate(zip(times, index, strict=True)):
                if resume and i == 0:
                    continue
                copy.write_row(
                    (
                        meter_id,
                        time,
                        "iot",
                        int(value),
                        None if flows is None else flows[i],
                        0 if alarms is None else alarms[i],
                        received,
                    )
                )
        self.db.execute(
            "INSERT INTO meter_state (meter_id, last_time, last_index_l, last_received_at)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (meter_id) DO UPDATE SET"
            " last_time = excluded.last_time, last_index_l = excluded.last_index_l,"
            " last_received_at = excluded.last_received_at",
            (meter_id, times[-1], int(index[-1]), received),
        )
        return int(index[-1])

    def daily(self, meter_id: int, *, first_day: date, volumes: Sequence[float]) -> None:
        with self.db.cursor().copy(
            "COPY meter_daily (meter_id, day, volume_l, start_index_l, end_index_l,"
            " reading_count) FROM STDIN"
        ) as copy:
            total = 0
            for offset, volume in enumerate(volumes):
                copy.write_row(
                    (
                        meter_id,
                        first_day + timedelta(days=offset),
                        int(volume),
                        total,
                        total + int(volume),
                        24,
                    )
                )
                total += int(volume)


def local_midnight_utc(day: date) -> datetime:
    """The UTC instant of midnight in Port Moresby on ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - TZ_OFFSET
