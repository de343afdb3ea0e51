"""Arrange dwellings, meters, readings and rollups for period-close tests, straight in the tables
(as the registry and the ingest leave them), in a Cameroon zone (Africa/Douala, UTC+1)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import psycopg

from analytics.rollups.service import refresh_pending

# October 2026 in Douala (UTC+1, no DST): local midnights at 23:00 UTC the day before.
P0 = datetime(2026, 9, 30, 23, tzinfo=UTC)
P1 = datetime(2026, 10, 31, 23, tzinfo=UTC)
INSTALLED = datetime(2026, 1, 1, tzinfo=UTC)
_numbers = itertools.count(1)


class World:
    def __init__(self, db: psycopg.Connection) -> None:
        self.db = db
        self.zone_id = self._one(
            "INSERT INTO zone (country_code, code, name) VALUES ('CM', %s, 'Douala') RETURNING id",
            [f"DLA-{next(_numbers)}"],
        )
        self.building_id = self._one(
            "INSERT INTO building (zone_id, name) VALUES (%s, 'Rue 1') RETURNING id",
            [self.zone_id],
        )
        self.tariff_id = self._one(
            "INSERT INTO tariff (country_code, currency, effective_from, vat_pct,"
            " service_fee_minor, penalty_pct, penalty_fixed_minor)"
            " VALUES ('CM', 'XAF', '2026-01-01', 19.25, 500, 5, 1000)"
            " ON CONFLICT DO NOTHING RETURNING id",
            [],
            default=None,
        )
        if self.tariff_id is not None:
            self.db.execute(
                "INSERT INTO tariff_block (tariff_id, position, upper_m3, price_per_m3) VALUES"
                " (%(t)s, 1, 10, 365), (%(t)s, 2, 30, 550), (%(t)s, 3, NULL, 775)",
                {"t": self.tariff_id},
            )
            self.db.execute(
                "INSERT INTO tariff_subscription (tariff_id, dwelling_type, monthly_minor)"
                " SELECT %s, t, 1000 FROM unnest(enum_range(NULL::dwelling_type)) t",
                [self.tariff_id],
            )

    def _one(
        self, sql: str, params: Sequence[object] | dict[str, object], default: object = 0
    ) -> int:
        row = self.db.execute(sql, params).fetchone()
        if row is None:
            return default  # type: ignore[return-value]
        return int(row[0])

    def dwelling(self, *, occupancy: str = "occupied", dwelling_type: str = "apartment") -> int:
        return self._one(
            "INSERT INTO dwelling (building_id, reference, dwelling_type, occupancy)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            [self.building_id, f"D{next(_numbers)}", dwelling_type, occupancy],
        )

    def meter(
        self,
        dwelling_id: int,
        *,
        installed_at: datetime = INSTALLED,
        removed_at: datetime | None = None,
        initial_index_l: int = 0,
        register_digits: int = 9,
    ) -> int:
        return self._one(
            "INSERT INTO meter (serial, kind, dwelling_id, installed_at, removed_at,"
            " initial_index_l, register_digits) VALUES (%s, 'iot', %s, %s, %s, %s, %s)"
            " RETURNING id",
            [
                f"CM-{next(_numbers):06d}",
                dwelling_id,
                installed_at,
                removed_at,
                initial_index_l,
                register_digits,
            ],
        )

    def readings(
        self, meter_id: int, points: Sequence[tuple[datetime, int]], source: str = "iot"
    ) -> None:
        """Store readings, queue the meter and refresh its rollups (ingest + rollup job)."""
        with self.db.transaction(), self.db.cursor() as cur:
            with cur.copy("COPY reading (meter_id, time, index_l, source) FROM STDIN") as copy:
                for time, index_l in points:
                    copy.write_row((meter_id, time, index_l, source))
            cur.execute(
                "INSERT INTO rollup_pending (meter_id, since) VALUES (%s, %s)"
                " ON CONFLICT (meter_id) DO UPDATE"
                " SET since = least(rollup_pending.since, EXCLUDED.since)",
                [meter_id, min(t for t, _ in points)],
            )
        self.refresh()

    def refresh(self) -> None:
        with self.db.transaction():
            refresh_pending(self.db, limit=10_000, default_country="CM")

    def steady(
        self,
        meter_id: int,
        *,
        start: datetime,
        end: datetime,
        litres_per_hour: int,
        start_index: int = 0,
        every: timedelta = timedelta(hours=1),
    ) -> int:
        """Readings every ``every`` from ``start`` to ``end``; returns the last index."""
        points = []
        t, index = start, start_index
        while t <= end:
            points.append((t, index))
            t += every
            index += int(litres_per_hour * every / timedelta(hours=1))
        self.readings(meter_id, points)
        return points[-1][1]

    def tamper(
        self,
        meter_id: int,
        *,
        at: datetime,
        status: str = "open",
        ended_at: datetime | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO incident (meter_id, kind, severity, status, started_at, last_seen_at,"
            " ended_at) VALUES (%s, 'tamper', 'critical', %s, %s, %s, %s)",
            [meter_id, status, at, at, ended_at],
        )

    def customer(self, dwelling_id: int, *, language: str = "fr", phone: str) -> int:
        user_id = self._one(
            "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
            " password_hash) VALUES (%s, 'Marie', 'Ngono', %s, 'customer', true, 'x')"
            " RETURNING id",
            [phone, language],
        )
        self.db.execute(
            "INSERT INTO dwelling_occupant (user_id, dwelling_id, relation, start_date)"
            " VALUES (%s, %s, 'tenant', %s)",
            [user_id, dwelling_id, date(2026, 1, 1)],
        )
        return user_id


def admin(db, phone: str) -> int:
    """A new administrator's user id."""
    row = db.execute(
        "INSERT INTO app_user (phone, first_name, last_name, language, role, is_active,"
        " password_hash) VALUES (%s, 'A', 'Admin', 'en', 'admin', true, 'x') RETURNING id",
        [phone],
    ).fetchone()
    return int(row[0])
