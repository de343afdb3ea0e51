"""All invoice-lifecycle SQL: numbering drafts at issue, the number sequences, overdue marks,
approvals, and reading or locking one invoice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from psycopg import errors as pg_errors
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.invoices.exceptions import InvoiceImmutable
from billing.invoices.models import Invoice, InvoiceApproval, InvoiceStatus
from billing.tariffs.pricing import InvoiceKind
from registry.models import Building, Dwelling

# Raised by the triggers of migration 0008.
IMMUTABLE_SQLSTATE = "WB001"

# The drafts of a period (in some zones) that an issue numbers.
_DRAFTS = """
    FROM invoice i
    JOIN dwelling d ON d.id = i.dwelling_id
    JOIN building b ON b.id = d.building_id
    WHERE i.period_id = :period_id AND i.status = 'draft' AND i.kind <> 'regularisation'
      AND (CAST(:zones AS int[]) IS NULL OR b.zone_id = ANY(CAST(:zones AS int[])))
"""

_NUMBER_DRAFTS = f"""
WITH day AS (
    SELECT * FROM unnest(CAST(:countries AS text[]), CAST(:days AS date[])) AS d(country_code, day)
), numbered AS (
    SELECT i.id, i.country_code,
           row_number() OVER (PARTITION BY i.country_code ORDER BY i.id) AS n
    {_DRAFTS}
)
UPDATE invoice i
SET status = 'issued',
    number = n.country_code || '-' || s.year || '-' || lpad((s.last_number + n.n)::text, 6, '0'),
    issue_date = day.day, due_date = day.day + :payment_days, issued_at = now(), issued_by = :by
FROM numbered n
JOIN day ON day.country_code = n.country_code
JOIN invoice_number_sequence s
  ON s.country_code = n.country_code AND s.year = extract(year FROM day.day)
WHERE i.id = n.id
RETURNING i.country_code
"""


class InvoiceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def draft_counts(self, *, period_id: int, zone_ids: list[int] | None) -> dict[str, int]:
        """The drafts to issue in the period (and zones), per country, in country order."""
        rows = await self.session.execute(
            text(f"SELECT i.country_code, count(*) AS drafts {_DRAFTS} GROUP BY 1 ORDER BY 1"),
            {"period_id": period_id, "zones": zone_ids},
        )
        return {str(row.country_code): int(row.drafts) for row in rows}

    async def number_drafts(
        self,
        *,
        period_id: int,
        zone_ids: list[int] | None,
        days: dict[str, date],
        payment_days: int,
        issued_by: int | None,
    ) -> dict[str, int]:
        """Issue the drafts, dated by their country's day in ``days`` and numbered after that
        country's locked sequence of the day's year; returns how many per country (the caller
        advances the sequences by as many)."""
        rows = await self.session.execute(
            text(_NUMBER_DRAFTS),
            {
                "period_id": period_id,
                "zones": zone_ids,
                "countries": list(days),
                "days": list(days.values()),
                "payment_days": payment_days,
                "by": issued_by,
            },
        )
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.country_code] = counts.get(row.country_code, 0) + 1
        return counts

    async def zone_countries(self, zone_ids: list[int] | None) -> list[str]:
        """The countries of the zones (of every zone when None)."""
        rows = await self.session.scalars(
            text(
                "SELECT DISTINCT country_code FROM zone"
                " WHERE CAST(:zones AS int[]) IS NULL OR id = ANY(CAST(:zones AS int[]))"
            ),
            {"zones": zone_ids},
        )
        return [str(code) for code in rows]

    async def lock_sequence(self, *, country: str, year: int) -> int:
        """The last number given in ``country`` and ``year``, its row locked until commit."""
        await self.session.execute(
            text(
                "INSERT INTO invoice_number_sequence (country_code, year) VALUES (:c, :y)"
                " ON CONFLICT DO NOTHING"
            ),
            {"c": country, "y": year},
        )
        last = await self.session.scalar(
            text(
                "SELECT last_number FROM invoice_number_sequence"
                " WHERE country_code = :c AND year = :y FOR UPDATE"
            ),
            {"c": country, "y": year},
        )
        assert last is not None
        return int(last)

    async def advance_sequence(self, *, country: str, year: int, by: int) -> None:
        await self.session.execute(
            text(
                "UPDATE invoice_number_sequence SET last_number = last_number + :n"
                " WHERE country_code = :c AND year = :y"
            ),
            {"c": country, "y": year, "n": by},
        )

    async def mark_overdue(self, *, at: datetime | None, today: date | None) -> int:
        """Overdue once the due date has passed in the invoice's country at ``at`` (``today``,
        when given, is every country's day instead)."""
        result = await self.session.execute(
            text(
                "UPDATE invoice i SET status = 'overdue' FROM country c"
                " WHERE c.code = i.country_code AND i.status IN ('issued', 'partially_paid')"
                " AND i.due_date < COALESCE(CAST(:today AS date),"
                " (CAST(:at AS timestamptz) AT TIME ZONE c.timezone)::date)"
            ),
            {"at": at, "today": today},
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def get(self, invoice_id: int) -> Invoice | None:
        return await self.session.get(Invoice, invoice_id)

    async def lock(self, invoice_id: int) -> Invoice | None:
        """The invoice, row-locked and reloaded (a concurrent change is seen)."""
        return await self.session.get(
            Invoice, invoice_id, with_for_update=True, populate_existing=True
        )

    async def pending_regularisations(self) -> Sequence[Invoice]:
        rows = await self.session.scalars(
            select(Invoice)
            .where(
                Invoice.kind == InvoiceKind.REGULARISATION, Invoice.status == InvoiceStatus.DRAFT
            )
            .order_by(Invoice.id)
        )
        return rows.all()

    async def approvals_of(self, invoice_id: int) -> list[int]:
        rows = await self.session.scalars(
            select(InvoiceApproval.admin_id)
            .where(InvoiceApproval.invoice_id == invoice_id)
            .order_by(InvoiceApproval.approved_at)
        )
        return list(rows)

    async def add_approval(self, *, invoice_id: int, admin_id: int) -> bool:
        """Record an approval; False when this administrator approved it already."""
        try:
            async with self.session.begin_nested():
                self.session.add(InvoiceApproval(invoice_id=invoice_id, admin_id=admin_id))
        except IntegrityError as exc:
            if isinstance(exc.orig, pg_errors.UniqueViolation):
                return False
            raise
        return True

    async def save(self, invoice: Invoice) -> Invoice:
        """Flush and reload, turning the immutability trigger's refusal into
        ``InvoiceImmutable``."""
        try:
            await self.session.flush()
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == IMMUTABLE_SQLSTATE:
                raise InvoiceImmutable(str(exc.orig).splitlines()[0]) from None
            raise
        await self.session.refresh(invoice)
        return invoice

    async def dwelling_and_zone(self, dwelling_id: int) -> tuple[Dwelling, int] | None:
        """A dwelling with its building's zone (which selects the tariff)."""
        row = (
            await self.session.execute(
                select(Dwelling, Building.zone_id)
                .join(Building, Building.id == Dwelling.building_id)
                .where(Dwelling.id == dwelling_id)
            )
        ).first()
        return None if row is None else (row[0], row[1])
