"""The ``sms_outbox`` table: one row per SMS, whatever domain decided it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, pg_enum


class OutboxStatus(StrEnum):
    """Where one SMS stands.

    ``queued`` waits for ``next_attempt_at`` (a failed try is queued again, later); ``sent`` and
    ``failed`` (the attempts ran out) are final; ``cancelled`` was dropped before it went out
    (a newer code replaced it)."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SmsOutbox(Base):
    """One SMS to send: written in the transaction that decided it, sent after the commit."""

    __tablename__ = "sms_outbox"
    __table_args__ = (
        # The sender's queue: only rows still waiting carry a next attempt, so it stays small.
        Index(
            "ix_sms_outbox_due",
            "next_attempt_at",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
        ),
        # A person's messages: the data export, and cancelling a replaced code.
        Index("ix_sms_outbox_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    # What it is about (activation_code, alert, invoice_issued, ...): for people and metrics.
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    # Names the message in its domain (``alert:<incident>:<user>``): enqueuing twice is a no-op.
    dedup_key: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        pg_enum(OutboxStatus, "outbox_status"), server_default=OutboxStatus.QUEUED.value
    )
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A check the sender runs, in the transaction that records the send, before the message
    # goes out (``service.SEND_CHECKS``: a reminder for an invoice paid meanwhile is dropped).
    send_check: Mapped[str | None] = mapped_column(String(32))
    send_check_id: Mapped[int | None] = mapped_column(BigInteger)
