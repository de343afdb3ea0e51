"""Rollup refresh speed against plain scans of the same readings, measured in the same run.

    .venv/bin/python -m bench.rollups [--meters 10000] [--hours 24] [--limit 2000] [--url URL]

Without ``--url`` it starts a throwaway PostgreSQL/TimescaleDB of its own (durable, default
settings). Meters are spread over Papua New Guinea, Cameroon and France (so three time zones);
each reports hourly at its own minute past the hour, so every boundary is interpolated.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from analytics.rollups.service import refresh_pending
from core.config import Settings
from core.local_services import LocalPostgres
from core.migrate import upgrade

console = Console()
DAY0 = "2026-03-02T00:00:00Z"


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with LocalPostgres(durable=True) as server:
        yield server.url("bench_rollups")


def arrange(conn: psycopg.Connection[Any], *, meters: int, hours: int) -> None:
    conn.execute(
        "INSERT INTO zone (country_code, code, name)"
        " VALUES ('PG', 'BPG', 'PG'), ('CM', 'BCM', 'CM'), ('FR', 'BFR', 'FR')"
    )
    conn.execute("INSERT INTO building (zone_id, name) SELECT id, code FROM zone")
    conn.execute(
        "INSERT INTO dwelling (building_id, reference, dwelling_type)"
        " SELECT (SELECT min(id) FROM building) + n %% 3, 'D' || n, 'apartment'"
        " FROM generate_series(1, %s) n",
        [meters],
    )
    conn.execute(
        "INSERT INTO meter (serial, kind, dwelling_id, installed_at)"
        " SELECT 'B-' || d.id, 'iot', d.id, %s::timestamptz FROM dwelling d",
        [DAY0],
    )
    add_hours(conn, first=1, last=hours)


def add_hours(conn: psycopg.Connection[Any], *, first: int, last: int) -> None:
    """Readings for hours ``first..last`` of every meter (at its own minute), queued."""
    conn.execute(
        "INSERT INTO reading (meter_id, time, source, index_l)"
        " SELECT m.id, %(day0)s::timestamptz + h * interval '1 hour'"
        "   + (m.id %% 60) * interval '1 minute', 'iot', h * (10 + m.id %% 50)"
        " FROM meter m CROSS JOIN generate_series(%(first)s::int, %(last)s::int) h",
        {"day0": DAY0, "first": first, "last": last},
    )
    conn.execute(
        "INSERT INTO rollup_pending (meter_id, since)"
        " SELECT id, %(day0)s::timestamptz + %(first)s::int * interval '1 hour' FROM meter"
        " ON CONFLICT (meter_id) DO UPDATE SET since = least(rollup_pending.since, EXCLUDED.since)",
        {"day0": DAY0, "first": first},
    )


def timed(action: Callable[[], object], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def drain(conn: psycopg.Connection[Any], *, limit: int) -> int:
    refreshed = 0
    while True:
        with conn.transaction():
            result = refresh_pending(conn, limit=limit, default_country="PG")
        if result.meters == 0:
            return refreshed
        refreshed += result.meters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--limit", type=int, default=2_000, help="meters per refresh batch")
    parser.add_argument("--url", help="an existing database (schema is migrated)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with database(args.url) as url:
        upgrade(Settings(database_url=SecretStr(url)))
        with psycopg.connect(url, autocommit=True) as conn:
            arrange(conn, meters=args.meters, hours=args.hours)
            conn.execute("VACUUM ANALYZE")
            rows = args.meters * args.hours
            meter_days = args.meters * args.hours / 24

            def scan() -> None:
                conn.execute("SELECT count(*), sum(index_l) FROM reading").fetchone()

            def differences() -> None:
                conn.execute(
                    "SELECT sum(d) FROM (SELECT index_l - lag(index_l) OVER"
                    " (PARTITION BY meter_id ORDER BY time) AS d FROM reading) x"
                ).fetchone()

            figures = [
                ("baseline: count/sum scan of the readings", timed(scan, 3)),
                ("baseline: per-meter index differences (window)", timed(differences, 3)),
                ("rollup refresh, from nothing", timed(lambda: drain(conn, limit=args.limit))),
            ]
            add_hours(conn, first=args.hours + 1, last=args.hours + 1)
            incremental = timed(lambda: drain(conn, limit=args.limit))
            hourly = conn.execute("SELECT count(*) FROM meter_hourly").fetchone()
            daily = conn.execute("SELECT count(*) FROM meter_daily").fetchone()

    table = Table(
        f"{args.meters:,} meters x {args.hours} hourly readings ({rows:,} rows)",
        "seconds",
        "s per 100k meter-days",
        "x window baseline",
    )
    # The window baseline reads every meter's series as the refresh does, without the buckets:
    # a steadier yardstick than the plain scan, which takes a few milliseconds.
    window_s = figures[1][1]
    for name, seconds in figures:
        table.add_row(
            name,
            f"{seconds:.2f}",
            f"{seconds * 100_000 / meter_days:.1f}",
            f"{seconds / window_s:.1f}",
        )
    table.add_row(
        f"rollup refresh, one more hour for every meter ({args.meters:,} meters)",
        f"{incremental:.2f}",
        "",
        f"{incremental / window_s:.1f}",
    )
    console.print(table)
    console.print(
        f"meter_hourly rows: {hourly[0] if hourly else 0:,}; meter_daily rows: "
        f"{daily[0] if daily else 0:,}"
    )


if __name__ == "__main__":
    main()
