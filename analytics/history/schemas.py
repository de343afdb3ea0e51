"""What the history read returns: one point per step over a bounded time window."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Window(StrEnum):
    HOUR = "hour"
    DAY = "day"
    DAYS_30 = "30d"
    CUSTOM = "custom"


class Step(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


class ScopeKind(StrEnum):
    FLEET = "fleet"
    ZONE = "zone"
    BUILDING = "building"
    METER = "meter"


class HistoryPoint(BaseModel):
    start: datetime = Field(description="Instant the step starts (UTC).")
    local_date: date | None = Field(description="The local day, for daily steps.")
    readings: int = Field(description="Readings whose device time falls in the step.")
    meters: int = Field(description="Meters with at least one reading in the step.")
    volume_l: int | None = Field(
        description="Litres used in the step; null for minute steps (rollups are hourly)."
    )
    estimated: bool = Field(
        description="Some of the volume is not exactly measured (interpolated or estimated)."
    )


class History(BaseModel):
    scope: ScopeKind
    scope_id: int | None
    window: Window
    step: Step
    timezone: str = Field(description="The scope's time zone: days are cut in it.")
    start: datetime
    end: datetime = Field(description="Exclusive.")
    total_readings: int
    total_volume_l: int | None
    points: list[HistoryPoint] = Field(description="Oldest first; steps without data omitted.")
