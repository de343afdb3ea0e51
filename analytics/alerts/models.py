"""The customer SMS alert tables: one delivery per incident and customer, and muted categories."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.notifications.models import SmsOutbox
from core.orm import Base


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class AlertStatus(StrEnum):
    """Where one customer's SMS about one incident stands.

    ``queued`` and ``deferred`` (quiet hours, daily cap) wait for ``next_attempt_at``; ``sent``
    means handed to the SMS outbox (``outbox_id``), which delivers and retries it; ``muted``
    (the customer muted the category) and ``cancelled`` (an operator closed the incident first)
    are kept so that no alert disappears without a trace.
    """

    QUEUED = "queued"
    DEFERRED = "deferred"
    SENT = "sent"
    MUTED = "muted"
    CANCELLED = "cancelled"


class AlertDelivery(Base):
    """One SMS to one customer about one incident: at most one per pair, whatever the retries."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        # Once per incident and customer, even when two alert jobs run at once.
        UniqueConstraint("incident_id", "user_id"),
        # The sender's queue: only rows still waiting carry a next attempt, so it stays small.
        Index(
            "ix_alert_delivery_due",
            "next_attempt_at",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
        ),
        # The daily cap counts a user's SMS sent since local midnight.
        Index("ix_alert_delivery_user_sent", "user_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    # The incident kind: what customers mute.
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[AlertStatus] = mapped_column(
        _enum(AlertStatus, "alert_status"), server_default=AlertStatus.QUEUED.value
    )
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    text: Mapped[str] = mapped_column(Text, server_default="")
    # Why it was cancelled.
    error: Mapped[str | None] = mapped_column(Text)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey(SmsOutbox.id))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When it was handed to the outbox: the daily cap counts these.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlertMute(Base):
    """A category of incident a customer does not want SMS about."""

    __tablename__ = "alert_mute"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
