"""Time to close a month for 10,000 and 100,000 meters, and the ratio between them.

    .venv/bin/python -m bench.billing [--small 10000] [--large 100000] [--url URL]

Without ``--url`` it starts a throwaway PostgreSQL/TimescaleDB of its own (durable, default
settings). Dwellings are spread over Cameroon, Papua New Guinea and France (three time zones;
France changes its clocks in October), each with one meter reporting at its own minute past
the hour, so every boundary index is interpolated. 5 % of dwellings are vacant and consume
nothing (subscription-only invoices), 1 % of meters had a tamper alarm (held).

Rollups in place: the daily rollups of the whole month, and the hourly ones of the 36 hours
around each period boundary (UTC). The close reads nothing else; a full month of hourly rows
would be 74M rows (~8 GB) at 100k meters, which changes the index depth of the boundary
lookups, not their number. The baseline is a plain scan of the month's daily rollups, timed
in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from billing.close.period import parse_period
from billing.close.service import close_period
from core.config import Settings
from core.db import make_async_engine
from core.local_services import LocalPostgres
from core.migrate import upgrade

console = Console()
PERIOD = parse_period("2026-10")
# Index origin: every meter counts from here at its own rate.
ORIGIN = "2026-09-01T00:00:00Z"
WINDOWS = (
    ("2026-09-30T00:00:00Z", "2026-10-01T12:00:00Z"),
    ("2026-10-31T00:00:00Z", "2026-11-01T12:00:00Z"),
)
TARIFFS = (
    ("CM", "XAF", "19.25", 500, 1000, "365"),
    ("PG", "PGK", "10", 150, 1200, "1.5"),
    ("FR", "EUR", "5.5", 120, 540, "2.5"),
)


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with LocalPostgres(durable=True) as server:
        yield server.url("bench_billing")


def arrange_once(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "INSERT INTO zone (country_code, code, name)"
        " VALUES ('CM', 'BCM', 'CM'), ('PG', 'BPG', 'PG'), ('FR', 'BFR', 'FR')"
    )
    conn.execute("INSERT INTO building (zone_id, name) SELECT id, code FROM zone")
    for country, currency, vat, fee, monthly, price in TARIFFS:
        tariff = conn.execute(
            "INSERT INTO tariff (country_code, currency, effective_from, vat_pct,"
            " service_fee_minor, penalty_pct, penalty_fixed_minor)"
            " VALUES (%s, %s, '2026-01-01', %s, %s, 5, 0) RETURNING id",
            [country, currency, vat, fee],
        ).fetchone()
        assert tariff is not None
        conn.execute(
            "INSERT INTO tariff_block (tariff_id, position, upper_m3, price_per_m3) VALUES"
            " (%(t)s, 1, 10, %(p)s), (%(t)s, 2, 30, %(p)s * 1.5), (%(t)s, 3, NULL, %(p)s * 2)",
            {"t": tariff[0], "p": price},
        )
        conn.execute(
            "INSERT INTO tariff_subscription (tariff_id, dwelling_type, monthly_minor)"
            " SELECT %s, t, %s FROM unnest(enum_range(NULL::dwelling_type)) t",
            [tariff[0], monthly],
        )


def add_meters(conn: psycopg.Connection[Any], *, count: int) -> None:
    """``count`` more dwellings with one meter each, and their rollups for the month."""
    first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM dwelling").fetchone()
    assert first is not None
    conn.execute(
        "INSERT INTO dwelling (building_id, reference, dwelling_type, occupancy)"
        " SELECT (SELECT min(id) FROM building) + n %% 3, 'D' || n, 'apartment',"
        " CASE WHEN n %% 20 = 0 THEN 'vacant' ELSE 'occupied' END::occupancy"
        " FROM generate_series(%s::int, %s::int) n",
        [first[0], first[0] + count - 1],
    )
    conn.execute(
        "INSERT INTO meter (serial, kind, dwelling_id, installed_at)"
        " SELECT 'B-' || d.id, 'iot', d.id, '2026-01-01Z' FROM dwelling d WHERE d.id >= %s",
        [first[0]],
    )
    # Litres per hour: 0 for vacant dwellings, else 5..54 (a household's 4-40 m³ a month).
    rate = "CASE WHEN d.occupancy = 'vacant' THEN 0 ELSE 5 + m.id %% 50 END"
    for start, end in WINDOWS:
        conn.execute(
            "INSERT INTO meter_hourly (meter_id, hour_start, volume_l, start_index_l,"
            " end_index_l, reading_count, start_interpolated, end_interpolated)"
            f" SELECT m.id, h, {rate}, {rate} * extract(epoch FROM h - %(o)s) / 3600,"
            f" {rate} * (extract(epoch FROM h - %(o)s) / 3600 + 1), 1, m.id %% 60 <> 0,"
            " m.id %% 60 <> 0"
            " FROM meter m JOIN dwelling d ON d.id = m.dwelling_id"
            " CROSS JOIN generate_series(%(s)s::timestamptz, %(e)s::timestamptz, '1 hour') h"
            " WHERE d.id >= %(first)s",
            {"o": ORIGIN, "s": start, "e": end, "first": first[0]},
        )
    conn.execute(
        "INSERT INTO meter_daily (meter_id, day, volume_l, start_index_l, end_index_l,"
        " reading_count, start_interpolated, end_interpolated)"
        f" SELECT m.id, DATE '2026-10-01' + k, 24 * {rate}, 24 * {rate} * (30 + k),"
        f" 24 * {rate} * (31 + k), 24, true, true"
        " FROM meter m JOIN dwelling d ON d.id = m.dwelling_id"
        " CROSS JOIN generate_series(0, 30) k"
        " WHERE d.id >= %s",
        [first[0]],
    )
    conn.execute(
        "INSERT INTO incident (meter_id, kind, severity, status, started_at, last_seen_at,"
        " ended_at) SELECT m.id, 'tamper', 'critical', 'resolved', '2026-10-10Z', '2026-10-10Z',"
        " '2026-10-11Z' FROM meter m WHERE m.dwelling_id >= %s AND m.id %% 100 = 7",
        [first[0]],
    )


def wipe_invoices(conn: psycopg.Connection[Any]) -> None:
    """Drafts only (no trigger refuses them): the next close starts from nothing again."""
    for table in ("billing_hold", "invoice", "billing_period"):
        conn.execute(f"DELETE FROM {table}")


def close_once(url: str) -> float:
    async def run() -> float:
        engine = make_async_engine(Settings(database_url=SecretStr(url)))
        try:
            started = time.perf_counter()
            async with AsyncSession(engine) as session:
                await close_period(session, period=PERIOD)
                await session.commit()
            return time.perf_counter() - started
        finally:
            await engine.dispose()

    return asyncio.run(run())


def baseline(conn: psycopg.Connection[Any]) -> float:
    started = time.perf_counter()
    conn.execute(
        "SELECT meter_id, sum(volume_l) FROM meter_daily"
        " WHERE day BETWEEN '2026-10-01' AND '2026-10-31' GROUP BY meter_id"
    ).fetchall()
    return time.perf_counter() - started


def measure(url: str, conn: psycopg.Connection[Any], meters: int) -> dict[str, float]:
    conn.execute("VACUUM ANALYZE")
    wipe_invoices(conn)
    first = close_once(url)
    again = close_once(url)
    return {"meters": meters, "first": first, "again": again, "baseline": baseline(conn)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--url", help="an existing, empty database (schema is migrated)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with database(args.url) as url:
        upgrade(Settings(database_url=SecretStr(url)))
        with psycopg.connect(url, autocommit=True) as conn:
            arrange_once(conn)
            add_meters(conn, count=args.small)
            small = measure(url, conn, args.small)
            add_meters(conn, count=args.large - args.small)
            large = measure(url, conn, args.large)
            invoices = conn.execute(
                "SELECT count(*) FILTER (WHERE kind = 'periodic'),"
                " count(*) FILTER (WHERE kind = 'subscription_only'),"
                " (SELECT count(*) FROM billing_hold) FROM invoice"
            ).fetchone()

    table = Table(
        "meters",
        "close (s)",
        "close again (s)",
        "µs per meter",
        "baseline scan (s)",
        title=f"Closing {PERIOD.label}",
    )
    for row in (small, large):
        table.add_row(
            f"{int(row['meters']):,}",
            f"{row['first']:.2f}",
            f"{row['again']:.2f}",
            f"{row['first'] * 1e6 / row['meters']:.0f}",
            f"{row['baseline']:.2f}",
        )
    console.print(table)
    ratio = large["first"] / small["first"]
    console.print(
        f"ratio {args.large:,}/{args.small:,} meters: {ratio:.1f}x"
        f" (linear: {args.large / args.small:.1f}x); at {args.large:,}: "
        f"{invoices[0] if invoices else 0:,} periodic, {invoices[1] if invoices else 0:,}"
        f" subscription-only, {invoices[2] if invoices else 0:,} held"
    )


if __name__ == "__main__":
    main()
