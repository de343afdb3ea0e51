"""Close tables: the billing periods (each also the lock of its closes and issues), and the
holds a close puts on dwellings it may not bill, with why."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class HoldReason(StrEnum):
    TAMPER = "tamper"  # a tamper window (view tamper_hold) in the period: untrusted register
    NEGATIVE_STEP = "negative_step"  # an unexplained register decrease awaits validation (VEE)
    MISSING_READING = "missing_reading"  # no reading at or after a boundary yet
    ROLLUP_PENDING = "rollup_pending"  # readings not yet in the rollups
    NO_TARIFF = "no_tariff"  # no tariff in force for the dwelling's zone


class BillingPeriod(Base):
    """A billing period: local calendar days ``start_date``..``end_date`` (both included).

    One row per period whatever the zone: a close restricted to a zone bills that zone's
    dwellings of the same period. The row is also the close's lock (``SELECT ... FOR UPDATE``).
    """

    __tablename__ = "billing_period"
    __table_args__ = (
        UniqueConstraint("start_date", "end_date"),
        CheckConstraint("end_date >= start_date", name="dates_in_order"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    label: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    last_closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Readings received up to this instant were looked at for late data (jobs late_data).
    late_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BillingHold(Base):
    """A dwelling held back from a period's close for review, with why."""

    __tablename__ = "billing_hold"
    __table_args__ = (
        # A re-close upserts on it: one hold per dwelling, period and reason.
        UniqueConstraint("period_id", "dwelling_id", "reason"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("billing_period.id"))
    dwelling_id: Mapped[int] = mapped_column(ForeignKey("dwelling.id"))
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meter.id"))
    reason: Mapped[HoldReason] = mapped_column(_enum(HoldReason, "hold_reason"))
    detail: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set when the cause is gone at a re-close, or an admin releases it (bill it anyway).
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
