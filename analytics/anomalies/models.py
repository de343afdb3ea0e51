"""The incremental jobs' watermarks: the VEE run's (``analytics_scan``, name ``vee``) and the
anomaly scan's, per detector and partition (``analytics_watermark``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, func
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


class AnalyticsWatermark(Base):
    """How far in event time each detector has judged each partition of the meters (meter-id
    hash modulo ``partitions``): its next scan judges from there, whatever the gap."""

    __tablename__ = "analytics_watermark"

    detector: Mapped[str] = mapped_column(String(32), primary_key=True)
    partitions: Mapped[int] = mapped_column(Integer, primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    watermark: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
