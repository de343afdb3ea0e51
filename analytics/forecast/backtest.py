"""Rolling-origin backtest of daily forecasts against the naive "same day last week"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.arrays import FloatArray, IntArray
from analytics.forecast.forecaster import WeeklyLevelForecaster, seasonal_naive


@dataclass(frozen=True)
class Scores:
    """Errors over every (meter, origin, horizon day); MAPE and interval coverage only over days
    with use (no forecast can know when a household leaves on holiday)."""

    mae_l: float
    mape: float
    coverage: float | None = None


@dataclass(frozen=True)
class BacktestResult:
    model: Scores
    baseline: Scores
    forecasts: int


def _scores(errors: FloatArray, actual: FloatArray, inside: FloatArray | None) -> Scores:
    used = actual > 0
    return Scores(
        mae_l=float(np.abs(errors).mean()),
        mape=float((np.abs(errors[used]) / actual[used]).mean()),
        coverage=None if inside is None else float(inside[used].mean()),
    )


def backtest(
    volumes: FloatArray,
    weekday: IntArray,
    *,
    model: WeeklyLevelForecaster,
    min_history: int = 56,
    step: int = 7,
    horizon: int = 30,
) -> BacktestResult:
    """Fit on each meter's days before each origin, forecast ``horizon`` days, compare.

    Args:
        volumes: litres, shape (meters, days).
        weekday: weekday (Monday=0) of each day.
        model: an unfitted forecaster, cloned for every fit.
    """
    from sklearn.base import clone

    model_errors, base_errors, actuals, inside = [], [], [], []
    days = volumes.shape[1]
    for origin in range(min_history, days - horizon + 1, step):
        future = weekday[origin : origin + horizon, None]
        for series in volumes:
            history, actual = series[:origin], series[origin : origin + horizon]
            fitted = clone(model).fit(weekday[:origin, None], history)
            low, high = fitted.predict_interval(future)
            model_errors.append(fitted.predict(future) - actual)
            base_errors.append(seasonal_naive(history, horizon) - actual)
            inside.append((actual >= low) & (actual <= high))
            actuals.append(actual)
    actual_all = np.concatenate(actuals)
    return BacktestResult(
        model=_scores(
            np.concatenate(model_errors), actual_all, np.concatenate(inside).astype(float)
        ),
        baseline=_scores(np.concatenate(base_errors), actual_all, None),
        forecasts=len(actuals),
    )
