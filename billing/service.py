"""Billing runs that span sub-packages.

Issuing a period is numbering its drafts (``billing.invoices``) and letting account credit pay
the new invoices at once (``billing.payments``); their SMS are queued once the issue is
committed, so a customer is never told about an invoice that was rolled back.

Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing.close.period import Period
from billing.close.service import Progress
from billing.invoices import service as invoice_service
from billing.invoices.service import IssueSummary
from billing.payments import service as payment_service
from billing.payments.models import NoticeKind
from billing.payments.notices import NoticeResult, queue_due_notices
from core.config_billing import BillingSettings


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
    """Issue the period's drafts (``billing.invoices.service.issue_period``); account credit pays
    them at once. Then, after the commit, ``queue_issue_notices``."""
    summary = await invoice_service.issue_period(
        session,
        period=period,
        at=at,
        issued_by=issued_by,
        grace_days=grace_days,
        payment_days=payment_days,
        zone_ids=zone_ids,
        force=force,
        progress=progress,
    )
    await payment_service.apply_credit(session)
    return summary


async def queue_issue_notices(
    session: AsyncSession,
    *,
    today: date,
    reminder_days: int,
    now: datetime,
    billing: BillingSettings,
) -> NoticeResult:
    """The new-invoice SMS of committed invoices (each claimed once, whoever queues it first)."""
    return await queue_due_notices(
        session,
        today=today,
        reminder_days=reminder_days,
        now=now,
        billing=billing,
        kinds=(NoticeKind.INVOICE_ISSUED,),
    )
