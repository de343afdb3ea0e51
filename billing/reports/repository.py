"""All report SQL: one set-based query per report, scoped to buildings (``None``: all)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.repository import OWED, OWED_JOINED, PENALTY_JOIN
from billing.reports.schemas import Collection, DwellingMonth, RevenueMonth

LIVE = "i.status NOT IN ('draft', 'void')"
IN_SCOPE = "(CAST(:buildings AS integer[]) IS NULL OR b.id = ANY(:buildings))"
INVOICE_SCOPE = f"""
    JOIN dwelling d ON d.id = i.dwelling_id JOIN building b ON b.id = d.building_id
    WHERE {LIVE} AND {IN_SCOPE}
"""

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

_COLLECTION = f"""
WITH owed AS (
    SELECT i.id, i.currency, i.due_date, {OWED_JOINED} AS owed_minor
    FROM invoice i {PENALTY_JOIN}
    {INVOICE_SCOPE}
      AND i.issue_date BETWEEN :start AND :end AND i.issue_date <= :as_of
), paid AS (
    SELECT a.invoice_id, sum(a.amount_minor) AS paid_minor
    FROM payment_allocation a JOIN owed o ON o.id = a.invoice_id
    WHERE a.created_at < CAST(:as_of AS date) + 1
    GROUP BY a.invoice_id
), aged AS (
    SELECT o.currency, o.owed_minor, COALESCE(p.paid_minor, 0) AS paid_minor,
           o.owed_minor - COALESCE(p.paid_minor, 0) AS unpaid,
           CAST(:as_of AS date) - o.due_date AS late
    FROM owed o LEFT JOIN paid p ON p.invoice_id = o.id
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


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def building_month(self, *, building_id: int, month: date) -> list[DwellingMonth]:
        rows = await self.session.execute(
            text(_BUILDING_MONTH), {"building": building_id, "month": month}
        )
        return [DwellingMonth(**r._mapping) for r in rows]

    async def collection(
        self, *, building_ids: Sequence[int] | None, start: date, end: date, as_of: date
    ) -> list[Collection]:
        rows = await self.session.execute(
            text(_COLLECTION),
            {"buildings": _ids(building_ids), "start": start, "end": end, "as_of": as_of},
        )
        return [Collection(**r._mapping) for r in rows]

    async def revenue(
        self, *, building_ids: Sequence[int] | None, start: date, stop: date
    ) -> list[RevenueMonth]:
        """Months from ``start`` (a first day) up to ``stop`` (a first day, excluded)."""
        rows = await self.session.execute(
            text(_REVENUE), {"buildings": _ids(building_ids), "start": start, "stop": stop}
        )
        return [RevenueMonth(**r._mapping) for r in rows]

    async def ledger_entries(
        self, *, building_ids: Sequence[int] | None, start: date, end: date
    ) -> Sequence[Any]:
        """Issued invoices, approved penalties and succeeded payments of ``[start, end]``, in
        date order, amounts in minor units."""
        rows = await self.session.execute(
            text(_EXPORT), {"buildings": _ids(building_ids), "start": start, "end": end}
        )
        return rows.all()


def _ids(building_ids: Sequence[int] | None) -> list[int] | None:
    return None if building_ids is None else list(building_ids)
