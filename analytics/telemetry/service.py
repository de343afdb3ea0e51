"""Telemetry reads: a meter's readings and volumes, and how the fleet's ingest is doing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.telemetry.exceptions import InvalidTimeRange
from analytics.telemetry.repository import TelemetryRepository, Windows
from analytics.telemetry.schemas import (
    Granularity,
    IngestStatus,
    MeterIngestPage,
    MeterIngestStatus,
    MeterReadings,
    MeterVolumes,
    QuarantineCount,
    ReadingOut,
    VolumeBucket,
)
from registry.exceptions import MeterNotFound

# Without an explicit range, volumes cover the last two days (hourly) or ~three months (daily).
DEFAULT_SPAN = {Granularity.HOUR: timedelta(days=2), Granularity.DAY: timedelta(days=92)}


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    """A time without offset (or a bare date) is read in the meter's local time zone."""
    return value.replace(tzinfo=zone) if value is not None and value.tzinfo is None else value


def _check_order(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise InvalidTimeRange(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")


async def _timezone(repository: TelemetryRepository, *, meter_id: int, default_country: str) -> str:
    timezone = await repository.meter_timezone(meter_id=meter_id, default_country=default_country)
    if timezone is None:
        raise MeterNotFound(f"meter {meter_id} does not exist")
    return timezone


async def meter_readings(
    session: AsyncSession,
    *,
    meter_id: int,
    start: datetime | None,
    end: datetime | None,
    source: str | None,
    limit: int,
    default_country: str,
    windows: Windows = None,
) -> MeterReadings:
    """A meter's raw readings in [start, end) and in ``windows`` (the caller's hold of the
    meter; None: all), newest first; times without an offset are local."""
    repository = TelemetryRepository(session)
    zone = ZoneInfo(await _timezone(repository, meter_id=meter_id, default_country=default_country))
    start, end = _local(start, zone), _local(end, zone)
    _check_order(start, end)
    rows = await repository.readings(
        meter_id=meter_id, start=start, end=end, source=source, limit=limit, windows=windows
    )
    return MeterReadings(
        meter_id=meter_id,
        start=start,
        end=end,
        count=len(rows),
        readings=[ReadingOut(**row) for row in rows],
    )


async def meter_volumes(
    session: AsyncSession,
    *,
    meter_id: int,
    granularity: Granularity,
    start: datetime | None,
    end: datetime | None,
    max_days: int,
    default_country: str,
    now: datetime,
    windows: Windows = None,
) -> MeterVolumes:
    """Hourly or daily volumes of buckets starting in [start, end), labelled in local time.

    Times without an offset (and bare dates) are read in the meter's local time zone, so
    ``start=2026-03-01`` means the meter's local midnight. Only buckets starting in ``windows``
    (the caller's hold of the meter; None: all) count.

    Raises:
        MeterNotFound: no such meter.
        InvalidTimeRange: reversed, or longer than ``max_days``.
    """
    repository = TelemetryRepository(session)
    timezone = await _timezone(repository, meter_id=meter_id, default_country=default_country)
    zone = ZoneInfo(timezone)
    given_start, given_end = _local(start, zone), _local(end, zone)
    _check_order(given_start, given_end)
    end = given_end or now
    start = given_start or end - DEFAULT_SPAN[granularity]
    _check_order(start, end)
    if end - start > timedelta(days=max_days):
        raise InvalidTimeRange(
            f"a {granularity.value}ly range may span at most {max_days} days"
            f" (asked for {(end - start).total_seconds() / 86400:.1f})"
        )
    if granularity is Granularity.HOUR:
        rows = await repository.hourly(meter_id=meter_id, start=start, end=end, windows=windows)
        buckets = [_hour_bucket(row, zone) for row in rows]
    else:
        rows = await repository.daily(
            meter_id=meter_id, timezone=timezone, start=start, end=end, windows=windows
        )
        buckets = [_day_bucket(row, zone) for row in rows]
    return MeterVolumes(
        meter_id=meter_id,
        granularity=granularity,
        timezone=timezone,
        start=start,
        end=end,
        total_volume_l=sum(bucket.volume_l for bucket in buckets),
        stale_since=await repository.pending_since(meter_id=meter_id),
        buckets=buckets,
    )


def _flags(row: dict[str, Any]) -> dict[str, Any]:
    flags = ("start_interpolated", "end_interpolated", "has_estimate", "negative_step")
    return {
        "volume_l": row["volume_l"],
        "start_index_l": row["start_index_l"],
        "end_index_l": row["end_index_l"],
        "reading_count": row["reading_count"],
        "estimated": any(row[flag] for flag in flags),
        **{flag: row[flag] for flag in flags},
    }


def _hour_bucket(row: dict[str, Any], zone: ZoneInfo) -> VolumeBucket:
    start: datetime = row["start"]
    local = start.astimezone(zone)
    return VolumeBucket(
        start=start.astimezone(UTC),
        end=(start + timedelta(hours=1)).astimezone(UTC),
        label=local.isoformat(timespec="minutes"),
        local_date=local.date(),
        **_flags(row),
    )


def _day_bucket(row: dict[str, Any], zone: ZoneInfo) -> VolumeBucket:
    day: date = row["day"]
    return VolumeBucket(
        start=datetime.combine(day, time(), zone).astimezone(UTC),
        end=datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC),
        label=day.isoformat(),
        local_date=day,
        **_flags(row),
    )


def _seconds(later: datetime, earlier: datetime | None) -> float | None:
    return None if earlier is None else round((later - earlier).total_seconds(), 3)


async def ingest_status(session: AsyncSession, *, now: datetime) -> IngestStatus:
    """Fleet ingest at a glance: rate, lag, rollup queue, reporting/silent meters, quarantine."""
    repository = TelemetryRepository(session)
    counts = await repository.recent_reading_counts(now=now)
    fleet = await repository.fleet(now=now)
    quarantine = await repository.quarantine_counts()
    return IngestStatus(
        now=now,
        readings_last_minute=counts["last_minute"],
        readings_last_5_minutes=counts["last_5_minutes"],
        readings_per_second=round(counts["last_5_minutes"] / 300, 3),
        newest_reading_at=fleet["newest_reading_at"],
        lag_s=_seconds(now, fleet["newest_reading_at"]),
        rollup_queue_depth=fleet["rollup_queue_depth"],
        rollup_oldest_pending_s=_seconds(now, fleet["rollup_oldest_queued_at"]),
        meters_active=fleet["meters_active"],
        meters_reporting=fleet["meters_reporting"],
        meters_hand_read=fleet["meters_hand_read"],
        meters_silent=fleet["meters_active"]
        - fleet["meters_reporting"]
        - fleet["meters_hand_read"],
        quarantine=[QuarantineCount(**row) for row in quarantine],
    )


async def meter_ingest_statuses(
    session: AsyncSession, *, now: datetime, limit: int, offset: int
) -> MeterIngestPage:
    """Last seen per active meter, silent ones first."""
    total, rows = await TelemetryRepository(session).meter_statuses(
        now=now, limit=limit, offset=offset
    )
    return MeterIngestPage(
        total=total,
        limit=limit,
        offset=offset,
        meters=[
            MeterIngestStatus(
                **row,
                silent_for_s=_seconds(now, row["last_seen_at"]) if row["silent"] else None,
            )
            for row in rows
        ],
    )
