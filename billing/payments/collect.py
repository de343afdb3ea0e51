"""Pay now: a customer's mobile money payment of an invoice, asked from the portal.

The flow, each step its own transaction so the provider is asked only about a committed payment:

1. ``start_mobile_payment`` records a pending payment of what the invoice still owes, under the
   customer's idempotency key (one per pay form: a double click, a retry after a lost answer,
   finds the first payment and asks nothing twice).
2. The caller commits, then asks the provider (``ProviderClient.request_to_pay``) only for a
   payment this call created; the payer approves on their phone (MoMo) or on the provider's page
   (Orange Money web payment). A refused or unanswered request fails the payment
   (``request_failed``): nothing was asked, nothing can arrive.
3. The provider's webhook or the poll job settles it (``service.apply_provider_event``) and
   allocates it; ``receipt`` is what the customer then sees.

Only the operators of the invoice's own country (``BillingSettings.utility``) may be used: a
Papua New Guinea invoice is never paid through Cameroon's MTN MoMo.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from billing.payments.exceptions import (
    IdempotencyKeyReused,
    InvalidPayment,
    NothingToPay,
    PaymentNotFound,
)
from billing.payments.models import Payment
from billing.payments.providers import MOMO_SHAPED, PaymentMethod, PaymentStatus
from billing.payments.repository import PaidInvoice, PaymentRepository
from billing.payments.service import new_reference
from core.config_billing import BillingSettings, ChannelKind


@dataclass(frozen=True)
class PayOption:
    """One way to pay now in the invoice's country: its provider and the operator's name."""

    method: PaymentMethod
    operator: str


def pay_options(
    billing: BillingSettings, *, country_code: str, available: set[PaymentMethod]
) -> list[PayOption]:
    """The country's mobile money operators a customer can pay now with (a provider is
    configured for them), in the country's order."""
    options = []
    for channel in billing.utility(country_code).channels:
        if channel.kind is ChannelKind.MOBILE_MONEY and channel.provider:
            method = PaymentMethod(channel.provider)
            if method in available:
                options.append(PayOption(method, channel.operator or method.value))
    return options


@dataclass(frozen=True)
class Started:
    payment: Payment
    # True: this call created the payment, so it is the one to ask the provider.
    created: bool
    operator: str


async def start_mobile_payment(
    session: AsyncSession,
    *,
    invoice_id: int,
    method: PaymentMethod,
    idempotency_key: str,
    user_id: int,
    billing: BillingSettings,
    available: set[PaymentMethod],
) -> Started:
    """Record a pending payment of what ``invoice_id`` still owes, once per idempotency key.

    The caller has checked the invoice is the user's.

    Raises:
        IdempotencyKeyReused: the key was used for another invoice, method or person (409).
        NothingToPay: the invoice owes nothing (paid, void) (409).
        InvalidPayment: ``method`` is not a way to pay now in the invoice's country (422).
    """
    repo = PaymentRepository(session)
    invoice = await repo.invoice_owed(invoice_id)
    if invoice is None:
        raise PaymentNotFound(f"invoice {invoice_id} does not exist")
    options = {
        o.method: o.operator
        for o in pay_options(billing, country_code=invoice.country_code, available=available)
    }
    if method not in options:
        offered = ", ".join(options.values()) or "none"
        raise InvalidPayment(
            f"{method.value} is not a way to pay now in {invoice.country_code}"
            f" (offered there: {offered})"
        )
    note = f"pay now: invoice {invoice.number or invoice.id}"
    earlier = await repo.by_idempotency_key(idempotency_key)
    if earlier is None:
        if invoice.status not in ("issued", "partially_paid", "overdue") or invoice.owed_minor <= 0:
            raise NothingToPay(f"invoice {invoice.number or invoice.id} owes nothing")
        # MoMo's referenceId must be a UUID; ours serves as both (providers module docstring).
        reference = str(uuid.uuid4()) if method in MOMO_SHAPED else new_reference()
        created = await repo.add_keyed(
            Payment(
                dwelling_id=invoice.dwelling_id,
                method=method,
                status=PaymentStatus.PENDING,
                amount_minor=invoice.owed_minor,
                currency=invoice.currency,
                reference=reference,
                recorded_by=user_id,
                note=note,
                idempotency_key=idempotency_key,
            )
        )
        if created is not None:
            return Started(created, created=True, operator=options[method])
        # Another request with this key committed first: it is the one that asks.
        earlier = await repo.by_idempotency_key(idempotency_key)
        assert earlier is not None
    if (earlier.recorded_by, earlier.method, earlier.note) != (user_id, method, note):
        raise IdempotencyKeyReused(
            f"idempotency key {idempotency_key!r} was used for another payment"
        )
    return Started(earlier, created=False, operator=options[method])


async def request_failed(session: AsyncSession, *, payment_id: int, reason: str) -> Payment:
    """The provider refused or did not answer the request to pay: the payment fails (still
    pending only: a callback may have settled it meanwhile)."""
    repo = PaymentRepository(session)
    payment = await repo.get(payment_id)
    if payment is None:
        raise PaymentNotFound(f"payment {payment_id} does not exist")
    await session.refresh(payment, with_for_update=True)
    if payment.status is PaymentStatus.PENDING:
        payment.status = PaymentStatus.FAILED
        payment.note = f"{payment.note}; request to pay failed: {reason}"[:2000]
        await session.flush()
    return payment


@dataclass(frozen=True)
class Receipt:
    """A payment as its payer sees it: what it paid, what is still owed, the credit left."""

    payment: Payment
    invoices: Sequence[PaidInvoice]
    # The dwelling's account after this payment, in its currency.
    owed_minor: int
    credit_minor: int


async def receipt(session: AsyncSession, *, payment: Payment) -> Receipt:
    repo = PaymentRepository(session)
    return Receipt(
        payment=payment,
        invoices=await repo.allocations_of(payment.id),
        owed_minor=await repo.balance_minor(payment.dwelling_id),
        credit_minor=await repo.credit_minor(payment.dwelling_id),
    )
