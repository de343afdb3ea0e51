import numpy as np

from analytics.forecast.features import weekday_profile, weekdays


class TestWeekdays:
    def test_monday_is_zero(self):
        assert list(weekdays(np.array(["2026-11-23", "2026-11-29"], dtype="datetime64[D]"))) == [
            0,
            6,
        ]

    def test_profile_ignores_absent_days(self):
        daily = np.array([100, 100, 100, 100, 100, 200, 0, 100, 100, 100, 100, 100, 200, 200.0])
        profile = weekday_profile(daily, np.arange(14) % 7)
        assert profile[5] == profile[6] == 2 * profile[0]
