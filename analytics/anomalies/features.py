"""Feature extraction: pure functions over numpy arrays, no I/O (STYLE 41).

A meter's recent history arrives as an :class:`HourlySeries`: one slot per UTC hour, contiguous,
with the volume that flowed during that hour (NaN where the data does not say) and the local
calendar day and hour of the slot, so that "night" and "day" follow the dwelling's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from analytics.arrays import BoolArray, FloatArray, IntArray, TimeArray

# 01:00-05:00 local: the hours when a household is asleep and any flow is suspect
# (the "minimum night flow" of water-loss practice, IWA water balance).
NIGHT_HOURS = (1, 2, 3, 4)


@dataclass(frozen=True)
class HourlySeries:
    """One meter's hourly volumes over a window.

    ``hour_start`` is UTC ``datetime64[s]``, one per consecutive hour; ``local_day`` is
    ``datetime64[D]`` and ``local_hour`` 0-23 on the dwelling's clock.
    """

    hour_start: TimeArray
    volume_l: FloatArray
    local_day: TimeArray
    local_hour: IntArray


@dataclass(frozen=True)
class ReadingSeries:
    """One meter's raw readings in time order (``flow_lph`` NaN where the device sent none)."""

    time: TimeArray
    index_l: IntArray
    flow_lph: FloatArray
    alarms: IntArray


@dataclass(frozen=True)
class DailyFeatures:
    """Per local day of an :class:`HourlySeries` (days in ascending order)."""

    day: TimeArray
    first_hour: TimeArray
    total_l: FloatArray
    hours_covered: IntArray
    zero_hours: IntArray
    night_min_lph: FloatArray


def daily_features(
    series: HourlySeries, night_hours: tuple[int, ...] = NIGHT_HOURS
) -> DailyFeatures:
    """Daily totals, coverage, zero-flow hours and minimum night flow of each local day.

    A day's total or night minimum is NaN when an hour it needs is missing: a gap must never read
    as zero use (that would hide a leak) nor as use (that would invent one).
    """
    # Local days ascend along the series (it is in time order): a running count of day changes
    # numbers them, without np.unique's sort (this runs several times per meter per scan).
    local_day = series.local_day
    if len(local_day) == 0:
        days, inverse = local_day, np.zeros(0, dtype=np.int64)
        starts = np.zeros(0, dtype=np.int64)
    else:
        change = np.concatenate(([False], local_day[1:] != local_day[:-1]))
        inverse = np.cumsum(change)
        starts = np.flatnonzero(np.concatenate(([True], change[1:])))
        days = local_day[starts]
    n = len(days)
    known = ~np.isnan(series.volume_l)
    hours_covered = np.bincount(inverse, weights=known, minlength=n).astype(np.int64)
    summed = np.bincount(inverse, weights=np.where(known, series.volume_l, 0.0), minlength=n)
    slots = np.bincount(inverse, minlength=n)
    total: FloatArray = np.where(hours_covered == slots, summed, np.nan)
    zero = np.bincount(inverse, weights=known & (series.volume_l <= 0), minlength=n).astype(
        np.int64
    )
    night = np.isin(series.local_hour, night_hours)
    night_min = np.full(n, np.inf)
    night_known_hours = night & known
    np.minimum.at(night_min, inverse[night_known_hours], series.volume_l[night_known_hours])
    night_known = np.bincount(inverse[night], weights=known[night], minlength=n)
    night_min = np.where(night_known == len(night_hours), night_min, np.nan)
    first_hour = series.hour_start[starts]
    return DailyFeatures(
        day=days,
        first_hour=first_hour,
        total_l=total,
        hours_covered=hours_covered,
        zero_hours=zero,
        night_min_lph=night_min,
    )


def present_days(daily_l: FloatArray, absent_day_l: float) -> FloatArray:
    """The days someone was home: an absent day (under ``absent_day_l``) says nothing of a
    household's usual use, and a median over a fortnight away would make the usual day zero."""
    return daily_l[daily_l >= absent_day_l]


def without_absent_days(
    series: HourlySeries, absent_day_l: float, away: TimeArray | None = None
) -> HourlySeries:
    """The series with the hours of absent local days unknown (NaN), for fitting baselines:
    a peak quantile or a night minimum learned over empty days would be too low. ``away``:
    more local days to leave out (declared absences, inferred vacancies)."""
    days = daily_features(series)
    absent_day = days.day[~np.isnan(days.total_l) & (days.total_l < absent_day_l)]
    if away is not None and len(away):
        absent_day = np.concatenate((absent_day, away))
    absent = np.isin(series.local_day, absent_day)
    if not absent.any():
        return series
    return HourlySeries(
        hour_start=series.hour_start,
        volume_l=np.where(absent, np.nan, series.volume_l),
        local_day=series.local_day,
        local_hour=series.local_hour,
    )


def runs(mask: BoolArray) -> list[tuple[int, int]]:
    """Half-open index ranges ``[start, stop)`` of consecutive True values."""
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def reverse_volume_l(index_l: IntArray, max_reverse_l: int) -> IntArray:
    """Litres the register went back between consecutive readings (0 where it went forward).

    Drops larger than ``max_reverse_l`` are a register wrap or a replaced meter, not reverse flow.
    """
    drops = np.concatenate(([0], -np.diff(index_l)))
    return np.where((drops > 0) & (drops <= max_reverse_l), drops, 0).astype(np.int64)


def consumption_features(daily_l: FloatArray, occupants: float, usual_l: float) -> FloatArray:
    """Rows of (log litres per occupant, log ratio to the meter's own usual day) per day.

    The first column compares a dwelling with its peers, the second with its own history; logs
    because household use is roughly log-normal and a doubling matters as much at any size.
    """
    per_person = np.log1p(daily_l / max(occupants, 1.0))
    own = np.log1p(daily_l) - np.log1p(max(usual_l, 0.0))
    return np.column_stack((per_person, own))


@dataclass(frozen=True)
class LocalCalendar:
    """Local day (``datetime64[D]``) and hour of each UTC hour of a window, in one time zone:
    computed once per zone and shared by all its meters."""

    first_hour: int
    local_day: TimeArray
    local_hour: IntArray


def local_calendar(timezone: str, first_hour: int, hours: int) -> LocalCalendar:
    """The calendar of ``hours`` UTC hours from ``first_hour`` (hours since the epoch)."""
    zone = ZoneInfo(timezone)
    offsets = np.array(
        [_offset_s(datetime.fromtimestamp((first_hour + k) * 3600, zone)) for k in range(hours)],
        dtype=np.int64,
    )
    local_s = (first_hour + np.arange(hours, dtype=np.int64)) * 3600 + offsets
    return LocalCalendar(
        first_hour=first_hour,
        local_day=(local_s // 86400).astype("datetime64[D]"),
        local_hour=(local_s % 86400) // 3600,
    )


def _offset_s(moment: datetime) -> int:
    offset = moment.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def hourly_series(hour_end: IntArray, index_l: IntArray, calendar: LocalCalendar) -> HourlySeries:
    """Hourly volumes on a window's calendar from the register index at hour ends.

    The volume of an hour is its end index minus the previous hour's end index; it is NaN where
    either end is missing (a gap is not zero use) or the register went back (backflow and wraps
    are the backflow detector's business).
    """
    n = len(calendar.local_hour)
    volume = np.full(n, np.nan)
    if len(hour_end) > 1:
        consecutive = np.diff(hour_end) == 1
        step = np.diff(index_l)
        ok = consecutive & (step >= 0)
        # Hour ending at hour_end[i+1] starts at hour_end[i]: its slot is that minus first_hour.
        slot = hour_end[1:][ok] - 1 - calendar.first_hour
        inside = (slot >= 0) & (slot < n)
        volume[slot[inside]] = step[ok][inside]
    hours = calendar.first_hour + np.arange(n, dtype=np.int64)
    return HourlySeries(
        hour_start=(hours * 3600).astype("datetime64[s]"),
        volume_l=volume,
        local_day=calendar.local_day,
        local_hour=calendar.local_hour,
    )
