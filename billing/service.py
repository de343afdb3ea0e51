"""Billing runs that span sub-packages.

Issuing a period is numbering its drafts (``billing.invoices``) and letting account credit pay
the new invoices at once (``billing.payments``); their SMS leave once the issue is committed,
so a customer is never told about an invoice that was rolled back.

Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from billing.close.period import Period
from billing.invoices import service as invoice_service
from billing.invoices.service import IssueSummary
from billing.payments import service as payment_service
from billing.payments.models import NoticeKind
from billing.payments.notices import NoticeResult, send_due_notices
from core.sms import SmsProvider


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
    """Issue the period's drafts (``billing.invoices.service.issue_period``); account credit pays
    them at once. Then, after the commit, ``send_issue_notices``."""
    summary = await invoice_service.issue_period(
        session,
        period=period,
        today=today,
        issued_by=issued_by,
        grace_days=grace_days,
        payment_days=payment_days,
        zone_ids=zone_ids,
        force=force,
    )
    await payment_service.apply_credit(session)
    return summary


async def send_issue_notices(
    engine: AsyncEngine, *, sms: SmsProvider, today: date, reminder_days: int
) -> NoticeResult:
    """The new-invoice SMS of committed invoices (each claimed once, whoever sends it first)."""
    return await send_due_notices(
        engine,
        sms=sms,
        today=today,
        reminder_days=reminder_days,
        kinds=(NoticeKind.INVOICE_ISSUED,),
    )
