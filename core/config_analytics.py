"""The analytics sections of ``core.config.Settings``: anomaly scan, VEE, customer alerts."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, Field


class AnalyticsSettings(BaseModel):
    history_days: int = Field(
        28, ge=7, description="Days before the detection window that teach each meter's normal."
    )
    detect_days: int = Field(
        14, ge=2, description="Recent days the hourly detectors (leak, burst, stuck) look at."
    )
    absent_day_l: float = Field(
        20.0,
        ge=0,
        description="A day using less than this is an absent day (holiday, vacancy): it is left "
        "out of every baseline, so that coming home is never abnormal.",
    )
    vacancy_min_days: int = Field(
        3,
        ge=1,
        description="Consecutive low days that make an inferred vacancy (left out of baselines).",
    )
    vacancy_step_ratio: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="A day is low when under absent_day_l or this fraction of the meter's busy "
        "day, its 90th percentile (a step down: the garden still watered, nobody home).",
    )
    reading_days: int = Field(
        2,
        ge=1,
        description="Raw readings are re-read this far before the watermark (backflow, device "
        "alarms): readings arriving up to this late are still judged.",
    )
    catch_up_days: int = Field(
        120,
        ge=1,
        description="A scan judges everything since each detector's watermark (a first scan: "
        "since this many days), but never further back than this.",
    )
    catch_up_step_days: int = Field(
        7,
        ge=1,
        description="After missed scans or on a first scan, the detectors' window slides over "
        "the span in steps of at most this many days (each window detect_days plus a step).",
    )
    partitions: int = Field(
        1,
        ge=1,
        le=256,
        description="Partitions of the meters (id hash) the scan runs as, each a job with its own "
        "lock and watermarks: workers judge different partitions side by side.",
    )
    batch_meters: int = Field(
        500, ge=1, description="Meters read and analysed per batch (bounds memory)."
    )
    peer_meters: int = Field(
        500, ge=10, description="Dwellings per type sampled to learn normal consumption."
    )
    watermark_overlap_s: int = Field(
        300,
        ge=0,
        description="Incremental scans re-read this much before the watermark (late commits).",
    )
    work_mem: str = Field(
        "256MB",
        pattern=r"^\d+(kB|MB|GB)$",
        description="PostgreSQL work_mem of a scan (its hourly read groups a reading per hour).",
    )


class VeeSettings(BaseModel):
    lookback_days: int = Field(
        3, ge=1, description="Days of readings each VEE run re-reads around the new ones."
    )
    gap_intervals: float = Field(
        2.5, gt=1, description="Readings further apart than this many intervals leave a gap."
    )
    short_gap_s: int = Field(
        6 * 3600,
        ge=0,
        description="Gaps up to this long are estimated linearly, longer ones "
        "from the meter's own hourly profile.",
    )
    max_estimate_days: int = Field(
        31, ge=1, description="A silent meter gets estimates this long after its last reading."
    )
    spike_ratio: float = Field(
        3.0, gt=0, description="A step using this many times the meter's average day is a spike."
    )
    spike_min_l: int = Field(200, ge=0, description="Spikes smaller than this are ignored.")
    zero_days: int = Field(
        3, ge=1, description="Consecutive zero days in an occupied dwelling that are flagged."
    )
    min_usual_daily_l: int = Field(
        50, ge=0, description="Zero days count only where the meter's usual day is above this."
    )
    usual_days: int = Field(28, ge=7, description="Days of rollups that define the usual day.")


class AlertSettings(BaseModel):
    confirm_after_s: int = Field(
        3600, ge=0, description="An incident still live this long after opening is confirmed."
    )
    quiet_start: time = Field(
        time(21, 0), description="Start of the quiet hours, customer's local time (no SMS)."
    )
    quiet_end: time = Field(
        time(7, 0), description="End of the quiet hours; deferred SMS go out from then."
    )
    daily_cap: int = Field(
        3, ge=1, description="Alert SMS per customer and local day; more wait for the next day."
    )


class OccupancySettings(BaseModel):
    """Declared absences (holiday mode); inferred vacancy is the scan's (``analytics``)."""

    max_absence_days: int = Field(
        180, ge=1, description="Longest absence a customer or manager may declare, in days."
    )
    max_ahead_days: int = Field(
        365, ge=0, description="How far ahead an absence may start, in days."
    )
