import numpy as np
import pytest
from sklearn.base import clone

from analytics.forecast.backtest import backtest
from analytics.forecast.forecaster import WeeklyLevelForecaster, seasonal_naive
from analytics.forecast.synthetic import daily_fleet


class TestBacktest:
    def test_the_model_beats_same_day_last_week_on_a_seeded_fleet(self):
        volumes, weekday = daily_fleet(60, 182, seed=11)
        result = backtest(volumes, weekday, model=WeeklyLevelForecaster(), step=14)
        assert result.forecasts == 60 * len(range(56, 182 - 30 + 1, 14))
        assert result.model.mae_l < 0.85 * result.baseline.mae_l
        assert result.model.mape < 0.85 * result.baseline.mape
        assert result.model.coverage is not None
        assert 0.65 < result.model.coverage < 0.95


class TestWeeklyLevelForecaster:
    def test_clone_keeps_hyperparameters_and_fit_returns_self(self):
        model = WeeklyLevelForecaster(alpha=0.2, coverage=0.9)
        copy = clone(model)
        assert copy.get_params() == model.get_params()
        assert vars(copy) == copy.get_params()
        weekday = np.arange(70) % 7
        assert copy.fit(weekday[:, None], np.full(70, 300.0)) is copy
        learned = set(vars(copy)) - set(copy.get_params())
        assert learned
        assert all(name.endswith("_") for name in learned)

    def test_learns_the_weekly_shape_and_the_level(self):
        weekday = np.arange(84) % 7
        shape = np.array([1, 1, 1, 1, 1, 1.5, 1.5])
        volumes = 200 * shape[weekday]
        model = WeeklyLevelForecaster(shrinkage=0.0).fit(weekday[:, None], volumes)
        forecast = model.predict(np.arange(7)[:, None])
        assert forecast[5] / forecast[0] == pytest.approx(1.5)
        assert forecast.mean() == pytest.approx(volumes.mean(), rel=0.01)

    def test_a_holiday_neither_drags_the_level_to_zero_nor_narrows_to_nothing(self):
        weekday = np.arange(84) % 7
        volumes = np.random.default_rng(1).normal(400, 40, 84)
        volumes[-10:] = 0
        model = WeeklyLevelForecaster().fit(weekday[:, None], volumes)
        low, high = model.predict_interval(weekday[:7, None])
        assert model.predict(weekday[:7, None]).mean() == pytest.approx(400, rel=0.1)
        assert (low < model.predict(weekday[:7, None])).all()
        assert (high > model.predict(weekday[:7, None])).all()


class TestSeasonalNaive:
    def test_repeats_the_last_week(self):
        history = np.arange(14, dtype=float)
        assert list(seasonal_naive(history, 9)) == [7, 8, 9, 10, 11, 12, 13, 7, 8]
