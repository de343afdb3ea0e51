"""Reports and the accounting export: one set-based query each, scoped to buildings.

``building_ids`` is the caller's reach: a list of building ids, or ``None`` for everything
(administrators). Amounts are integers in minor units, grouped per currency (a report over
Cameroon and Papua New Guinea never adds francs to kina). What an invoice owes is its total
plus an approved late penalty; draft and void invoices are in no figure.

Definitions:

- *Monthly report of a building*: invoices of the billing periods starting in that month, per
  dwelling (every dwelling of the building, with zeros when it has none): volume, billed,
  paid (allocated so far), unpaid.
- *Collection rate*: of what invoices issued in ``[start, end]`` owe, the share allocated by the
  end of ``as_of``. *Ageing*: what is unpaid at ``as_of`` by days past the due date: not yet
  due, 0–30, 31–60, 61–90, over 90.
- *Revenue per month*: invoices by their issue month (net, VAT, total, approved penalties by
  their decision month) and cash in by the local month a payment was received.
- *Accounting export*: one line per issued invoice (debit receivables, credit revenue and VAT),
  per approved penalty (credit penalty income) and per succeeded payment (debit the method's
  treasury account, credit receivables), with the account codes of the settings.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments_exceptions import InvalidReport
from billing.payments_repository import OWED
from core.config import AccountingSettings
from core.money import get_currency

LIVE = "i.status NOT IN ('draft', 'void')"
IN_SCOPE = "(CAST(:buildings AS integer[]) IS NULL OR b.id = ANY(:buildings))"
INVOICE_SCOPE = f"""
    JOIN dwelling d ON d.id = i.dwelling_id JOIN building b ON b.id = d.building_id
    WHERE {LIVE} AND {IN_SCOPE}
"""


@dataclass(frozen=True)
class DwellingMonth:
    dwelling_id: int
    reference: str
    invoices: int
    volume_l: int
    billed_minor: int
    paid_minor: int
    unpaid_minor: int
    currency: str | None


_BUILDING_MONTH = f"""
SELECT d.id AS dwelling_id, d.reference,
       count(i.id) AS invoices,
       CAST(COALESCE(sum(i.volume_l), 0) AS bigint) AS volume_l,
       CAST(COALESCE(sum({OWED}), 0) AS bigint) AS billed_minor,
       CAST(COALESCE(sum(i.paid_minor), 0) AS bigint) AS paid_minor,
       CAST(COALESCE(sum({OWED} - i.paid_minor), 0) AS bigint) AS unpaid_minor,
       min(i.currency) AS currency
FROM dwelling d
LEFT JOIN (
    invoice i JOIN billing_period bp ON bp.id = i.period_id
) ON i.dwelling_id = d.id AND {LIVE}
     AND bp.start_date >= :month AND bp.start_date < CAST(:month AS date) + interval '1 month'
WHERE d.building_id = :building
GROUP BY d.id, d.reference
ORDER BY d.reference
"""


async def building_month(
    session: AsyncSession, *, building_id: int, month: date
) -> list[DwellingMonth]:
    """Per dwelling of a building: the invoices of the periods starting in ``month``."""
    rows = await session.execute(
        text(_BUILDING_MONTH), {"building": building_id, "month": month.replace(day=1)}
    )
    return [DwellingMonth(**r._mapping) for r in rows]


@dataclass(frozen=True)
class Collection:
    currency: str
    invoices: int
    billed_minor: int
    collected_minor: int
    collection_rate: Decimal | None
    not_due_minor: int
    days_0_30_minor: int
    days_31_60_minor: int
    days_61_90_minor: int
    days_over_90_minor: int


_COLLECTION = f"""
WITH owed AS (
    SELECT i.id, i.currency, i.due_date, {OWED} AS owed_minor,
           COALESCE((SELECT sum(a.amount_minor) FROM payment_allocation a
                     WHERE a.invoice_id = i.id
                       AND a.created_at < CAST(:as_of AS date) + 1), 0) AS paid_minor
    FROM invoice i
    {INVOICE_SCOPE}
      AND i.issue_date BETWEEN :start AND :end AND i.issue_date <= :as_of
), aged AS (
    SELECT *, owed_minor - paid_minor AS unpaid, CAST(:as_of AS date) - due_date AS late
    FROM owed
)
SELECT currency, count(*) AS invoices,
       CAST(sum(owed_minor) AS bigint) AS billed_minor,
       CAST(sum(paid_minor) AS bigint) AS collected_minor,
       round(sum(paid_minor)::numeric / NULLIF(sum(owed_minor), 0), 4) AS collection_rate,
       CAST(COALESCE(sum(unpaid) FILTER (WHERE late < 0), 0) AS bigint)
           AS not_due_minor,
       CAST(COALESCE(sum(unpaid) FILTER (WHERE late BETWEEN 0 AND 30), 0) AS bigint)
           AS days_0_30_minor,
       CAST(COALESCE(sum(unpaid) FILTER (WHERE late BETWEEN 31 AND 60), 0) AS bigint)
           AS days_31_60_minor,
       CAST(COALESCE(sum(unpaid) FILTER (WHERE late BETWEEN 61 AND 90), 0) AS bigint)
           AS days_61_90_minor,
       CAST(COALESCE(sum(unpaid) FILTER (WHERE late > 90), 0) AS bigint)
           AS days_over_90_minor
FROM aged
GROUP BY currency
ORDER BY currency
"""


async def collection(
    session: AsyncSession,
    *,
    building_ids: Sequence[int] | None,
    start: date,
    end: date,
    as_of: date,
) -> list[Collection]:
    """Collection rate and unpaid ageing per currency (module docstring)."""
    if end < start:
        raise InvalidReport(f"end {end} is before start {start}")
    rows = await session.execute(
        text(_COLLECTION),
        {"buildings": _ids(building_ids), "start": start, "end": end, "as_of": as_of},
    )
    return [Collection(**r._mapping) for r in rows]


@dataclass(frozen=True)
class RevenueMonth:
    month: date
    currency: str
    invoices: int
    net_minor: int
    vat_minor: int
    billed_minor: int
    penalties_minor: int
    collected_minor: int


_REVENUE = f"""
WITH billed AS (
    SELECT date_trunc('month', i.issue_date)::date AS month, i.currency,
           count(*) AS invoices, CAST(sum(i.net_minor) AS bigint) AS net_minor,
           CAST(sum(i.vat_minor) AS bigint) AS vat_minor,
           CAST(sum(i.total_minor) AS bigint) AS billed_minor
    FROM invoice i
    {INVOICE_SCOPE} AND i.issue_date >= :start AND i.issue_date < :stop
    GROUP BY 1, 2
), penalties AS (
    SELECT date_trunc('month', lp.decided_at AT TIME ZONE c.timezone)::date AS month,
           lp.currency, CAST(sum(lp.amount_minor) AS bigint) AS penalties_minor
    FROM late_penalty lp JOIN invoice i ON i.id = lp.invoice_id
    JOIN country c ON c.code = i.country_code
    {INVOICE_SCOPE} AND lp.status = 'approved'
    GROUP BY 1, 2
), collected AS (
    SELECT date_trunc('month', p.received_at AT TIME ZONE c.timezone)::date AS month,
           p.currency, CAST(sum(p.amount_minor) AS bigint) AS collected_minor
    FROM payment p
    JOIN dwelling d ON d.id = p.dwelling_id JOIN building b ON b.id = d.building_id
    JOIN zone z ON z.id = b.zone_id JOIN country c ON c.code = z.country_code
    WHERE p.status = 'succeeded' AND {IN_SCOPE}
    GROUP BY 1, 2
)
SELECT month, currency,
       COALESCE(billed.invoices, 0) AS invoices, COALESCE(net_minor, 0) AS net_minor,
       COALESCE(vat_minor, 0) AS vat_minor, COALESCE(billed_minor, 0) AS billed_minor,
       COALESCE(penalties_minor, 0) AS penalties_minor,
       COALESCE(collected_minor, 0) AS collected_minor
FROM billed
FULL JOIN penalties USING (month, currency)
FULL JOIN collected USING (month, currency)
WHERE month >= :start AND month < :stop
ORDER BY month, currency
"""


async def revenue(
    session: AsyncSession, *, building_ids: Sequence[int] | None, start: date, end: date
) -> list[RevenueMonth]:
    """Per month from ``start``'s month to ``end``'s, and per currency (module docstring)."""
    first = start.replace(day=1)
    stop = _next_month(end.replace(day=1))
    if stop <= first:
        raise InvalidReport(f"end {end} is before start {start}")
    rows = await session.execute(
        text(_REVENUE), {"buildings": _ids(building_ids), "start": first, "stop": stop}
    )
    return [RevenueMonth(**r._mapping) for r in rows]


@dataclass(frozen=True)
class LedgerLine:
    entry: str  # invoice, penalty or payment
    date: date
    journal: str
    document: str
    dwelling_id: int
    debit_account: str
    credit_account: str
    net: str
    vat_account: str
    vat: str
    amount: str
    currency: str
    method: str


_EXPORT = f"""
SELECT 'invoice' AS entry, i.issue_date AS date, i.number AS document, i.dwelling_id,
       i.net_minor, i.vat_minor, i.total_minor AS amount_minor, i.currency, NULL AS method
FROM invoice i
{INVOICE_SCOPE} AND i.issue_date BETWEEN :start AND :end
UNION ALL
SELECT 'penalty', (lp.decided_at AT TIME ZONE c.timezone)::date, i.number, i.dwelling_id,
       lp.amount_minor, 0, lp.amount_minor, lp.currency, NULL
FROM late_penalty lp JOIN invoice i ON i.id = lp.invoice_id
JOIN country c ON c.code = i.country_code
{INVOICE_SCOPE} AND lp.status = 'approved'
  AND (lp.decided_at AT TIME ZONE c.timezone)::date BETWEEN :start AND :end
UNION ALL
SELECT 'payment', (p.received_at AT TIME ZONE c.timezone)::date, p.reference, p.dwelling_id,
       p.amount_minor, 0, p.amount_minor, p.currency, p.method::text
FROM payment p
JOIN dwelling d ON d.id = p.dwelling_id JOIN building b ON b.id = d.building_id
JOIN zone z ON z.id = b.zone_id JOIN country c ON c.code = z.country_code
WHERE p.status = 'succeeded' AND {IN_SCOPE}
  AND (p.received_at AT TIME ZONE c.timezone)::date BETWEEN :start AND :end
ORDER BY date, entry, document
"""


async def accounting_export(
    session: AsyncSession,
    *,
    building_ids: Sequence[int] | None,
    start: date,
    end: date,
    accounts: AccountingSettings,
) -> list[LedgerLine]:
    """The journal lines of ``[start, end]`` (module docstring)."""
    if end < start:
        raise InvalidReport(f"end {end} is before start {start}")
    rows = await session.execute(
        text(_EXPORT), {"buildings": _ids(building_ids), "start": start, "end": end}
    )
    treasury = {
        "cash": accounts.cash_account,
        "bank_transfer": accounts.bank_account,
        "card": accounts.bank_account,
        "orange_money": accounts.mobile_money_account,
        "mtn_momo": accounts.mobile_money_account,
    }
    lines = []
    for r in rows:
        currency = get_currency(r.currency)

        def major(minor: int, places: int = currency.minor_units) -> str:
            return f"{Decimal(int(minor)).scaleb(-places):f}"

        if r.entry == "payment":
            debit, credit, journal = treasury[r.method], accounts.receivable_account, "receipts"
        elif r.entry == "penalty":
            debit, credit, journal = accounts.receivable_account, accounts.penalty_account, "sales"
        else:
            debit, credit, journal = accounts.receivable_account, accounts.revenue_account, "sales"
        lines.append(
            LedgerLine(
                entry=r.entry,
                date=r.date,
                journal=accounts.journal_receipts
                if journal == "receipts"
                else accounts.journal_sales,
                document=r.document,
                dwelling_id=r.dwelling_id,
                debit_account=debit,
                credit_account=credit,
                net=major(r.net_minor),
                vat_account=accounts.vat_account if r.entry == "invoice" else "",
                vat=major(r.vat_minor),
                amount=major(r.amount_minor),
                currency=r.currency,
                method=r.method or "",
            )
        )
    return lines


def to_csv(rows: Sequence[Any], row_type: type[Any]) -> str:
    """Dataclass rows as CSV with a header line (the header even when there are no rows)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[f.name for f in fields(row_type)])
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in asdict(row).items()})
    return out.getvalue()


def ledger_xml(lines: Sequence[LedgerLine], *, start: date, end: date) -> bytes:
    """The accounting export as XML: ``<accounting-export><entry>...</entry></...>``."""
    root = ET.Element("accounting-export", {"from": start.isoformat(), "to": end.isoformat()})
    for line in lines:
        entry = ET.SubElement(root, "entry")
        for key, value in asdict(line).items():
            ET.SubElement(entry, key.replace("_", "-")).text = (
                value.isoformat() if isinstance(value, date) else str(value)
            )
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _ids(building_ids: Sequence[int] | None) -> list[int] | None:
    return None if building_ids is None else list(building_ids)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)
