"""The ``dwelling_absence`` table: who said a dwelling would be empty, when, and through what."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Identity, Index, Integer, func
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, pg_enum


class AbsenceSource(StrEnum):
    PORTAL = "portal"
    SMS = "sms"
    OPERATOR = "operator"


class DwellingAbsence(Base):
    """Nobody home from ``from_date`` to ``to_date``, both included (local dates); a cancelled
    absence is kept (``cancelled_at``) so that an SMS confirmation still names a real row."""

    __tablename__ = "dwelling_absence"
    __table_args__ = (
        CheckConstraint("to_date >= from_date", name="dates_in_order"),
        # The scan asks "which of these dwellings are away over these days" per batch of meters.
        Index("ix_dwelling_absence_dwelling_dates", "dwelling_id", "from_date", "to_date"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    dwelling_id: Mapped[int] = mapped_column(ForeignKey("dwelling.id"))
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date] = mapped_column(Date)
    source: Mapped[AbsenceSource] = mapped_column(pg_enum(AbsenceSource, "absence_source"))
    declared_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
