"""Hourly series of a household for detector tests (UTC is the local clock here)."""

from __future__ import annotations

import numpy as np

from analytics.anomalies.features import HourlySeries

START = np.datetime64("2026-10-05T00:00", "s")  # a Monday


def household(days: int, *, seed: int = 0, occupants: int = 3) -> np.ndarray:
    """Litres per hour: nothing at night, morning and evening peaks, a few draws in between."""
    rng = np.random.default_rng(seed)
    hours = np.zeros((days, 24))
    for day in range(days):
        for hour in (6, 7, 12, 18, 19, 20, 21):
            hours[day, hour] = rng.uniform(10, 40) * occupants / 3
        hours[day, 7] += 60  # the morning shower
        for hour in rng.choice(np.arange(8, 23), size=4, replace=False):
            hours[day, hour] += rng.uniform(2, 15)
    return np.round(hours.reshape(-1))


def series(volumes: np.ndarray, start: np.datetime64 = START) -> HourlySeries:
    hours = start + np.arange(len(volumes)).astype("timedelta64[h]")
    return HourlySeries(
        hour_start=hours.astype("datetime64[s]"),
        volume_l=volumes.astype(float),
        local_day=hours.astype("datetime64[D]"),
        local_hour=(hours.astype("datetime64[h]").astype(np.int64) % 24),
    )


def split(volumes: np.ndarray, history_days: int) -> tuple[HourlySeries, HourlySeries]:
    """(history, recent) as the scan cuts them."""
    cut = history_days * 24
    return (
        series(volumes[:cut]),
        series(volumes[cut:], START + np.timedelta64(cut, "h")),
    )
