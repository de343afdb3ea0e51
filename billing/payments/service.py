"""The payments ledger: recording payments, provider events, polling, allocation.

Rules:

- One ledger for every method. Cash (at an agent) and bank transfers are recorded by an
  administrator and count at once; card and mobile money payments start ``pending`` and are
  settled by the provider, through a verified webhook or a status poll, whichever comes first.
- A provider event is stored (``payment_event``, unique per provider and event id) in the same
  transaction as the change it makes: a replay, or the same event delivered twice at once,
  changes nothing. Only a pending payment moves; a later event about a settled one is kept for
  the record and ignored.
- The provider's amount is what was received: a success for another amount than asked is
  recorded at the provider's amount (and noted); another currency is refused (409).
- Every succeeded payment is allocated at once to the account's open invoices, oldest first
  (``PaymentRepository.allocate``); what is left is the account's credit, taken by the next
  invoice as soon as it is issued (``apply_credit``). Invoice status follows: ``paid`` when
  allocations cover the total (plus an approved penalty), else ``partially_paid``.

Services never commit: the caller owns the transaction (the poller commits per payment).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from billing.payments.clients import PendingPayment, ProviderClient
from billing.payments.exceptions import (
    InvalidPayment,
    PaymentMismatch,
    PaymentNotFound,
    ProviderUnavailable,
)
from billing.payments.models import Payment
from billing.payments.notices import NoticeResult, queue_due_notices
from billing.payments.penalties import propose_penalties
from billing.payments.providers import (
    MOBILE_MONEY,
    PROVIDER_METHODS,
    PaymentMethod,
    PaymentStatus,
    ProviderEvent,
)
from billing.payments.repository import Allocated, PaymentRepository
from core.config_billing import BillingSettings, PaymentsSettings
from core.money import Money, get_currency

logger = logging.getLogger(__name__)


def new_reference() -> str:
    """Our payment reference: unguessable, short enough for every provider's order id field."""
    return "WBP" + uuid.uuid4().hex[:20].upper()


async def record_payment(
    session: AsyncSession,
    *,
    dwelling_id: int,
    method: PaymentMethod,
    amount: Decimal,
    currency: str | None,
    now: datetime,
    recorded_by: int | None,
    provider_ref: str | None = None,
    note: str = "",
) -> Payment:
    """Record a payment on a dwelling's account (``amount`` in major units: 1500, 12.50).

    Cash and bank transfers count at once and are allocated; card and mobile money payments
    start pending, with a reference to hand to the provider.

    Raises:
        InvalidPayment: unknown dwelling, wrong currency, amount not positive or finer than
            the currency's minor unit.
    """
    repo = PaymentRepository(session)
    account_currency = await repo.dwelling_currency(dwelling_id)
    if account_currency is None:
        raise InvalidPayment(f"dwelling {dwelling_id} does not exist")
    if currency is not None and currency.upper() != account_currency:
        raise InvalidPayment(
            f"dwelling {dwelling_id} is billed in {account_currency}, not {currency.upper()}"
        )
    try:
        money = Money(amount, get_currency(account_currency))
    except (TypeError, ValueError):
        raise InvalidPayment(
            f"amount {amount} is not a whole number of {account_currency} minor units"
        ) from None
    if money.amount <= 0:
        raise InvalidPayment(f"amount {amount} must be positive")
    settled = method not in PROVIDER_METHODS
    payment = await repo.add(
        Payment(
            dwelling_id=dwelling_id,
            method=method,
            status=PaymentStatus.SUCCEEDED if settled else PaymentStatus.PENDING,
            amount_minor=money.to_minor(),
            currency=account_currency,
            reference=new_reference(),
            provider_ref=provider_ref,
            received_at=now if settled else None,
            recorded_by=recorded_by,
            note=note,
        )
    )
    if settled:
        await repo.allocate([dwelling_id], at=now)
    return payment


@dataclass(frozen=True)
class EventOutcome:
    payment: Payment
    # False: the event was seen before (replay) or the payment was already settled.
    applied: bool
    allocations: Sequence[Allocated] = ()


async def apply_provider_event(
    session: AsyncSession, *, event: ProviderEvent, payload: Mapping[str, Any], now: datetime
) -> EventOutcome:
    """Apply what a provider says about one of our payments, exactly once.

    Raises:
        PaymentNotFound: no payment has the event's reference, or not for this provider.
        PaymentMismatch: the provider reports another currency than the payment's.
    """
    repo = PaymentRepository(session)
    payment = await repo.lock_by_reference(event.reference)
    if payment is None or payment.method is not event.method:
        raise PaymentNotFound(f"no {event.method.value} payment has reference {event.reference!r}")
    if event.currency is not None and event.currency != payment.currency:
        raise PaymentMismatch(
            f"payment {event.reference} is in {payment.currency},"
            f" the provider says {event.currency}"
        )
    if not await repo.record_event(event, payment_id=payment.id, payload=dict(payload)):
        return EventOutcome(payment=payment, applied=False)
    if payment.status is not PaymentStatus.PENDING or event.status is PaymentStatus.PENDING:
        return EventOutcome(payment=payment, applied=False)
    payment.provider_ref = event.provider_ref or payment.provider_ref
    if event.status is PaymentStatus.FAILED:
        payment.status = PaymentStatus.FAILED
        await session.flush()
        return EventOutcome(payment=payment, applied=True)
    if event.amount_minor is not None and event.amount_minor != payment.amount_minor:
        logger.warning(
            "payment %s: asked %d, provider received %d; recording what was received",
            payment.reference,
            payment.amount_minor,
            event.amount_minor,
        )
        payment.note = (
            f"{payment.note} asked {payment.amount_minor}, received {event.amount_minor}".strip()
        )
        payment.amount_minor = event.amount_minor
    payment.status = PaymentStatus.SUCCEEDED
    payment.received_at = now
    await session.flush()
    allocations = await repo.allocate([payment.dwelling_id], at=now)
    return EventOutcome(payment=payment, applied=True, allocations=allocations)


async def apply_credit(
    session: AsyncSession, *, dwelling_ids: Sequence[int] | None = None, at: datetime | None = None
) -> list[Allocated]:
    """Let accounts' credit (unallocated payments) pay their open invoices, e.g. new ones.

    ``dwelling_ids`` None: every account that has both credit and an open invoice.
    """
    repo = PaymentRepository(session)
    if dwelling_ids is None:
        dwelling_ids = await repo.accounts_with_credit_and_debt()
    return await repo.allocate(dwelling_ids, at=at)


@dataclass(frozen=True)
class Balance:
    """Where someone stands in one currency: what their open invoices still owe, and the credit
    (paid, not yet taken by any invoice) that will pay the next ones."""

    currency: str
    owed_minor: int
    open_invoices: int
    credit_minor: int


async def balances(
    session: AsyncSession,
    *,
    invoice_reach: Sequence[ColumnElement[bool]],
    payment_reach: ColumnElement[bool] | None,
) -> list[Balance]:
    """Per currency, what the invoices in ``invoice_reach`` owe and the credit left by the
    payments in ``payment_reach``; currencies with neither are absent."""
    repo = PaymentRepository(session)
    owed = {o.currency: o for o in await repo.owed_by_currency(invoice_reach)}
    credit = await repo.credit_by_currency(payment_reach)
    return [
        Balance(
            currency=currency,
            owed_minor=owed[currency].owed_minor if currency in owed else 0,
            open_invoices=owed[currency].open_invoices if currency in owed else 0,
            credit_minor=credit.get(currency, 0),
        )
        for currency in sorted(owed.keys() | credit.keys())
    ]


@dataclass(frozen=True)
class ReminderRun:
    allocations: int
    penalties_proposed: int
    notices: NoticeResult


async def daily_reminders(
    session: AsyncSession,
    *,
    today: date,
    reminder_days: int,
    now: datetime,
    billing: BillingSettings,
) -> ReminderRun:
    """The day's reminder run, in one transaction: credit pays new invoices first (so nobody is
    reminded of what their credit covers), then penalties are proposed, then the billing SMS are
    queued in the outbox (drained by the caller after commit)."""
    allocations = await apply_credit(session)
    proposals = await propose_penalties(session, today=today)
    notices = await queue_due_notices(
        session, today=today, reminder_days=reminder_days, now=now, billing=billing
    )
    return ReminderRun(len(allocations), len(proposals), notices)


async def get_payment(session: AsyncSession, *, payment_id: int) -> Payment:
    payment = await PaymentRepository(session).get(payment_id)
    if payment is None:
        raise PaymentNotFound(f"payment {payment_id} does not exist")
    return payment


@dataclass
class PollResult:
    polled: int = 0
    succeeded: int = 0
    failed: int = 0
    still_pending: int = 0
    unreachable: int = 0
    expired: int = 0


async def poll_pending(
    engine: AsyncEngine,
    *,
    clients: Mapping[PaymentMethod, ProviderClient],
    settings: PaymentsSettings,
    now: datetime,
    limit: int = 500,
) -> PollResult:
    """Ask the providers about pending payments whose callback has not come.

    Each payment is settled in its own transaction (its row locked, as a webhook would), so a
    webhook arriving meanwhile and the poll cannot both apply. Pending payments older than
    ``poll_give_up_h`` are failed as expired first.
    """
    result = PollResult()
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        repo = PaymentRepository(session)
        result.expired = await repo.expire_pending(
            created_before=now - timedelta(hours=settings.poll_give_up_h)
        )
        due = await repo.pending_to_poll(
            methods=[m for m in clients if m in MOBILE_MONEY],
            older_than=now - timedelta(seconds=settings.poll_after_s),
            limit=limit,
        )
    for payment in due:
        client = clients[payment.method]
        result.polled += 1
        try:
            event = await asyncio.to_thread(
                client.status,
                PendingPayment(payment.reference, payment.amount_minor, payment.currency),
            )
        except ProviderUnavailable as exc:
            logger.warning("poll of payment %s failed: %s", payment.reference, exc)
            result.unreachable += 1
            continue
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            await PaymentRepository(session).mark_polled(payment.id)
            outcome = await apply_provider_event(
                session, event=event, payload={"poll": event.__dict__}, now=now
            )
        status = outcome.payment.status
        if status is PaymentStatus.SUCCEEDED:
            result.succeeded += 1
        elif status is PaymentStatus.FAILED:
            result.failed += 1
        else:
            result.still_pending += 1
    return result
