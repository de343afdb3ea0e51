"""Forecast backtest: the weekly-level model against "same day last week" on synthetic fleets.

Usage: ``.venv/bin/python bench/forecast_backtest.py [--meters 300] [--days 364] [--seed 7]``.
Prints MAE (litres/day) and MAPE (over days with use) of both, and the interval's coverage.
"""

from __future__ import annotations

import argparse
import sys
import time

from analytics.forecast.backtest import backtest
from analytics.forecast.forecaster import WeeklyLevelForecaster
from analytics.forecast.synthetic import daily_fleet


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=300)
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    args = parser.parse_args()
    out = sys.stdout
    out.write("fleet   forecasts  model MAE  naive MAE  model MAPE  naive MAPE  80% interval\n")
    beaten = True
    for seed in args.seeds:
        volumes, weekday = daily_fleet(args.meters, args.days, seed=seed)
        started = time.perf_counter()
        result = backtest(volumes, weekday, model=WeeklyLevelForecaster())
        elapsed = time.perf_counter() - started
        out.write(
            f"seed {seed:<3}{result.forecasts:>10}  {result.model.mae_l:>7.1f} L"
            f"  {result.baseline.mae_l:>7.1f} L  {result.model.mape:>10.1%}"
            f"  {result.baseline.mape:>10.1%}  {result.model.coverage or 0:>11.1%}"
            f"   ({elapsed:.1f} s)\n"
        )
        beaten &= (
            result.model.mae_l < result.baseline.mae_l and result.model.mape < result.baseline.mape
        )
    out.write("model beats the baseline on every fleet\n" if beaten else "BASELINE NOT BEATEN\n")
    # Why this smoothing: the level's weight on the newest day, on the first fleet. alpha=1 is
    # "yesterday's level x weekday factors"; small alphas average a week's noise away.
    volumes, weekday = daily_fleet(args.meters, args.days, seed=args.seeds[0])
    out.write("\nalpha  model MAE  model MAPE  (first fleet)\n")
    for alpha in (0.03, 0.1, 0.3, 1.0):
        result = backtest(volumes, weekday, model=WeeklyLevelForecaster(alpha=alpha))
        out.write(f"{alpha:<5}  {result.model.mae_l:>7.1f} L  {result.model.mape:>10.1%}\n")
    return 0 if beaten else 1


if __name__ == "__main__":
    raise SystemExit(main())
