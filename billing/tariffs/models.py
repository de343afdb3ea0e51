"""Tariff tables: one row per version, its blocks and its subscriptions.

Amounts (service fee, subscriptions, fixed penalty) are integers in the currency's minor units,
as all money is. Prices per m³ and percentages are rates, not amounts: they are ``Numeric`` with
a fixed scale (a price of 0.365 XAF per litre-equivalent is legitimate even though no invoice
line ever holds less than a franc), and only their products are rounded, by ``core.money``.

A version is never edited: an administrator adds a new one with a later ``effective_from``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.orm import Base
from registry.models import DwellingType


class TariffVersion(Base):
    __tablename__ = "tariff"
    __table_args__ = (
        # One version per scope and start day. NULLS NOT DISTINCT makes country-wide versions
        # (zone_id NULL) unique too; the same index serves "latest version on or before a date".
        Index(
            "uq_tariff_scope_effective",
            "country_code",
            "zone_id",
            "effective_from",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("vat_pct BETWEEN 0 AND 100", name="vat_pct"),
        CheckConstraint("penalty_pct BETWEEN 0 AND 100", name="penalty_pct"),
        CheckConstraint(
            "service_fee_minor >= 0 AND penalty_fixed_minor >= 0", name="amounts_not_negative"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"))
    # NULL: the country-wide tariff, used by every zone without a version of its own.
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    currency: Mapped[str] = mapped_column(String(3))
    effective_from: Mapped[date] = mapped_column(Date)
    vat_pct: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    service_fee_minor: Mapped[int] = mapped_column(BigInteger)
    penalty_pct: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    penalty_fixed_minor: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, server_default="")
    # The administrator's user id; a foreign key once the accounts tables exist.
    created_by: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    blocks: Mapped[list[TariffBlock]] = relationship(
        order_by="TariffBlock.position", cascade="all, delete-orphan", lazy="selectin"
    )
    subscriptions: Mapped[list[TariffSubscription]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class TariffBlock(Base):
    __tablename__ = "tariff_block"
    __table_args__ = (
        CheckConstraint("price_per_m3 >= 0", name="price_not_negative"),
        CheckConstraint("position >= 1", name="position_from_one"),
    )

    tariff_id: Mapped[int] = mapped_column(
        ForeignKey("tariff.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    # Inclusive upper bound for a 30-day period, whole litres; NULL on the open-ended last block.
    upper_m3: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))
    price_per_m3: Mapped[Decimal] = mapped_column(Numeric(14, 6))


class TariffSubscription(Base):
    __tablename__ = "tariff_subscription"
    __table_args__ = (CheckConstraint("monthly_minor >= 0", name="monthly_not_negative"),)

    tariff_id: Mapped[int] = mapped_column(
        ForeignKey("tariff.id", ondelete="CASCADE"), primary_key=True
    )
    dwelling_type: Mapped[DwellingType] = mapped_column(
        Enum(
            DwellingType,
            name="dwelling_type",
            values_callable=lambda e: [m.value for m in e],
            create_type=False,
        ),
        primary_key=True,
    )
    monthly_minor: Mapped[int] = mapped_column(BigInteger)
