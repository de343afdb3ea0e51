"""The incident table: an anomaly with a lifecycle (open, acknowledged, resolved, closed).

Registered on ``core.orm.Base`` so that one metadata describes the whole schema (migrations
are compared against it).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base


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
    # Who is to handle it (a staff user id), set by an operator; None: nobody yet.
    assigned_to: Mapped[int | None] = mapped_column(Integer)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by the alerting job once the customer has been told: one SMS per incident.
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A person's final word (``closed``): who, when, and why (required while still ongoing).
    closed_by: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(Text, server_default="")
