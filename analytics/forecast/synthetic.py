"""Synthetic daily consumption of a fleet, for the forecast backtest and tests.

Each dwelling gets a level from its occupants, its own weekly shape, a slow drift, log-normal
day-to-day noise, occasional heavy days (guests, laundry) and holidays (days of zero use). The
simulator package will provide richer fleets; this stays small and seeded.
"""

from __future__ import annotations

import numpy as np

from analytics.arrays import FloatArray


def daily_fleet(meters: int, days: int, *, seed: int) -> tuple[FloatArray, np.ndarray]:
    """(volumes litres shape (meters, days), weekday of each day with day 0 a Monday)."""
    rng = np.random.default_rng(seed)
    weekday = np.arange(days) % 7
    occupants = rng.integers(1, 7, size=meters)
    level = occupants * rng.lognormal(np.log(110), 0.3, size=meters)
    # Weekends busier for most households, some the other way round (weekend away).
    shape = 1 + rng.normal(0, 0.08, size=(meters, 7))
    shape[:, 5:] *= rng.choice([1.25, 1.1, 0.85], p=[0.5, 0.3, 0.2], size=(meters, 1))
    shape /= shape.mean(axis=1, keepdims=True)
    drift = np.cumsum(rng.normal(0, 0.01, size=(meters, days)), axis=1)
    noise = rng.lognormal(0, 0.25, size=(meters, days))
    heavy = np.where(rng.random((meters, days)) < 0.03, rng.uniform(1.5, 2.5, (meters, days)), 1)
    volumes = level[:, None] * shape[:, weekday] * np.exp(drift) * noise * heavy
    for m in range(meters):
        for _ in range(rng.poisson(days / 120)):
            start = int(rng.integers(0, days))
            volumes[m, start : start + int(rng.integers(3, 15))] = 0.0
    return np.round(volumes), weekday
