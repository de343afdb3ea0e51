"""Field tables: photos, meter faults and the idempotency keys of offline uploads.

Registered on ``core.orm.Base`` so that one metadata describes the whole schema.
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
    SmallInteger,
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


class FaultKind(StrEnum):
    BROKEN = "broken"  # glass, register or body damaged
    ILLEGIBLE = "illegible"  # register cannot be read
    LEAKING = "leaking"  # water leaking at the meter
    TAMPERED = "tampered"  # seal broken, bypass, magnet
    STOPPED = "stopped"  # register does not move while water flows
    NO_ACCESS = "no_access"  # meter could not be reached
    OTHER = "other"


class FaultStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Photo(Base):
    """A field photo; the file lives under ``field.photo_dir`` named by its SHA-256."""

    __tablename__ = "photo"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # The same picture uploaded twice (a retried sync) is one file and one row.
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class MeterFault(Base):
    __tablename__ = "meter_fault"
    __table_args__ = (
        # Operators list open faults newest first; rounds look up a meter's open faults.
        Index("ix_meter_fault_status_meter", "status", "meter_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    kind: Mapped[FaultKind] = mapped_column(_enum(FaultKind, "fault_kind"))
    note: Mapped[str] = mapped_column(Text, server_default="")
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id"))
    status: Mapped[FaultStatus] = mapped_column(
        _enum(FaultStatus, "fault_status"), server_default=FaultStatus.OPEN.value
    )
    reported_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    # When the technician saw it (may be long before the sync), and when the server heard of it.
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ManualReading(Base):
    """What the field adds to a ``source='manual'`` row of the reading hypertable: who read it,
    the note and the photo. Rejected uploads have no row here (their answer is kept with the
    idempotency key)."""

    __tablename__ = "manual_reading"

    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    read_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    note: Mapped[str] = mapped_column(Text, server_default="")
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id"))
    outcome: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdempotencyKey(Base):
    """One offline upload, by the key its client chose: replays answer ``response`` again."""

    __tablename__ = "idempotency_key"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    endpoint: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the request's meaning (fields and photo hash): same key, other body -> 409.
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
