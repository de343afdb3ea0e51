"""Invoice tables (migration 0008): invoices with their lines and meter indexes, regularisation
approvals and the gapless number sequence per country and year. Names here are relied on by the
payments package.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

import billing.close.models
import billing.tariffs.models  # noqa: F401  (billing_period and tariff, referenced by invoices)
from billing.tariffs.pricing import InvoiceKind
from core.orm import Base
from registry.models import DwellingType


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    VOID = "void"


class Invoice(Base):
    """One invoice (or regularisation document) of a dwelling for a period.

    Amounts are integers in the currency's minor units; ``total_minor`` is the exact sum of the
    lines (``net_minor + vat_minor``). Once out of ``draft`` the content is frozen by the trigger
    ``invoice_immutable`` (migration 0008): only the status, payment and void columns move.
    """

    __tablename__ = "invoice"
    __table_args__ = (
        # One live periodic/subscription-only invoice per dwelling and period: the close upserts
        # on it, so running it twice (or twice at once) gives one set of invoices.
        Index(
            "uq_invoice_dwelling_period",
            "dwelling_id",
            "period_id",
            unique=True,
            postgresql_where=text("kind <> 'regularisation' AND status <> 'void'"),
        ),
        # At most one regularisation awaiting approval per original invoice (re-closes update it).
        Index(
            "uq_invoice_pending_regularisation",
            "corrects_invoice_id",
            unique=True,
            postgresql_where=text("kind = 'regularisation' AND status = 'draft'"),
        ),
        # Numbers are gapless per country and year; unique so a bug cannot print one twice.
        Index("uq_invoice_number", "country_code", "number", unique=True),
        # Lists by status and period (close, issue, overdue job, reports).
        Index("ix_invoice_period_status", "period_id", "status"),
        # A customer's or building's invoices go through their dwellings.
        Index("ix_invoice_dwelling_id", "dwelling_id"),
        # The overdue job reads open invoices by due date.
        Index(
            "ix_invoice_open_due",
            "due_date",
            postgresql_where=text("status IN ('issued', 'partially_paid')"),
        ),
        CheckConstraint("total_minor = net_minor + vat_minor", name="total_is_net_plus_vat"),
        CheckConstraint("(status = 'draft') = (number IS NULL)", name="number_iff_issued"),
        CheckConstraint(
            "(kind = 'regularisation') = (corrects_invoice_id IS NOT NULL)",
            name="regularisation_links_original",
        ),
        CheckConstraint("status <> 'void' OR void_reason IS NOT NULL", name="void_has_reason"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[InvoiceKind] = mapped_column(_enum(InvoiceKind, "invoice_kind"))
    status: Mapped[InvoiceStatus] = mapped_column(
        _enum(InvoiceStatus, "invoice_status"), server_default=InvoiceStatus.DRAFT.value
    )
    period_id: Mapped[int] = mapped_column(ForeignKey("billing_period.id"))
    dwelling_id: Mapped[int] = mapped_column(ForeignKey("dwelling.id"))
    # The occupant billed (tenant first, else owner, at the period's end); NULL if none.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"))
    currency: Mapped[str] = mapped_column(String(3))
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariff.id"))
    corrects_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    dwelling_type: Mapped[DwellingType] = mapped_column(
        Enum(
            DwellingType,
            name="dwelling_type",
            values_callable=lambda e: [m.value for m in e],
            create_type=False,
        )
    )
    period_days: Mapped[int] = mapped_column(SmallInteger)
    volume_l: Mapped[int] = mapped_column(BigInteger)
    # Some boundary index was interpolated, not read.
    estimated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    net_minor: Mapped[int] = mapped_column(BigInteger)
    vat_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    # Kept by the payments ledger; status follows it (partially_paid, paid).
    paid_minor: Mapped[int] = mapped_column(BigInteger, server_default="0")
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    void_reason: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    lines: Mapped[list[InvoiceLineRow]] = relationship(
        order_by="InvoiceLineRow.position", lazy="selectin", viewonly=True
    )
    meters: Mapped[list[InvoiceMeter]] = relationship(
        order_by="InvoiceMeter.opening_at", lazy="selectin", viewonly=True
    )


class InvoiceLineRow(Base):
    """One printed line; ``kind`` is a ``billing.tariffs.pricing.LineKind`` value or another
    package's (penalty, credit): a string, so they extend it without a migration."""

    __tablename__ = "invoice_line"

    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    block: Mapped[int | None] = mapped_column(SmallInteger)
    lower_l: Mapped[int | None] = mapped_column(BigInteger)
    upper_l: Mapped[int | None] = mapped_column(BigInteger)
    volume_l: Mapped[int | None] = mapped_column(BigInteger)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 6))
    vat_pct: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    description: Mapped[str] = mapped_column(Text, server_default="")


class InvoiceMeter(Base):
    """A meter's opening and closing index on an invoice (two rows after a replacement)."""

    __tablename__ = "invoice_meter"

    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), primary_key=True
    )
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), primary_key=True)
    opening_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opening_index_l: Mapped[int] = mapped_column(BigInteger)
    opening_estimated: Mapped[bool] = mapped_column(Boolean)
    closing_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closing_index_l: Mapped[int] = mapped_column(BigInteger)
    closing_estimated: Mapped[bool] = mapped_column(Boolean)
    volume_l: Mapped[int] = mapped_column(BigInteger)


class InvoiceApproval(Base):
    """An administrator's approval of a regularisation; the key refuses the same admin twice."""

    __tablename__ = "invoice_approval"

    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), primary_key=True
    )
    admin_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    approved_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class InvoiceNumberSequence(Base):
    """Last number given per country and year; the issuing transaction locks the row, so
    numbers are gapless (a rolled-back issue gives its numbers back)."""

    __tablename__ = "invoice_number_sequence"

    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, server_default="0")
