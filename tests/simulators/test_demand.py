import numpy as np
import pytest

from simulators.demand import SECONDS_PER_DAY, HouseholdDemand, is_weekend

METERS = np.arange(1, 501, dtype=np.int64)
WEEKDAY, WEEKEND = 100, 102  # 2025-04-11 (Friday), 2025-04-13 (Sunday)


@pytest.fixture(scope="module")
def demand():
    return HouseholdDemand(METERS, seed=7)


class TestHouseholds:
    def test_occupants_between_one_and_eight_with_a_realistic_mean(self, demand):
        assert demand.occupants.min() == 1
        assert demand.occupants.max() == 8
        assert 3.8 < demand.occupants.mean() < 5.2

    def test_per_capita_use_in_the_plausible_range(self, demand):
        assert demand.per_capita_l.min() >= 40
        assert demand.per_capita_l.max() <= 150
        assert 60 < np.median(demand.per_capita_l) < 95


class TestDailyTotals:
    def test_mean_daily_use_per_occupant_is_plausible(self, demand):
        totals = demand.daily_totals_ml(np.arange(WEEKDAY, WEEKDAY + 28))
        per_occupant = totals.mean(axis=1) / 1000 / demand.occupants
        assert per_occupant.min() > 35
        assert per_occupant.max() < 175

    def test_weekend_days_use_more_than_weekdays(self, demand):
        days = np.arange(WEEKDAY, WEEKDAY + 28)
        totals = demand.daily_totals_ml(days).sum(axis=0)
        weekend = is_weekend(days)
        assert totals[weekend].mean() > 1.05 * totals[~weekend].mean()

    def test_cumulative_volume_is_the_sum_of_daily_totals(self, demand):
        expected = demand.daily_totals_ml(np.arange(0, 130)).sum(axis=1)
        assert np.array_equal(demand.cumulative_ml_before(130, chunk_days=17), expected)


class TestDaySteps:
    def test_steps_add_up_to_the_day_total_exactly(self, demand):
        steps = demand.day_steps_ml(WEEKDAY, 900)
        assert steps.shape == (len(METERS), SECONDS_PER_DAY // 900)
        assert steps.min() >= 0
        assert np.array_equal(steps.sum(axis=1), demand.daily_totals_ml(np.array([WEEKDAY]))[:, 0])

    def test_night_is_near_zero_and_peaks_are_morning_and_evening(self, demand):
        hourly = demand.day_steps_ml(WEEKDAY, 3600).sum(axis=0).astype(float)
        share = hourly / hourly.sum()
        assert share[1:5].sum() < 0.02
        assert int(np.argmax(share[:12])) in range(6, 9)
        assert int(np.argmax(share[12:])) + 12 in range(17, 21)

    def test_weekend_morning_peak_comes_later(self, demand):
        weekday = demand.day_steps_ml(WEEKDAY, 3600).sum(axis=0)
        weekend = demand.day_steps_ml(WEEKEND, 3600).sum(axis=0)
        assert np.argmax(weekend[:12]) > np.argmax(weekday[:12])

    def test_a_household_uses_water_in_discrete_events(self, demand):
        steps = demand.day_steps_ml(WEEKDAY, 60)
        idle = (steps == 0).mean(axis=1)
        # Most minutes of a household's day see no water at all; a smooth curve would have none.
        assert np.median(idle) > 0.7

    def test_same_seed_same_series_different_seed_different(self, demand):
        again = HouseholdDemand(METERS, seed=7).day_steps_ml(WEEKDAY, 3600)
        other = HouseholdDemand(METERS, seed=8).day_steps_ml(WEEKDAY, 3600)
        assert np.array_equal(again, demand.day_steps_ml(WEEKDAY, 3600))
        assert not np.array_equal(other, again)

    def test_a_meter_series_does_not_depend_on_the_other_meters(self, demand):
        subset = METERS[3::7]
        alone = HouseholdDemand(subset, seed=7).day_steps_ml(WEEKDAY, 3600)
        assert np.array_equal(alone, demand.day_steps_ml(WEEKDAY, 3600)[3::7])

    def test_a_step_that_does_not_divide_a_day_is_refused(self, demand):
        with pytest.raises(ValueError, match="does not divide a day"):
            demand.day_steps_ml(WEEKDAY, 7)
