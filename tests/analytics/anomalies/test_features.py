import numpy as np

from analytics.anomalies.detectors.burst import BurstDetector
from analytics.anomalies.features import daily_features, runs, without_absent_days
from tests.analytics.synthetic import household, series


class TestDailyFeatures:
    def test_totals_zero_hours_and_night_minimum_per_day(self):
        volumes = np.zeros(48)
        volumes[24:48] = 5
        volumes[24 + 7] = 100
        days = daily_features(series(volumes))
        assert list(days.total_l) == [0, 23 * 5 + 100]
        assert list(days.zero_hours) == [24, 0]
        assert list(days.night_min_lph) == [0, 5]
        assert list(days.hours_covered) == [24, 24]

    def test_a_missing_hour_makes_the_total_and_night_unknown_not_zero(self):
        volumes = np.full(24, 3.0)
        volumes[2] = np.nan
        days = daily_features(series(volumes))
        assert np.isnan(days.total_l[0])
        assert np.isnan(days.night_min_lph[0])
        assert days.hours_covered[0] == 23


class TestAbsentDays:
    def test_a_baseline_learned_with_a_fortnight_away_is_the_familys(self):
        home = household(28, seed=4)
        away = home.copy()
        away[7 * 24 : 21 * 24] = 0
        present = without_absent_days(series(away), absent_day_l=20)
        assert np.isnan(present.volume_l[7 * 24 : 21 * 24]).all()
        assert (present.volume_l[: 7 * 24] == away[: 7 * 24]).all()
        with_zeros = BurstDetector().fit(series(away)).usual_peak_lph_
        without = BurstDetector().fit(present).usual_peak_lph_
        family = BurstDetector().fit(series(np.concatenate((home[: 7 * 24], home[21 * 24 :]))))
        assert without == family.usual_peak_lph_
        assert without > with_zeros

    def test_a_day_with_a_little_use_is_not_absent(self):
        volumes = np.zeros(48)
        volumes[30] = 25
        present = without_absent_days(series(volumes), absent_day_l=20)
        assert np.isnan(present.volume_l[:24]).all()
        assert present.volume_l[30] == 25


class TestRuns:
    def test_half_open_ranges_of_consecutive_true(self):
        assert runs(np.array([1, 1, 0, 1, 0, 0, 1], dtype=bool)) == [(0, 2), (3, 4), (6, 7)]
        assert runs(np.zeros(3, dtype=bool)) == []
