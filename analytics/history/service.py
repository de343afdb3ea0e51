"""History of a scope (fleet, zone, building, meter) over a window, with a bounded point count.

The window decides the step: the last hour by minute (60 points, from the newest readings), the
last day by hour (24), 30 days by day (30); a custom range of local days goes by hour up to
``HOURLY_UP_TO_DAYS`` days and by day beyond, up to ``MAX_CUSTOM_DAYS``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from analytics.history.exceptions import InvalidWindow, ScopeNotFound
from analytics.history.repository import HistoryRepository
from analytics.history.schemas import History, HistoryPoint, ScopeKind, Step, Window

# Three days of hours (72 points) still read well on a phone; beyond, days.
HOURLY_UP_TO_DAYS = 3
# A year of days (366 points): longer ranges are the reports' business, not a chart's.
MAX_CUSTOM_DAYS = 366
MONTH_DAYS = 30


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


def scope_of(
    *, zone_id: int | None, building_id: int | None, meter_id: int | None
) -> tuple[ScopeKind, int | None]:
    """The one scope the ids name (none: the fleet).

    Raises:
        InvalidWindow: more than one id was given.
    """
    given = [
        (kind, value)
        for kind, value in (
            (ScopeKind.ZONE, zone_id),
            (ScopeKind.BUILDING, building_id),
            (ScopeKind.METER, meter_id),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise InvalidWindow("give at most one of zone_id, building_id and meter_id")
    return given[0] if given else (ScopeKind.FLEET, None)


def _custom_days(first: date | None, last: date | None) -> tuple[date, date]:
    if first is None or last is None:
        raise InvalidWindow("a custom window needs both start and end (local dates)")
    if last < first:
        raise InvalidWindow(f"end ({last}) must not be before start ({first})")
    days = (last - first).days + 1
    if days > MAX_CUSTOM_DAYS:
        raise InvalidWindow(f"a custom window spans at most {MAX_CUSTOM_DAYS} days (not {days})")
    return first, last


async def history(
    session: AsyncSession,
    *,
    kind: ScopeKind,
    scope_id: int | None,
    window: Window,
    first: date | None,
    last: date | None,
    default_country: str,
    now: datetime,
) -> History:
    """Readings and volumes of the scope's meters per step of the window ending ``now``.

    Args:
        first: first local day of a custom window.
        last: last local day of a custom window (included).

    Raises:
        ScopeNotFound: no such zone, building or meter.
        InvalidWindow: a custom window without both dates, reversed or too long; dates given
            with another window.
    """
    if window is not Window.CUSTOM and (first is not None or last is not None):
        raise InvalidWindow("start and end go with window=custom only")
    repository = HistoryRepository(session)
    timezone = await repository.timezone(kind, scope_id, default_country=default_country)
    if timezone is None:
        raise ScopeNotFound(f"no {kind.value} with id {scope_id}")
    zone = ZoneInfo(timezone)
    rows: list[dict[str, Any]]
    if window is Window.HOUR:
        step = Step.MINUTE
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = end - timedelta(hours=1)
        rows = await repository.minutes(kind, scope_id, start=start, end=end)
    elif window is Window.DAY:
        step = Step.HOUR
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        start = end - timedelta(days=1)
        rows = await repository.hours(kind, scope_id, start=start, end=end)
    else:
        if window is Window.DAYS_30:
            last = now.astimezone(zone).date()
            first = last - timedelta(days=MONTH_DAYS - 1)
        else:
            first, last = _custom_days(first, last)
        start, end = _midnight(first, zone), _midnight(last + timedelta(days=1), zone)
        if (last - first).days < HOURLY_UP_TO_DAYS:
            step = Step.HOUR
            rows = await repository.hours(kind, scope_id, start=start, end=end)
        else:
            step = Step.DAY
            rows = await repository.days(kind, scope_id, first=first, last=last, timezone=timezone)
    points = [HistoryPoint(**row) for row in rows]
    measured = step is not Step.MINUTE
    return History(
        scope=kind,
        scope_id=scope_id,
        window=window,
        step=step,
        timezone=timezone,
        start=start,
        end=end,
        total_readings=sum(p.readings for p in points),
        total_volume_l=sum(p.volume_l or 0 for p in points) if measured else None,
        points=points,
    )
