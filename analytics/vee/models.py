"""The VEE's verdicts: one flag per rule and reading (or local day), beside the raw reading."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base
from core.telemetry import ReadingSource


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
