"""Calendar features of daily consumption: pure functions over numpy arrays, no I/O."""

from __future__ import annotations

import numpy as np

from analytics.arrays import FloatArray, IntArray, TimeArray


def weekday_profile(daily_l: FloatArray, weekday: IntArray) -> FloatArray:
    """Mean volume of each weekday (Monday=0) divided by the overall mean; 1.0 where unknown.

    Days that are NaN or zero (absence) do not shape the profile.
    """
    used = ~np.isnan(daily_l) & (daily_l > 0)
    if not used.any():
        return np.ones(7)
    overall = float(daily_l[used].mean())
    sums = np.bincount(weekday[used], weights=daily_l[used], minlength=7)
    counts = np.bincount(weekday[used], minlength=7)
    means = np.divide(sums, counts, out=np.full(7, overall), where=counts > 0)
    profile: FloatArray = means / overall
    return profile


def weekdays(days: TimeArray) -> IntArray:
    """Monday=0 ... Sunday=6 of ``datetime64[D]`` days (1970-01-01 was a Thursday)."""
    return ((days.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(np.int64)
