"""Invoice lifecycle after the close: issue, overdue, void, regularisation approval, hold review.

Lifecycle::

    draft --issue--> issued --(payments)--> partially_paid | paid
                       |  \\--due date passed--> overdue
                       \\--void (admin, with reason)--> void

- **Numbers** are given at issue, gapless per country and year of issue:
  ``CM-2026-000001``. The issuing transaction locks the country's row of
  ``invoice_number_sequence``, so a rolled-back issue gives its numbers back and two issues at
  once take turns. It also locks the period row, as the close does: an issue never numbers a
  draft a concurrent close is removing.
- **Grace**: a period's drafts are issued once ``grace_days`` have passed since its last day,
  so readings arriving late still reach them (``force`` overrides, e.g. a final bill).
- **Immutable**: once issued, the content is frozen by database triggers (migration 0008);
  corrections are regularisation documents, which two different administrators approve before
  they are issued (the second approval issues it).

Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from psycopg import errors as pg_errors
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.close import Period, check_zones
from billing.close_repository import CloseRepository
from billing.exceptions import (
    DuplicateApproval,
    GraceNotOver,
    HoldNotFound,
    HoldNotReleasable,
    InvalidTransition,
    InvoiceImmutable,
    InvoiceNotFound,
)
from billing.models import (
    BillingHold,
    HoldReason,
    Invoice,
    InvoiceApproval,
    InvoiceKind,
    InvoiceStatus,
)

APPROVALS_NEEDED = 2
# Raised by the triggers of migration 0008.
IMMUTABLE_SQLSTATE = "WB001"
VOIDABLE = (InvoiceStatus.ISSUED, InvoiceStatus.OVERDUE)

_NUMBER_DRAFTS = """
WITH numbered AS (
    SELECT i.id, i.country_code,
           row_number() OVER (PARTITION BY i.country_code ORDER BY i.id) AS n
    FROM invoice i
    JOIN dwelling d ON d.id = i.dwelling_id
    JOIN building b ON b.id = d.building_id
    WHERE i.period_id = :period_id AND i.status = 'draft' AND i.kind <> 'regularisation'
      AND (CAST(:zones AS int[]) IS NULL OR b.zone_id = ANY(CAST(:zones AS int[])))
)
UPDATE invoice i
SET status = 'issued',
    number = n.country_code || '-' || s.year || '-' || lpad((s.last_number + n.n)::text, 6, '0'),
    issue_date = :today, due_date = :due, issued_at = now(), issued_by = :by
FROM numbered n
JOIN invoice_number_sequence s ON s.country_code = n.country_code AND s.year = :year
WHERE i.id = n.id
RETURNING i.country_code
"""


@dataclass(frozen=True)
class IssueSummary:
    issued: int
    numbers: dict[str, tuple[str, str]]  # country -> (first, last) number given


async def issue_period(
    session: AsyncSession,
    *,
    period: Period,
    today: date,
    issued_by: int | None,
    grace_days: int,
    payment_days: int,
    zone_ids: Sequence[int] | None = None,
    force: bool = False,
) -> IssueSummary:
    """Issue every draft periodic / subscription-only invoice of ``period``.

    Raises:
        GraceNotOver: the grace after the period's end is not over (and not ``force``).
    """
    ready_on = period.end + timedelta(days=grace_days + 1)
    if today < ready_on and not force:
        raise GraceNotOver(
            f"period {period.label} is in its grace for late readings until {ready_on}"
            f" (billing.grace_days={grace_days}); issue then, or force"
        )
    await check_zones(session, zone_ids)
    period_id = await CloseRepository(session).lock_period(
        label=period.label, start=period.start, end=period.end
    )
    zones = None if zone_ids is None else list(zone_ids)
    countries = await session.scalars(
        text(
            "SELECT DISTINCT i.country_code FROM invoice i JOIN dwelling d ON d.id = i.dwelling_id"
            " JOIN building b ON b.id = d.building_id WHERE i.period_id = :p"
            " AND i.status = 'draft' AND i.kind <> 'regularisation'"
            " AND (CAST(:zones AS int[]) IS NULL OR b.zone_id = ANY(CAST(:zones AS int[])))"
            " ORDER BY 1"
        ),
        {"p": period_id, "zones": zones},
    )
    numbers: dict[str, tuple[str, str]] = {}
    starts: dict[str, int] = {}
    for country in countries.all():
        starts[country] = await _lock_sequence(session, country=country, year=today.year)
    if not starts:
        return IssueSummary(issued=0, numbers={})
    rows = await session.execute(
        text(_NUMBER_DRAFTS),
        {
            "period_id": period_id,
            "zones": zones,
            "today": today,
            "due": today + timedelta(days=payment_days),
            "by": issued_by,
            "year": today.year,
        },
    )
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.country_code] = counts.get(row.country_code, 0) + 1
    for country, count in counts.items():
        await _advance_sequence(session, country=country, year=today.year, by=count)
        first, last = starts[country] + 1, starts[country] + count
        numbers[country] = (
            format_number(country, today.year, first),
            format_number(country, today.year, last),
        )
    return IssueSummary(issued=sum(counts.values()), numbers=numbers)


def format_number(country: str, year: int, n: int) -> str:
    return f"{country}-{year}-{n:06d}"


async def _lock_sequence(session: AsyncSession, *, country: str, year: int) -> int:
    """The last number given in ``country`` and ``year``, its row locked until commit."""
    await session.execute(
        text(
            "INSERT INTO invoice_number_sequence (country_code, year) VALUES (:c, :y)"
            " ON CONFLICT DO NOTHING"
        ),
        {"c": country, "y": year},
    )
    last = await session.scalar(
        text(
            "SELECT last_number FROM invoice_number_sequence"
            " WHERE country_code = :c AND year = :y FOR UPDATE"
        ),
        {"c": country, "y": year},
    )
    assert last is not None
    return int(last)


async def _advance_sequence(session: AsyncSession, *, country: str, year: int, by: int) -> None:
    await session.execute(
        text(
            "UPDATE invoice_number_sequence SET last_number = last_number + :n"
            " WHERE country_code = :c AND year = :y"
        ),
        {"c": country, "y": year, "n": by},
    )


async def mark_overdue(session: AsyncSession, *, today: date) -> int:
    """Issued or partly paid invoices past their due date become overdue; returns how many."""
    result = await session.execute(
        text(
            "UPDATE invoice SET status = 'overdue'"
            " WHERE status IN ('issued', 'partially_paid') AND due_date < :today"
        ),
        {"today": today},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def get_invoice(session: AsyncSession, *, invoice_id: int) -> Invoice:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None:
        raise InvoiceNotFound(f"invoice {invoice_id} does not exist")
    return invoice


async def void_invoice(
    session: AsyncSession, *, invoice_id: int, reason: str, voided_by: int
) -> Invoice:
    """Void an issued invoice nobody has paid anything on (its number stays used).

    Raises:
        InvalidTransition: a draft (re-close instead), already void, or money received.
    """
    invoice = await _locked(session, invoice_id)
    if invoice.status not in VOIDABLE:
        raise InvalidTransition(
            f"invoice {invoice_id} is {invoice.status.value}: only an issued or overdue invoice"
            " can be voided"
        )
    if invoice.paid_minor:
        raise InvalidTransition(
            f"invoice {invoice_id} has {invoice.paid_minor} minor units paid: refund them first"
        )
    invoice.status = InvoiceStatus.VOID
    invoice.void_reason = reason
    invoice.voided_by = voided_by
    invoice.voided_at = func.now()
    await _flush(session)
    await session.refresh(invoice)
    return invoice


async def pending_regularisations(session: AsyncSession) -> Sequence[Invoice]:
    """Regularisation drafts awaiting approval, oldest first."""
    rows = await session.scalars(
        select(Invoice)
        .where(Invoice.kind == InvoiceKind.REGULARISATION, Invoice.status == InvoiceStatus.DRAFT)
        .order_by(Invoice.id)
    )
    return rows.all()


async def approvals_of(session: AsyncSession, *, invoice_id: int) -> list[int]:
    rows = await session.scalars(
        select(InvoiceApproval.admin_id)
        .where(InvoiceApproval.invoice_id == invoice_id)
        .order_by(InvoiceApproval.approved_at)
    )
    return list(rows)


async def approve_regularisation(
    session: AsyncSession, *, invoice_id: int, admin_id: int, today: date, payment_days: int
) -> Invoice:
    """Record ``admin_id``'s approval; the second administrator's approval issues it.

    Raises:
        InvalidTransition: not a regularisation awaiting approval.
        DuplicateApproval: this administrator already approved it.
    """
    invoice = await _locked(session, invoice_id)
    if invoice.kind is not InvoiceKind.REGULARISATION or invoice.status is not InvoiceStatus.DRAFT:
        raise InvalidTransition(
            f"invoice {invoice_id} is a {invoice.status.value} {invoice.kind.value} invoice,"
            " not a regularisation awaiting approval"
        )
    try:
        async with session.begin_nested():
            session.add(InvoiceApproval(invoice_id=invoice_id, admin_id=admin_id))
    except IntegrityError as exc:
        if isinstance(exc.orig, pg_errors.UniqueViolation):
            raise DuplicateApproval(
                f"administrator {admin_id} already approved regularisation {invoice_id};"
                " a second, different administrator must approve it"
            ) from None
        raise
    approvers = await approvals_of(session, invoice_id=invoice_id)
    if len(approvers) >= APPROVALS_NEEDED:
        last = await _lock_sequence(session, country=invoice.country_code, year=today.year)
        await _advance_sequence(session, country=invoice.country_code, year=today.year, by=1)
        invoice.number = format_number(invoice.country_code, today.year, last + 1)
        invoice.status = InvoiceStatus.ISSUED
        invoice.issue_date = today
        invoice.due_date = today + timedelta(days=payment_days)
        invoice.issued_by = admin_id
        invoice.issued_at = func.now()
        await _flush(session)
        await session.refresh(invoice)
    return invoice


async def release_hold(session: AsyncSession, *, hold_id: int, admin_id: int) -> BillingHold:
    """An administrator reviewed a tampered register and lets the next close bill it.

    Raises:
        HoldNotReleasable: other holds lift themselves when data arrives or is corrected.
    """
    hold = await session.get(BillingHold, hold_id, with_for_update=True)
    if hold is None:
        raise HoldNotFound(f"billing hold {hold_id} does not exist")
    if hold.reason is not HoldReason.TAMPER:
        raise HoldNotReleasable(
            f"hold {hold_id} ({hold.reason.value}) lifts itself at the next close once the"
            " readings are there and valid; only a tamper hold is released by review"
        )
    if hold.released_at is not None:
        raise HoldNotReleasable(f"hold {hold_id} is already released")
    hold.released_by = admin_id
    hold.released_at = func.now()
    await session.flush()
    await session.refresh(hold)
    return hold


async def open_holds(
    session: AsyncSession, *, period_id: int | None = None
) -> Sequence[BillingHold]:
    statement = select(BillingHold).where(BillingHold.released_at.is_(None))
    if period_id is not None:
        statement = statement.where(BillingHold.period_id == period_id)
    rows = await session.scalars(statement.order_by(BillingHold.id))
    return rows.all()


async def _locked(session: AsyncSession, invoice_id: int) -> Invoice:
    invoice = await session.get(Invoice, invoice_id, with_for_update=True, populate_existing=True)
    if invoice is None:
        raise InvoiceNotFound(f"invoice {invoice_id} does not exist")
    return invoice


async def _flush(session: AsyncSession) -> None:
    """Flush, turning the immutability trigger's refusal into ``InvoiceImmutable``."""
    try:
        await session.flush()
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == IMMUTABLE_SQLSTATE:
            raise InvoiceImmutable(str(exc.orig).splitlines()[0]) from None
        raise
