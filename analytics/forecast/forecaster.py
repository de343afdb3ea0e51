"""Daily consumption forecast: a recent level times day-of-week factors (estimator contract).

Chosen by backtest (``bench/forecast_backtest.py``) against the naive "same day last week":
household use is a slowly moving level with a weekly shape plus day-to-day noise. An exponentially
weighted level averages the noise away where the naive forecast copies it; multiplicative
weekday factors carry the shape. Absence days (zero use: holidays, vacancy) are left out of both,
so a week away neither drags the level to zero nor becomes the pattern.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from sklearn.base import BaseEstimator

from analytics.arrays import FloatArray, IntArray


class WeeklyLevelForecaster(BaseEstimator):  # type: ignore[misc]
    """Expected litres per day = level x factor[weekday], with an empirical interval.

    ``fit(X, y)``: ``X`` is a column of weekdays (Monday=0) of consecutive days in time order and
    ``y`` their litres (NaN for unknown). ``predict(X)`` forecasts the days that follow.

    Args:
        alpha: weight of the newest day in the exponentially weighted level (0-1).
        season_weeks: recent weeks the weekday factors are estimated from.
        shrinkage: pull of the weekday factors towards 1 (days seen once are noisy).
        coverage: probability covered by the prediction interval (on days with use).
        interval_lag: lead (days) at which past errors are measured for the interval.
    """

    def __init__(
        self,
        alpha: float = 0.1,
        season_weeks: int = 8,
        shrinkage: float = 0.3,
        coverage: float = 0.8,
        interval_lag: int = 14,
    ) -> None:
        self.alpha = alpha
        self.season_weeks = season_weeks
        self.shrinkage = shrinkage
        self.coverage = coverage
        self.interval_lag = interval_lag

    def fit(self, X: IntArray, y: FloatArray) -> Self:
        weekday = np.asarray(X).reshape(-1).astype(np.int64)
        volumes = np.asarray(y, dtype=np.float64)
        present = ~np.isnan(volumes) & (volumes > 0)
        recent = present.copy()
        recent[: max(len(volumes) - 7 * self.season_weeks, 0)] = False
        self.weekday_factor_ = self._weekday_factors(volumes, weekday, recent)
        deseasoned = volumes / self.weekday_factor_[weekday]
        level = float(np.median(deseasoned[present])) if present.any() else 0.0
        # Level known before each day: the interval comes from how far days land from the level
        # known ``interval_lag`` days earlier, i.e. from this meter's own backtest residuals at
        # a mid-horizon lead, not from one-day-ahead errors that would be too narrow.
        levels = np.full(len(volumes), np.nan)
        for t, (value, is_present) in enumerate(zip(deseasoned, present, strict=True)):
            levels[t] = level
            if is_present:
                level = self.alpha * value + (1 - self.alpha) * level
        self.level_ = level
        lagged = np.roll(levels, self.interval_lag)
        usable = present.copy()
        usable[: self.interval_lag] = False
        usable &= lagged > 0
        ratios = deseasoned[usable] / lagged[usable]
        tail = (1 - self.coverage) / 2
        if len(ratios) >= 14:
            self.interval_ratio_ = (
                float(np.quantile(ratios, tail)),
                float(np.quantile(ratios, 1 - tail)),
            )
        else:
            self.interval_ratio_ = (0.5, 1.5)
        self.n_features_in_ = 1
        return self

    def _weekday_factors(
        self, volumes: FloatArray, weekday: IntArray, used: np.ndarray
    ) -> FloatArray:
        if not used.any():
            return np.ones(7)
        overall = float(np.mean(volumes[used]))
        sums = np.bincount(weekday[used], weights=volumes[used], minlength=7)
        counts = np.bincount(weekday[used], minlength=7)
        raw = np.divide(sums, counts * overall, out=np.ones(7), where=counts > 0)
        factors: FloatArray = self.shrinkage + (1 - self.shrinkage) * raw
        normalised: FloatArray = factors / factors.mean()
        return normalised

    def predict(self, X: IntArray) -> FloatArray:
        weekday = np.asarray(X).reshape(-1).astype(np.int64)
        forecast: FloatArray = self.level_ * self.weekday_factor_[weekday]
        return forecast

    def predict_interval(self, X: IntArray) -> tuple[FloatArray, FloatArray]:
        """(lower, upper) litres a day: ``coverage`` of past errors at ``interval_lag`` days."""
        point = self.predict(X)
        low, high = self.interval_ratio_
        return point * low, point * high


def seasonal_naive(y: FloatArray, horizon: int) -> FloatArray:
    """The baseline: each future day repeats the same weekday of the last observed week."""
    last_week = np.asarray(y, dtype=np.float64)[-7:]
    return np.resize(last_week, horizon)
