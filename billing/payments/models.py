"""Payment ledger tables: payments, provider events, allocations, SMS notice claims, penalties.

One ledger for every method. A payment belongs to a dwelling's account (invoices are per
dwelling); what it has not paid off yet is the account's credit, allocated to the next invoice.
Allocations are rows, never recomputed balances: an invoice's paid amount is the sum of its
allocations, a payment's unallocated rest is its amount less its allocations.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

import billing.invoices.models  # noqa: F401  (invoice, referenced by allocations and penalties)
from billing.payments.providers import PaymentMethod, PaymentStatus
from core.notifications.models import SmsOutbox
from core.orm import Base


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class NoticeKind(StrEnum):
    INVOICE_ISSUED = "invoice_issued"
    DUE_REMINDER = "due_reminder"
    PAYMENT_RECEIVED = "payment_received"


class NoticeStatus(StrEnum):
    # Handed to the SMS outbox (``outbox_id``), which sends and retries it.
    CLAIMED = "claimed"
    # Nobody to tell: no occupant with a phone number.
    NO_RECIPIENT = "no_recipient"


class PenaltyStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class Payment(Base):
    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "allocated_minor BETWEEN 0 AND amount_minor", name="allocated_within_amount"
        ),
        CheckConstraint(
            "(status = 'succeeded') = (received_at IS NOT NULL)", name="received_when_succeeded"
        ),
        # Allocation walks an account's succeeded payments oldest first.
        Index("ix_payment_dwelling_received", "dwelling_id", "received_at"),
        # The poller reads only pending payments, oldest first; the rest of the ledger is
        # never scanned for it.
        # Credit: succeeded payments with an unallocated rest, a small part of the ledger.
        Index(
            "ix_payment_unallocated",
            "dwelling_id",
            postgresql_where=text("status = 'succeeded' AND allocated_minor < amount_minor"),
        ),
        Index(
            "ix_payment_pending_created",
            "created_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # A double click sends the same key twice: the second insert finds the first payment.
        Index(
            "uq_payment_idempotency_key",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    dwelling_id: Mapped[int] = mapped_column(ForeignKey("dwelling.id"))
    method: Mapped[PaymentMethod] = mapped_column(_enum(PaymentMethod, "payment_method"))
    status: Mapped[PaymentStatus] = mapped_column(_enum(PaymentStatus, "payment_status"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    # The sum of its allocations, kept by the allocation statement; the rest is credit.
    allocated_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    # Ours, sent to the provider (MTN's externalId, Orange's order_id) or printed on a receipt.
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    # The provider's transaction id, or the bank's / agent's slip number.
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    note: Mapped[str] = mapped_column(Text, server_default="")
    polls: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The key a customer's "pay now" carried (one per click of a form): asked once, whatever
    # the clicks.
    idempotency_key: Mapped[str | None] = mapped_column(String(64))


class PaymentEvent(Base):
    """A provider event applied to a payment, stored in the payment's transaction: a replayed
    or concurrent delivery of the same event hits the primary key and changes nothing."""

    __tablename__ = "payment_event"

    method: Mapped[PaymentMethod] = mapped_column(
        _enum(PaymentMethod, "payment_method"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    status: Mapped[PaymentStatus] = mapped_column(_enum(PaymentStatus, "payment_status"))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class PaymentAllocation(Base):
    __tablename__ = "payment_allocation"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        # "What is paid on this invoice" is read per invoice by reports and status updates.
        Index("ix_payment_allocation_invoice", "invoice_id"),
    )

    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BillingNotice(Base):
    """The decision to send one SMS about one invoice or payment: the unique key makes it once."""

    __tablename__ = "billing_notice"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", name="uq_billing_notice_kind_subject"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[NoticeKind] = mapped_column(_enum(NoticeKind, "notice_kind"))
    # An invoice id, or a payment id for PAYMENT_RECEIVED.
    subject_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[NoticeStatus] = mapped_column(_enum(NoticeStatus, "notice_status"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey(SmsOutbox.id))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LatePenalty(Base):
    """A late penalty proposed by rule on an overdue invoice, applied once an admin approves."""

    __tablename__ = "late_penalty"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), unique=True)
    overdue_minor: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PenaltyStatus] = mapped_column(_enum(PenaltyStatus, "penalty_status"))
    proposed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
