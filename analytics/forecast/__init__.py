"""Daily consumption forecasts (estimator, backtest, synthetic fleets) and the per-meter service."""
