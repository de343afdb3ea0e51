"""Payments, penalties and reports over HTTP. Amounts travel in major units as decimal strings
("1500", "12.50") with their currency, as in the tariff routes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from billing.payments.collect import Receipt
from billing.payments.models import LatePenalty, Payment, PenaltyStatus
from billing.payments.providers import PaymentMethod, PaymentStatus
from billing.payments.service import Balance
from core.money import Money, get_currency
from core.orm import MAX_ID


def _major(minor: int, currency: str) -> Decimal:
    return Money.from_minor(minor, get_currency(currency)).amount


class PaymentIn(BaseModel):
    dwelling_id: int = Field(ge=1, le=MAX_ID, description="The account (dwelling) paid for.")
    method: PaymentMethod = Field(
        description="cash and bank_transfer count at once; card and mobile money start pending"
        " until the provider confirms (webhook or poll)."
    )
    amount: Decimal = Field(
        gt=0,
        le=Decimal(10) ** 12,
        description="In major units of the dwelling's currency (1500, 12.50).",
    )
    currency: str | None = Field(
        None, min_length=3, max_length=3, description="Checked against the dwelling's currency."
    )
    provider_ref: str | None = Field(
        None, max_length=128, description="Bank slip, agent receipt or provider transaction id."
    )
    note: str = Field("", max_length=2000)


class PaymentOut(BaseModel):
    id: int
    dwelling_id: int
    method: PaymentMethod
    status: PaymentStatus
    amount: Decimal
    amount_minor: int
    currency: str
    reference: str
    provider_ref: str | None
    received_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            id=payment.id,
            dwelling_id=payment.dwelling_id,
            method=payment.method,
            status=payment.status,
            amount=_major(payment.amount_minor, payment.currency),
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            reference=payment.reference,
            provider_ref=payment.provider_ref,
            received_at=payment.received_at,
            created_at=payment.created_at,
        )


class WebhookOut(BaseModel):
    payment_id: int
    reference: str
    status: PaymentStatus
    applied: bool = Field(description="False for a replayed event or an already settled payment.")


class PenaltyOut(BaseModel):
    id: int
    invoice_id: int
    status: PenaltyStatus
    overdue: Decimal
    amount: Decimal
    amount_minor: int
    currency: str
    proposed_at: datetime
    decided_by: int | None
    decided_at: datetime | None

    @classmethod
    def of(cls, penalty: LatePenalty) -> PenaltyOut:
        return cls(
            id=penalty.id,
            invoice_id=penalty.invoice_id,
            status=penalty.status,
            overdue=_major(penalty.overdue_minor, penalty.currency),
            amount=_major(penalty.amount_minor, penalty.currency),
            amount_minor=penalty.amount_minor,
            currency=penalty.currency,
            proposed_at=penalty.proposed_at,
            decided_by=penalty.decided_by,
            decided_at=penalty.decided_at,
        )


class ProposedOut(BaseModel):
    proposed: int


class BalanceOut(BaseModel):
    currency: str
    owed: Decimal = Field(description="What the open invoices still owe, penalties included.")
    owed_minor: int
    open_invoices: int
    credit: Decimal = Field(
        description="Paid and not yet taken by any invoice: it pays the next ones when issued."
    )
    credit_minor: int

    @classmethod
    def of(cls, balance: Balance) -> BalanceOut:
        return cls(
            currency=balance.currency,
            owed=_major(balance.owed_minor, balance.currency),
            owed_minor=balance.owed_minor,
            open_invoices=balance.open_invoices,
            credit=_major(balance.credit_minor, balance.currency),
            credit_minor=balance.credit_minor,
        )


class PayOptionOut(BaseModel):
    method: PaymentMethod = Field(description="The provider API that collects the payment.")
    operator: str = Field(description="The operator's name, as customers of the country know it.")


class PayNowIn(BaseModel):
    method: PaymentMethod = Field(description="One of the invoice's pay options.")
    phone: str = Field(
        min_length=1,
        max_length=32,
        description="The payer's mobile money number; national numbers are read in the"
        " invoice's country.",
    )


class PayNowOut(BaseModel):
    payment: PaymentOut
    operator: str
    finish_url: str | None = Field(
        None,
        description="Where the payer finishes (Orange Money web payment); none: they approve"
        " on their phone.",
    )


class PaidInvoiceOut(BaseModel):
    invoice_id: int
    number: str | None
    status: str
    amount: Decimal
    amount_minor: int


class ReceiptOut(BaseModel):
    payment: PaymentOut
    invoices: list[PaidInvoiceOut] = Field(description="What this payment paid, oldest first.")
    owed_minor: int = Field(description="What the dwelling's open invoices still owe now.")
    credit_minor: int = Field(
        description="Paid and not yet taken by any invoice: it pays the next ones when issued."
    )
    credit: Decimal

    @classmethod
    def of(cls, receipt: Receipt) -> ReceiptOut:
        currency = receipt.payment.currency
        return cls(
            payment=PaymentOut.of(receipt.payment),
            invoices=[
                PaidInvoiceOut(
                    invoice_id=i.invoice_id,
                    number=i.number,
                    status=i.status,
                    amount=_major(i.amount_minor, currency),
                    amount_minor=i.amount_minor,
                )
                for i in receipt.invoices
            ],
            owed_minor=receipt.owed_minor,
            credit_minor=receipt.credit_minor,
            credit=_major(receipt.credit_minor, currency),
        )
