"""The incremental jobs' watermarks: the anomaly scan's, and the VEE run's (name ``vee``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base


class AnalyticsScan(Base):
    """Where the incremental scan got to: meters touched after ``watermark`` are scanned next."""

    __tablename__ = "analytics_scan"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
