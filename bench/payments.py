"""Payments ledger speed: one allocation over every account, and the reports over the ledger.

    .venv/bin/python -m bench.payments [--accounts 10000] [--url URL]

Without ``--url`` it starts a throwaway PostgreSQL/TimescaleDB of its own (durable, default
settings). Each account (a Cameroonian dwelling, 50 per building) gets three issued invoices
(two months back, last month, this month) and two payments whose sum lands somewhere between
nothing and more than everything owed, so the allocation sees partial payments, several
invoices per payment and credit. Prints the time of each step and the rows it handled.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import psycopg
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments import service as payments
from billing.reports import service as reports
from core.config import Settings
from core.config_billing import AccountingSettings
from core.db import make_async_engine
from core.local_services import LocalPostgres
from core.migrate import upgrade

console = Console()


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with LocalPostgres(durable=True) as server:
        yield server.url("bench_payments")


def arrange(conn: psycopg.Connection[Any], *, accounts: int) -> None:
    conn.execute("INSERT INTO zone (country_code, code, name) VALUES ('CM', 'BCM', 'CM')")
    conn.execute(
        "INSERT INTO building (zone_id, name) SELECT (SELECT id FROM zone), 'B' || n"
        " FROM generate_series(1, %s) n",
        [max(1, accounts // 50)],
    )
    conn.execute(
        "INSERT INTO dwelling (building_id, reference, dwelling_type)"
        " SELECT (SELECT min(id) FROM building) + n %% (SELECT count(*) FROM building),"
        " 'D' || n, 'apartment' FROM generate_series(1, %s) n",
        [accounts],
    )
    tariff = conn.execute(
        "INSERT INTO tariff (country_code, currency, effective_from, vat_pct, service_fee_minor,"
        " penalty_pct, penalty_fixed_minor) VALUES ('CM', 'XAF', '2026-01-01', 19.25, 500, 5, 0)"
        " RETURNING id"
    ).fetchone()
    assert tariff is not None
    conn.execute(
        "INSERT INTO billing_period (label, start_date, end_date) VALUES"
        " ('2026-08', '2026-08-01', '2026-08-31'), ('2026-09', '2026-09-01', '2026-09-30'),"
        " ('2026-10', '2026-10-01', '2026-10-31')"
    )
    conn.execute(
        "INSERT INTO invoice (number, kind, status, period_id, dwelling_id, country_code,"
        " currency, tariff_id, dwelling_type, period_days, volume_l, net_minor, vat_minor,"
        " total_minor, issue_date, due_date, issued_at)"
        " SELECT 'CM-2026-' || lpad(row_number() OVER ()::text, 7, '0'), 'periodic', 'issued',"
        " p.id, d.id, 'CM', 'XAF', %s, 'apartment', 30, 9000 + d.id %% 7000,"
        " 4000 + d.id %% 3000, 770, 4770 + d.id %% 3000, p.end_date + 2, p.end_date + 17,"
        " (p.end_date + 2)::timestamptz"
        " FROM dwelling d CROSS JOIN billing_period p",
        [tariff[0]],
    )
    conn.execute(
        "INSERT INTO payment (dwelling_id, method, status, amount_minor, currency, reference,"
        " received_at) SELECT d.id, m.method::payment_method, 'succeeded',"
        " 1 + (d.id * 7919 + m.k * 104729) % 12000, 'XAF', 'BP-' || d.id || '-' || m.k,"
        " now() - m.k * interval '1 day'"
        " FROM dwelling d CROSS JOIN (VALUES (1, 'cash'), (2, 'mtn_momo')) m(k, method)"
    )
    conn.execute("ANALYZE")


async def measure(url: str) -> list[tuple[str, float, int]]:
    engine = make_async_engine(Settings(database_url=SecretStr(url)))
    results: list[tuple[str, float, int]] = []
    try:
        async with AsyncSession(engine) as session, session.begin():
            t = time.perf_counter()
            allocated = await payments.apply_credit(session)
            results.append(("allocate every account", time.perf_counter() - t, len(allocated)))
        async with AsyncSession(engine) as session, session.begin():
            t = time.perf_counter()
            again = await payments.apply_credit(session)
            results.append(("allocate again (nothing left)", time.perf_counter() - t, len(again)))
        async with AsyncSession(engine) as session:
            t = time.perf_counter()
            rows: list[Any] = await reports.collection(
                session,
                building_ids=None,
                start=date(2026, 8, 1),
                end=date(2026, 12, 31),
                as_of=date(2026, 12, 31),
            )
            results.append(("collection + ageing", time.perf_counter() - t, len(rows)))
            t = time.perf_counter()
            rows = await reports.revenue(
                session, building_ids=None, start=date(2026, 8, 1), end=date(2026, 12, 31)
            )
            results.append(("revenue per month", time.perf_counter() - t, len(rows)))
            t = time.perf_counter()
            rows = await reports.building_month(session, building_id=1, month=date(2026, 10, 1))
            results.append(("monthly report, one building", time.perf_counter() - t, len(rows)))
            t = time.perf_counter()
            rows = await reports.accounting_export(
                session,
                building_ids=None,
                start=date(2026, 1, 1),
                end=date(2027, 12, 31),
                accounts=AccountingSettings(),
            )
            results.append(("accounting export (lines)", time.perf_counter() - t, len(rows)))
            t = time.perf_counter()
            reports.ledger_xml(rows, start=date(2026, 1, 1), end=date(2027, 12, 31))
            results.append(("  ... as XML", time.perf_counter() - t, len(rows)))
    finally:
        await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--url", help="An existing database (default: a throwaway cluster).")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with database(args.url) as url:
        upgrade(Settings(database_url=SecretStr(url)))
        with psycopg.connect(url, autocommit=True) as conn:
            t = time.perf_counter()
            arrange(conn, accounts=args.accounts)
            console.print(
                f"{args.accounts} accounts, {3 * args.accounts} invoices,"
                f" {2 * args.accounts} payments arranged in {time.perf_counter() - t:.1f} s"
            )
        results = asyncio.run(measure(url))
    table = Table("step", "seconds", "rows")
    for name, seconds, rows in results:
        table.add_row(name, f"{seconds:.3f}", str(rows))
    console.print(table)


if __name__ == "__main__":
    main()
