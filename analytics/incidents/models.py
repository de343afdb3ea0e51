"""Analytics tables: incidents (anomalies with a lifecycle) and the incremental scan's watermark.

Registered on ``core.models.Base`` so that one metadata describes the whole schema (migrations
are compared against it).
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

from core.models import Base, ReadingSource


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class IncidentKind(StrEnum):
    LEAK = "leak"
    BURST = "burst"
    BACKFLOW = "backflow"
    STUCK = "stuck"
    SILENT = "silent"
    TAMPER = "tamper"
    DRY = "dry"
    LOW_BATTERY = "low_battery"
    ABNORMAL = "abnormal"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class IncidentStatus(StrEnum):
    """``open``/``acknowledged`` while the condition lasts; the scan sets ``resolved`` when it is
    over; ``closed`` is an operator's final word (e.g. a false alarm dismissed)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"


ACTIVE_STATUSES = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (
        # At most one live incident per meter and kind: re-running a scan updates it instead of
        # opening a duplicate, and a race between two scans fails loudly instead of doubling.
        Index(
            "uq_incident_one_active",
            "meter_id",
            "kind",
            unique=True,
            postgresql_where=text("status IN ('open', 'acknowledged')"),
        ),
        # A meter's incident history, newest first (meter page, technician's visit).
        Index("ix_incident_meter_started", "meter_id", "started_at"),
        # Dashboards list live incidents by kind; the partial index stays small as history grows.
        Index(
            "ix_incident_active_kind",
            "kind",
            "severity",
            postgresql_where=text("status IN ('open', 'acknowledged')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    # Plain text, not a database enum: new detectors add kinds without a migration.
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[Severity] = mapped_column(_enum(Severity, "incident_severity"))
    status: Mapped[IncidentStatus] = mapped_column(
        _enum(IncidentStatus, "incident_status"), server_default=IncidentStatus.OPEN.value
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # User ids of the accounts package (no foreign key until that table is merged).
    acknowledged_by: Mapped[int | None] = mapped_column(Integer)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by the alerting job once the customer has been told: one SMS per incident.
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A person's final word (``closed``): who, when, and why (required while still ongoing).
    closed_by: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, server_default="")


class AlertStatus(StrEnum):
    """Where one customer's SMS about one incident stands.

    ``queued`` and ``deferred`` (quiet hours, daily cap) wait for ``next_attempt_at``; ``failed``
    is retried until the attempts run out (then ``next_attempt_at`` is NULL); ``muted`` (the
    customer muted the category) and ``cancelled`` (an operator closed the incident first) are
    kept so that no alert disappears without a trace.
    """

    QUEUED = "queued"
    DEFERRED = "deferred"
    SENT = "sent"
    FAILED = "failed"
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
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    text: Mapped[str] = mapped_column(Text, server_default="")
    provider_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlertMute(Base):
    """A category of incident a customer does not want SMS about."""

    __tablename__ = "alert_mute"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AnalyticsScan(Base):
    """Where the incremental scan got to: meters touched after ``watermark`` are scanned next."""

    __tablename__ = "analytics_scan"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ReadingFlag(Base):
    """A VEE rule's verdict on one reading (or local day), beside the raw reading, which is
    never rewritten; ``validated_index_l`` is what billing may use (NULL: rejected)."""

    __tablename__ = "reading_flag"
    __table_args__ = (
        CheckConstraint(
            "status IN ('accepted', 'suspect', 'rejected', 'estimated')", name="status"
        ),
        # The review queue: suspect flags, newest first, fleet-wide.
        Index("ix_reading_flag_suspect", "created_at", postgresql_where=text("status = 'suspect'")),
    )

    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    rule: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[ReadingSource | None] = mapped_column(
        Enum(
            ReadingSource,
            name="reading_source",
            create_type=False,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    status: Mapped[str] = mapped_column(String(16))
    raw_index_l: Mapped[int | None] = mapped_column(BigInteger)
    validated_index_l: Mapped[int | None] = mapped_column(BigInteger)
    used_l: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reviewed_by: Mapped[int | None] = mapped_column(Integer)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
