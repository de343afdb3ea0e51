"""The telemetry schema: readings, quarantine, rollups, per-meter state and the rollup queue.

Ingest writes these tables (hot writes through psycopg COPY), analytics and billing read them, and
the registry queues re-rollups when a meter is replaced: they live in ``core`` so that none of
those domains imports another for them.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.orm import Base, pg_enum


class ReadingSource(StrEnum):
    IOT = "iot"
    MANUAL = "manual"
    ESTIMATED = "estimated"


class QuarantineStatus(StrEnum):
    OPEN = "open"
    REPROCESSED = "reprocessed"
    DISCARDED = "discarded"


class Reading(Base):
    """One register read; a TimescaleDB hypertable partitioned on ``time``.

    No foreign key to ``meter``: the ingest join already resolves serials to ids, and a per-row
    FK check would cost on the hottest write path. Meters are never deleted, only removed.
    """

    __tablename__ = "reading"

    # The primary key is the dedupe key (a reading delivered twice is stored once, through
    # ON CONFLICT DO NOTHING) and its index serves "a meter's readings over a time range".
    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    source: Mapped[ReadingSource] = mapped_column(
        pg_enum(ReadingSource, "reading_source"), primary_key=True
    )
    index_l: Mapped[int] = mapped_column(BigInteger)
    flow_lph: Mapped[float | None] = mapped_column(Double)
    battery_pct: Mapped[int | None] = mapped_column(SmallInteger)
    signal_dbm: Mapped[int | None] = mapped_column(SmallInteger)
    # Bit set of device alarms, see wire.alarms.Alarm.
    alarms: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Quarantine(Base):
    """A message the ingest could not store as readings, kept verbatim with the reason."""

    __tablename__ = "quarantine"
    __table_args__ = (
        # The operator's list: open items by reason, newest first.
        Index("ix_quarantine_status_reason_received", "status", "reason", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, server_default="")
    serial: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[QuarantineStatus] = mapped_column(
        pg_enum(QuarantineStatus, "quarantine_status"), server_default=QuarantineStatus.OPEN.value
    )
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MeterHourly(Base):
    """Volume per meter and local clock hour, from index differences (never summed floats).

    A TimescaleDB hypertable on ``hour_start``. Boundary indexes are interpolated between the
    readings around them and rounded once, so consecutive hours telescope: their volumes sum
    exactly to the index difference, and to the day's volume in ``meter_daily``.
    """

    __tablename__ = "meter_hourly"

    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The instant the local hour starts (local hours of a 25-hour DST day stay distinct).
    hour_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    volume_l: Mapped[int] = mapped_column(BigInteger)
    start_index_l: Mapped[int] = mapped_column(BigInteger)
    end_index_l: Mapped[int] = mapped_column(BigInteger)
    reading_count: Mapped[int] = mapped_column(Integer)
    start_interpolated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    end_interpolated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    has_estimate: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # A decrease that is not a register wrap was counted as zero (VEE decides what it was).
    negative_step: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MeterDaily(Base):
    """Volume per meter and local calendar day: the sum of its local hours in ``meter_hourly``."""

    __tablename__ = "meter_daily"
    __table_args__ = (
        # Fleet, zone and building charts read a range of days across every meter: the primary
        # key leads with the meter and cannot narrow that scan.
        Index("ix_meter_daily_day", "day", "meter_id"),
    )

    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    volume_l: Mapped[int] = mapped_column(BigInteger)
    start_index_l: Mapped[int] = mapped_column(BigInteger)
    end_index_l: Mapped[int] = mapped_column(BigInteger)
    reading_count: Mapped[int] = mapped_column(Integer)
    has_estimate: Mapped[bool] = mapped_column(Boolean, server_default="false")
    start_interpolated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    end_interpolated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    negative_step: Mapped[bool] = mapped_column(Boolean, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MeterState(Base):
    """Latest reading per meter, maintained with each ingest batch.

    "Last reading of every meter" over the hypertable is a DISTINCT ON over millions of rows; this
    row answers it from one index, and gives ingest the previous index to judge a new one.
    """

    __tablename__ = "meter_state"

    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), primary_key=True)
    last_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_index_l: Mapped[int] = mapped_column(BigInteger)
    last_received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    readings_total: Mapped[int] = mapped_column(BigInteger, server_default="0")


class RollupPending(Base):
    """Meters whose rollups are stale from ``since`` on: written in each ingest batch's
    transaction, drained by the rollup refresh, so a late reading re-opens only what it touches.
    """

    __tablename__ = "rollup_pending"

    meter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
