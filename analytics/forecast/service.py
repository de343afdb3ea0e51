"""A meter's expected daily consumption for the coming days, from its daily rollups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import psycopg

from analytics.anomalies.exceptions import UnknownMeters
from analytics.anomalies.repository import ScanRepository
from analytics.forecast.exceptions import NotEnoughHistory
from analytics.forecast.features import weekdays
from analytics.forecast.forecaster import WeeklyLevelForecaster


@dataclass(frozen=True)
class DailyForecast:
    """Expected litres per local day with the interval, from ``first_day`` on."""

    meter_id: int
    first_day: date
    expected_l: list[int]
    lower_l: list[int]
    upper_l: list[int]
    coverage: float

    @property
    def total_l(self) -> int:
        return sum(self.expected_l)


def forecast(
    conn: psycopg.Connection[Any],
    *,
    meter_id: int,
    today: date,
    horizon_days: int = 30,
    history_days: int = 182,
    min_history_days: int = 14,
) -> DailyForecast:
    """Expected daily consumption of one meter for ``horizon_days`` from ``today`` on.

    The invoice estimate is this total priced by the billing package's tariff engine.

    Raises:
        UnknownMeters: no such meter.
        NotEnoughHistory: fewer than ``min_history_days`` of daily rollups.
    """
    repo = ScanRepository(conn)
    if not repo.known_meters([meter_id]):
        raise UnknownMeters([meter_id])
    rows = repo.daily_volumes([meter_id], since=today - timedelta(days=history_days), until=today)
    if len(rows) < min_history_days:
        raise NotEnoughHistory(meter_id, len(rows), min_history_days)
    # A contiguous calendar, NaN where the rollup has no row: the model skips unknown days.
    first = rows[0].day
    days = np.arange(np.datetime64(first, "D"), np.datetime64(today, "D"), dtype="datetime64[D]")
    volumes = np.full(len(days), np.nan)
    volumes[[(r.day - first).days for r in rows]] = [r.volume_l for r in rows]
    model = WeeklyLevelForecaster().fit(weekdays(days)[:, None], volumes)
    future = np.datetime64(today, "D") + np.arange(horizon_days)
    future_weekdays = weekdays(future)[:, None]
    low, high = model.predict_interval(future_weekdays)
    return DailyForecast(
        meter_id=meter_id,
        first_day=today,
        expected_l=[round(v) for v in model.predict(future_weekdays)],
        lower_l=[round(v) for v in low],
        upper_l=[round(v) for v in high],
        coverage=model.coverage,
    )
