"""What the telemetry read API returns: readings, volumes per local hour or day, ingest status."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"


class ReadingOut(BaseModel):
    time: datetime = Field(description="Device time of the reading (UTC).")
    source: str = Field(description="iot, manual or estimated.")
    index_l: int = Field(description="Register index in litres.")
    flow_lph: float | None = None
    battery_pct: int | None = None
    signal_dbm: int | None = None
    alarms: int = Field(description="Device alarm bit set (see wire.alarms.Alarm).")
    received_at: datetime


class MeterReadings(BaseModel):
    meter_id: int
    start: datetime | None
    end: datetime | None
    count: int
    readings: list[ReadingOut] = Field(description="Newest first.")


class VolumeBucket(BaseModel):
    start: datetime = Field(description="Instant the local hour or day starts (UTC).")
    end: datetime = Field(description="Instant it ends: a local day lasts 23 to 25 hours.")
    label: str = Field(
        description="Local label: the date of a day, the local hour with its UTC offset."
    )
    local_date: date
    volume_l: int
    start_index_l: int
    end_index_l: int
    reading_count: int
    estimated: bool = Field(
        description="Not exactly measured: a boundary was interpolated, an estimate was used,"
        " or a negative step was counted as zero."
    )
    start_interpolated: bool
    end_interpolated: bool
    has_estimate: bool
    negative_step: bool


class MeterVolumes(BaseModel):
    meter_id: int
    granularity: Granularity
    timezone: str = Field(description="The meter's local time zone (IANA name).")
    start: datetime
    end: datetime
    total_volume_l: int
    stale_since: datetime | None = Field(
        description="Readings from this time on are queued and not in the volumes yet."
    )
    buckets: list[VolumeBucket]


class QuarantineCount(BaseModel):
    reason: str
    status: str
    count: int


class IngestStatus(BaseModel):
    now: datetime
    readings_last_minute: int = Field(description="Readings stored in the last minute.")
    readings_last_5_minutes: int
    readings_per_second: float = Field(description="Mean over the last five minutes.")
    newest_reading_at: datetime | None = Field(description="Newest device time of any meter.")
    lag_s: float | None = Field(description="now - newest device time.")
    rollup_queue_depth: int
    rollup_oldest_pending_s: float | None
    meters_active: int
    meters_reporting: int
    meters_hand_read: int = Field(
        description="Not heard from, but read by hand within the last 45 days."
    )
    meters_silent: int = Field(
        description="Nothing received for twice the meter's reporting interval, or never, and"
        " no manual reading within the last 45 days."
    )
    quarantine: list[QuarantineCount]


class MeterIngestStatus(BaseModel):
    meter_id: int
    serial: str
    reporting_interval_s: int
    last_seen_at: datetime | None = Field(description="When its last reading arrived.")
    last_reading_at: datetime | None = Field(description="Device time of its newest reading.")
    last_index_l: int | None
    readings_total: int
    silent: bool = Field(description="Not heard from, and not read by hand lately.")
    hand_read: bool = Field(description="Not heard from, but read by hand lately.")
    last_manual_at: datetime | None = Field(description="Time of its newest manual reading.")
    silent_for_s: float | None = Field(description="Seconds since last seen, when silent.")


class MeterIngestPage(BaseModel):
    total: int
    limit: int
    offset: int
    meters: list[MeterIngestStatus] = Field(description="Silent meters first.")
