"""Invoice lifecycle after the close: issue, overdue, void, regularisation approval.

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
from datetime import date, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from billing.close.period import Period
from billing.close.repository import CloseRepository
from billing.close.service import Progress, check_zones
from billing.invoices.exceptions import (
    DuplicateApproval,
    GraceNotOver,
    InvalidTransition,
    InvoiceNotFound,
)
from billing.invoices.models import Invoice, InvoiceStatus
from billing.invoices.repository import InvoiceRepository
from billing.tariffs.pricing import InvoiceKind
from core.countries import country_days

APPROVALS_NEEDED = 2
VOIDABLE = (InvoiceStatus.ISSUED, InvoiceStatus.OVERDUE)


@dataclass(frozen=True)
class IssueSummary:
    issued: int
    numbers: dict[str, tuple[str, str]]  # country -> (first, last) number given


async def issue_period(
    session: AsyncSession,
    *,
    period: Period,
    at: datetime,
    issued_by: int | None,
    grace_days: int,
    payment_days: int,
    zone_ids: Sequence[int] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> IssueSummary:
    """Issue every draft periodic / subscription-only invoice of ``period`` at the instant
    ``at``: each is dated by its country's calendar day then (from 14:00 UTC it is already
    tomorrow in Port Moresby). ``progress`` hears (0, drafts) before and (issued, drafts) after.

    Raises:
        GraceNotOver: the grace after the period's end is not over in a country with drafts
            (and not ``force``).
    """
    await check_zones(session, zone_ids)
    period_id = await CloseRepository(session).lock_period(
        label=period.label, start=period.start, end=period.end
    )
    repo = InvoiceRepository(session)
    zones = None if zone_ids is None else list(zone_ids)
    drafts = await repo.draft_counts(period_id=period_id, zone_ids=zones)
    days = await country_days(session, countries=drafts, at=at)
    for day in days.values():
        check_grace(period, today=day, grace_days=grace_days, force=force)
    starts = {
        country: await repo.lock_sequence(country=country, year=day.year)
        for country, day in days.items()
    }
    total = sum(drafts.values())
    if progress:
        await progress(0, total)
    if not starts:
        return IssueSummary(issued=0, numbers={})
    counts = await repo.number_drafts(
        period_id=period_id,
        zone_ids=zones,
        days=days,
        payment_days=payment_days,
        issued_by=issued_by,
    )
    numbers: dict[str, tuple[str, str]] = {}
    for country, count in counts.items():
        year = days[country].year
        await repo.advance_sequence(country=country, year=year, by=count)
        first, last = starts[country] + 1, starts[country] + count
        numbers[country] = (
            format_number(country, year, first),
            format_number(country, year, last),
        )
    issued = sum(counts.values())
    if progress:
        await progress(issued, total)
    return IssueSummary(issued=issued, numbers=numbers)


async def check_issue_grace(
    session: AsyncSession,
    *,
    period: Period,
    at: datetime,
    zone_ids: Sequence[int] | None,
    grace_days: int,
    force: bool,
) -> None:
    """Raises GraceNotOver while the grace runs in a country of the zones (every zone when none)
    at ``at``: the check a request makes before queueing the issue."""
    repo = InvoiceRepository(session)
    countries = await repo.zone_countries(None if zone_ids is None else list(zone_ids))
    # No zone yet: every served country's calendar (nothing to issue, the answer is the rule's).
    for day in (await country_days(session, countries=countries or None, at=at)).values():
        check_grace(period, today=day, grace_days=grace_days, force=force)


def check_grace(period: Period, *, today: date, grace_days: int, force: bool) -> None:
    """Raises GraceNotOver while the period's grace for late readings runs (unless ``force``)."""
    ready_on = period.end + timedelta(days=grace_days + 1)
    if today < ready_on and not force:
        raise GraceNotOver(
            f"period {period.label} is in its grace for late readings until {ready_on}"
            f" (billing.grace_days={grace_days}); issue then, or force"
        )


def format_number(country: str, year: int, n: int) -> str:
    return f"{country}-{year}-{n:06d}"


async def mark_overdue(
    session: AsyncSession, *, at: datetime | None = None, today: date | None = None
) -> int:
    """Issued or partly paid invoices whose due date has passed in their country at ``at`` become
    overdue (``today`` imposes one day on every country, for a replay); returns how many."""
    if at is None and today is None:
        raise ValueError("mark_overdue needs the instant `at` or a day `today`")
    return await InvoiceRepository(session).mark_overdue(at=at, today=today)


async def get_invoice(session: AsyncSession, *, invoice_id: int) -> Invoice:
    invoice = await InvoiceRepository(session).get(invoice_id)
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
    repo = InvoiceRepository(session)
    invoice = await _locked(repo, invoice_id)
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
    return await repo.save(invoice)


async def pending_regularisations(session: AsyncSession) -> Sequence[Invoice]:
    """Regularisation drafts awaiting approval, oldest first."""
    return await InvoiceRepository(session).pending_regularisations()


async def approvals_of(session: AsyncSession, *, invoice_id: int) -> list[int]:
    return await InvoiceRepository(session).approvals_of(invoice_id)


async def approve_regularisation(
    session: AsyncSession, *, invoice_id: int, admin_id: int, at: datetime, payment_days: int
) -> Invoice:
    """Record ``admin_id``'s approval; the second administrator's approval issues it, dated by
    its country's day at ``at``.

    Raises:
        InvalidTransition: not a regularisation awaiting approval.
        DuplicateApproval: this administrator already approved it.
    """
    repo = InvoiceRepository(session)
    invoice = await _locked(repo, invoice_id)
    if invoice.kind is not InvoiceKind.REGULARISATION or invoice.status is not InvoiceStatus.DRAFT:
        raise InvalidTransition(
            f"invoice {invoice_id} is a {invoice.status.value} {invoice.kind.value} invoice,"
            " not a regularisation awaiting approval"
        )
    if not await repo.add_approval(invoice_id=invoice_id, admin_id=admin_id):
        raise DuplicateApproval(
            f"administrator {admin_id} already approved regularisation {invoice_id};"
            " a second, different administrator must approve it"
        )
    approvers = await repo.approvals_of(invoice_id)
    if len(approvers) >= APPROVALS_NEEDED:
        days = await country_days(session, countries=[invoice.country_code], at=at)
        today = days[invoice.country_code]
        last = await repo.lock_sequence(country=invoice.country_code, year=today.year)
        await repo.advance_sequence(country=invoice.country_code, year=today.year, by=1)
        invoice.number = format_number(invoice.country_code, today.year, last + 1)
        invoice.status = InvoiceStatus.ISSUED
        invoice.issue_date = today
        invoice.due_date = today + timedelta(days=payment_days)
        invoice.issued_by = admin_id
        invoice.issued_at = func.now()
        await repo.save(invoice)
    return invoice


async def _locked(repo: InvoiceRepository, invoice_id: int) -> Invoice:
    invoice = await repo.lock(invoice_id)
    if invoice is None:
        raise InvoiceNotFound(f"invoice {invoice_id} does not exist")
    return invoice
